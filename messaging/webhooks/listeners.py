"""Turns pipeline events into outbox rows. Registered with messaging.events from
WebhooksConfig.ready(); set-based: a batch of status changes costs one subscription query,
and for tenants that subscribe one message query, a COPY and one INSERT … SELECT."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from messaging.webhooks.models import EventType, WebhookEndpoint
from messaging.webhooks.services import EventSpec, webhook_events_enqueue
from smsportal.enums import MessageStatus

EVENT_FOR_STATUS = {
    MessageStatus.DELIVERED: EventType.MESSAGE_DELIVERED,
    MessageStatus.FAILED: EventType.MESSAGE_FAILED,
    MessageStatus.EXPIRED: EventType.MESSAGE_EXPIRED,
    MessageStatus.REJECTED: EventType.MESSAGE_REJECTED,
}


def _subscribed(tenant_ids: Iterable[int]) -> dict[int, set[str]]:
    return {
        tenant_id: set(events)
        for tenant_id, events in WebhookEndpoint.objects.filter(
            tenant_id__in=list(tenant_ids), is_active=True
        ).values_list("tenant_id", "events")
    }


def message_payload(message: dict) -> dict:
    def iso(value):
        return value.isoformat() if value else None

    return {
        "message_id": message["id"],
        "client_ref": message["client_ref"],
        "number": message["number"],
        "status": message["status"],
        "failure_reason": message["failure_reason"],
        "raw_status": message["raw_status"],
        "message_class": message["message_class"],
        "segments": message["segments"],
        "campaign_id": message["campaign_id"],
        "accepted_at": iso(message["accepted_at"]),
        "submitted_at": iso(message["submitted_at"]),
        "done_at": iso(message["done_at"]),
    }


def on_status_changes(changes: dict[int, list[tuple[int, str, str]]]) -> int:
    """messaging.events listener: {tenant_id: [(message_id, status, reason), ...]}."""
    from messaging.models import Message

    subscriptions = _subscribed(changes.keys())
    wanted: dict[int, str] = {}  # message id → event type
    tenant_of: dict[int, int] = {}
    for tenant_id, items in changes.items():
        events = subscriptions.get(tenant_id)
        if not events:
            continue
        for message_id, status, _reason in items:
            event_type = EVENT_FOR_STATUS.get(status)
            if event_type and event_type in events:
                wanted[message_id] = event_type
                tenant_of[message_id] = tenant_id
    if not wanted:
        return 0
    fields = [
        "id",
        "tenant_id",
        "client_ref",
        "number",
        "status",
        "failure_reason",
        "raw_status",
        "message_class",
        "segments",
        "campaign_id",
        "accepted_at",
        "submitted_at",
        "done_at",
    ]
    with connection.cursor() as cursor:
        # = ANY(array): one parameter instead of thousands of placeholders to parse.
        cursor.execute(
            f"SELECT {', '.join(fields)} FROM {Message._meta.db_table}"  # noqa: S608 - our own names
            " WHERE tenant_id = ANY(%s) AND id = ANY(%s)",
            [sorted(set(tenant_of.values())), list(wanted)],
        )
        rows = cursor.fetchall()
    specs = []
    for row in rows:
        message = dict(zip(fields, row, strict=True))
        if tenant_of.get(message["id"]) != message["tenant_id"]:
            continue
        specs.append(
            EventSpec(
                tenant_id=message["tenant_id"],
                event_type=wanted[message["id"]],
                payload=message_payload(message),
                subject=f"message:{message['id']}",
                message_id=message["id"],
            )
        )
    queued = webhook_events_enqueue(specs=specs)
    if queued:
        _kick()
    return queued


def _kick() -> None:
    # Tenants expect status callbacks within seconds, not at the next minute's schedule.
    from django.db import transaction

    from messaging.webhooks.tasks import kick_delivery

    transaction.on_commit(kick_delivery)


def on_inbound_received(inbound_ids: list[int]) -> int:
    """For the inbound path: queue `inbound.received` for the given InboundMessage ids."""
    from messaging.models import InboundMessage

    inbounds = list(
        InboundMessage.objects.filter(id__in=list(inbound_ids)).only(
            "id", "tenant_id", "number", "text", "extension", "received_at", "in_reply_to_id", "is_opt_out"
        )
    )
    subscriptions = _subscribed({inbound.tenant_id for inbound in inbounds})
    specs = [
        EventSpec(
            tenant_id=inbound.tenant_id,
            event_type=EventType.INBOUND_RECEIVED,
            payload={
                "inbound_id": inbound.id,
                "number": inbound.number,
                "text": inbound.text,
                "extension": inbound.extension,
                "received_at": inbound.received_at.isoformat(),
                "in_reply_to_message_id": inbound.in_reply_to_id,
                "is_opt_out": inbound.is_opt_out,
            },
            subject=f"inbound:{inbound.id}",
        )
        for inbound in inbounds
        if EventType.INBOUND_RECEIVED in subscriptions.get(inbound.tenant_id, ())
    ]
    queued = webhook_events_enqueue(specs=specs)
    if queued:
        _kick()
    return queued


INBOUND_CURSOR = "inbound"


def inbound_sweep(*, limit: int = 5000) -> int:
    """Queues `inbound.received` for replies stored since the last sweep, whichever path
    stored them (simulator, SMPP, HTTP callback). Event ids are stable, so a reply that was
    already queued directly is not queued twice. The first sweep starts at the newest reply:
    history is not replayed."""
    from django.db import transaction
    from django.db.models import Max

    from messaging.models import InboundMessage
    from messaging.webhooks.models import SweepCursor

    with transaction.atomic():
        cursor = SweepCursor.objects.select_for_update().filter(name=INBOUND_CURSOR).first()
        if cursor is None:
            newest = InboundMessage.objects.aggregate(newest=Max("id"))["newest"] or 0
            SweepCursor.objects.create(name=INBOUND_CURSOR, position=newest)
            return 0
        ids = list(
            InboundMessage.objects.filter(id__gt=cursor.position).order_by("id").values_list("id", flat=True)[:limit]
        )
        if not ids:
            return 0
        queued = on_inbound_received(ids)
        cursor.position = ids[-1]
        cursor.save(update_fields=["position", "updated_at"])
    return queued
