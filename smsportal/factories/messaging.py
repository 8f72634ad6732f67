"""Factories for the messaging app: channels, messages, a ready-to-send set-up."""

from __future__ import annotations

import factory
from django.utils import timezone

from messaging.models import PRIORITY_BY_CLASS, Channel, Message, lane_for
from smsportal.enums import Carrier, MessageClass, MessageStatus

ALL_CARRIERS = [Carrier.MOBILE, Carrier.UNICOM, Carrier.TELECOM, Carrier.BROADNET]


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"sim-channel-{n}")
    adapter = Channel.Adapter.SIMULATED
    carriers = factory.LazyFunction(lambda: [str(c) for c in ALL_CARRIERS])
    provinces = factory.LazyFunction(list)
    message_classes = factory.LazyFunction(lambda: list(MessageClass.values))
    rate_limit = 100000
    batch_size = 500
    weight = 100
    receipt_timeout_seconds = 600
    # Quiet by default: no random failures, duplicates or lost receipts unless a test asks.
    settings = factory.LazyFunction(
        lambda: {
            "seed": 7,
            "failure_scale": 0,
            "duplicate_rate": 0,
            "lost_rate": 0,
            "reply_rate": 0,
            "latency_median_ms": 1,
        }
    )


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    tenant = factory.SubFactory("smsportal.factories.tenants.TenantFactory")
    number = factory.Sequence(lambda n: f"+86138{n % 100000000:08d}")
    carrier = Carrier.MOBILE
    province = "北京市"
    message_class = MessageClass.NOTIFICATION
    lane = factory.LazyAttribute(lambda o: lane_for(o.message_class))
    priority = factory.LazyAttribute(lambda o: PRIORITY_BY_CLASS[o.message_class])
    body = "【测试】您的订单已发货。"
    segments = 1
    status = MessageStatus.QUEUED
    accepted_at = factory.LazyFunction(timezone.now)


def ready_to_send(tenant, *, kind=MessageClass.VERIFICATION, balance="1000", body=None, variables=None):
    """An approved template, money on the account; returns the template."""
    from smsportal.factories.billing import fund
    from smsportal.factories.templates import approved_template

    if balance:
        fund(tenant, balance)
    kwargs = {}
    if body is not None:
        kwargs["body"] = body
        kwargs["variables"] = variables or []
    return approved_template(tenant=tenant, kind=kind, **kwargs)


def insert_messages(tenant, count: int, *, number_prefix: str = "+86139", status: str = MessageStatus.QUEUED) -> None:
    """`count` marketing messages for `tenant` in one INSERT … SELECT (numbers prefix + 1…count,
    zero-padded to 8 digits): a backlog or a history too big for the factory's row-by-row saves."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_message (tenant_id, created_at, updated_at, number, carrier, province,
                message_class, lane, priority, body, segments, status, failure_reason, failure_detail, raw_status,
                channel_ref, route_reason, tried_channel_ids, submit_attempts, client_ref, accepted_at,
                parts_delivered_mask, parts_failed_mask)
            SELECT %s, now(), now(), %s || lpad(g::text, 8, '0'), 'mobile', '北京市', 'marketing', 'bulk', 9,
                   '【测试】双十一全场五折，回T退订', 1, %s, '', '', '', '', '', '{}', 0, 'backlog', now(), 0, 0
            FROM generate_series(1, %s) g
            """,
            [tenant.pk, number_prefix, status, count],
        )
