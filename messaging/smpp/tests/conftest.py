"""A real SMSC on 127.0.0.1 (messaging.smpp.testserver) and a connector bound to it."""

from __future__ import annotations

import time

import pytest

from messaging.smpp.connector import Connector
from messaging.smpp.testserver import SmscThread
from smsportal.factories.smpp import SmppChannelFactory, smpp_settings


@pytest.fixture
def smsc():
    with SmscThread(accounts={"esme": "secret"}) as server:
        yield server


@pytest.fixture
def smpp_channel(db, smsc):
    return SmppChannelFactory(settings=smpp_settings(smsc.port, binds=2, window=10))


@pytest.fixture
def make_connector(db):
    made = []

    def make(**kwargs):
        connector = Connector(**kwargs)
        connector.refresh_channels()
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()


def run_until(connector, condition, *, limit: float = 20.0, what: str = "the condition"):
    """Step the connector until `condition()` holds; a generous guard, not a timing assertion."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        connector.step(0.02)
        if condition():
            connector.step(0.0)
            return
    raise AssertionError(f"gave up waiting for {what}")
