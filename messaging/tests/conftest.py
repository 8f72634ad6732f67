import pytest

from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, ready_to_send


@pytest.fixture
def channel(db):
    """Serves everything; its receipts come ~20 s after submit, i.e. only when a test says."""
    return ChannelFactory(
        name="sim-all",
        settings={
            "seed": 7,
            "failure_scale": 0,
            "duplicate_rate": 0,
            "lost_rate": 0,
            "reply_rate": 0,
            "latency_median_ms": 20000,
            "latency_sigma": 0.01,
        },
    )


@pytest.fixture
def code_template(tenant):
    return ready_to_send(tenant, kind=MessageClass.VERIFICATION)


@pytest.fixture
def marketing_template(tenant):
    return ready_to_send(tenant, kind=MessageClass.MARKETING, balance="", body="双十一全场五折，回T退订", variables=[])
