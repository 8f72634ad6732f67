import pytest

from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, ready_to_send


@pytest.fixture
def channel(db):
    return ChannelFactory(name="sim-all")


@pytest.fixture
def code_template(tenant):
    return ready_to_send(tenant, kind=MessageClass.VERIFICATION)


@pytest.fixture
def marketing_template(tenant):
    return ready_to_send(tenant, kind=MessageClass.MARKETING, balance="", body="双十一全场五折，回T退订", variables=[])
