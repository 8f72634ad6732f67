"""Factories for SMPP channels and for messages handed to the SMPP connector."""

from __future__ import annotations

import factory

from messaging.models import Channel
from smsportal.enums import MessageStatus
from smsportal.factories.messaging import ChannelFactory, MessageFactory
from templates.segments import count_segments


def smpp_settings(port: int, **overrides) -> dict:
    settings = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": "esme",
        "password": "secret",
        "bind_mode": "transceiver",
        "binds": 1,
        "window": 10,
        "source_addr": "10690001",
        "enquire_link_seconds": 30,
        "response_timeout_seconds": 5,
    }
    settings.update(overrides)
    return settings


class SmppChannelFactory(ChannelFactory):
    """An SMPP channel pointing at a local test SMSC (pass `settings=smpp_settings(port)`)."""

    name = factory.Sequence(lambda n: f"smpp-channel-{n}")
    adapter = Channel.Adapter.SMPP
    settings = factory.LazyFunction(lambda: smpp_settings(2775))


class HandedOffMessageFactory(MessageFactory):
    """A message the dispatcher routed to an SMPP channel: `submitting`, lease_until NULL."""

    status = MessageStatus.SUBMITTING
    lease_until = None
    segments = factory.LazyAttribute(lambda o: max(1, count_segments(o.body).segments))
    submit_attempts = 1
