"""Writes for tenant status webhooks. Each service is one transaction."""

from __future__ import annotations

import ipaddress
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from messaging.webhooks import crypto
from messaging.webhooks.models import SUBSCRIBABLE_EVENTS, EventType, WebhookEndpoint, WebhookEvent
from smsportal.errors import NotFound, ServiceError

SECRET_PREFIX = "whsec_"
# Namespace for event ids derived from (tenant, type, subject): the same status change always
# gets the same id, so a listener called twice inserts it once.
EVENT_ID_NAMESPACE = uuid.UUID("3b0c8a52-5f55-4a4e-9c39-2f0f4f0d6b11")


def retry_window() -> timedelta:
    return timedelta(hours=getattr(settings, "WEBHOOK_RETRY_HOURS", 24))


def rotation_grace() -> timedelta:
    return timedelta(hours=getattr(settings, "WEBHOOK_ROTATION_GRACE_HOURS", 24))


def private_urls_allowed() -> bool:
    return getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", False)


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ServiceError("invalid_url", _("Enter a full http(s) URL."), field="url")
    if not private_urls_allowed():
        if parsed.scheme != "https":
            raise ServiceError("https_required", _("The endpoint must use https."), field="url")
        try:
            address = ipaddress.ip_address(parsed.hostname)
        except ValueError:
            address = None
        if parsed.hostname == "localhost" or (address is not None and not address.is_global):
            raise ServiceError("private_url", _("The endpoint must be reachable on the internet."), field="url")
    return url


def _clean_events(events: list[str]) -> list[str]:
    allowed = {value for value, _label in SUBSCRIBABLE_EVENTS}
    unknown = sorted(set(events) - allowed)
    if unknown:
        raise ServiceError("unknown_event", _("Unknown event type: %s") % ", ".join(unknown), field="events")
    if not events:
        raise ServiceError("events_required", _("Choose at least one event."), field="events")
    return sorted(set(events))


@transaction.atomic
def webhook_endpoint_save(
    *, tenant, actor, url: str, events: list[str], is_active: bool = True
) -> tuple[WebhookEndpoint, str | None]:
    """Creates or updates the tenant's endpoint. Returns the new secret (to show once) when
    the endpoint is created, else None."""
    url = _clean_url(url)
    events = _clean_events(events)
    endpoint = WebhookEndpoint.objects.for_tenant(tenant).select_for_update().first()
    new_secret = None
    if endpoint is None:
        new_secret = _new_secret()
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant,
            url=url,
            events=events,
            is_active=is_active,
            secret_sealed=crypto.seal(new_secret),
            secret_hint=crypto.hint(new_secret),
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="webhook.created",
            obj=endpoint,
            after={"url": url, "events": events, "is_active": is_active},
        )
        return endpoint, new_secret
    before = {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active}
    endpoint.url, endpoint.events, endpoint.is_active = url, events, is_active
    endpoint.save()
    after = {"url": url, "events": events, "is_active": is_active}
    if before != after:
        audit_record(tenant=tenant, actor=actor, action="webhook.updated", obj=endpoint, before=before, after=after)
    return endpoint, None


@transaction.atomic
def webhook_secret_rotate(*, tenant, actor, now: datetime | None = None) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the old one keeps signing too (a second `v1=`) for the
    grace period, so receivers can switch without losing events."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.for_tenant(tenant).select_for_update().first()
    if endpoint is None:
        raise NotFound("webhook_not_configured", _("Configure the webhook endpoint first."))
    new_secret = _new_secret()
    endpoint.previous_secret_sealed = endpoint.secret_sealed
    endpoint.previous_secret_hint = endpoint.secret_hint
    endpoint.previous_secret_valid_until = now + rotation_grace()
    endpoint.secret_sealed = crypto.seal(new_secret)
    endpoint.secret_hint = crypto.hint(new_secret)
    endpoint.secret_rotated_at = now
    endpoint.save()
    audit_record(
        tenant=tenant,
        actor=actor,
        action="webhook.secret_rotated",
        obj=endpoint,
        after={
            "secret": endpoint.secret_hint,
            "previous_valid_until": endpoint.previous_secret_valid_until.isoformat(),
        },
    )
    return endpoint, new_secret


@transaction.atomic
def webhook_rotation_finish(*, tenant, actor) -> WebhookEndpoint:
    """Stops signing with the previous secret now, before the grace period ends."""
    endpoint = WebhookEndpoint.objects.for_tenant(tenant).select_for_update().first()
    if endpoint is None:
        raise NotFound("webhook_not_configured", _("Configure the webhook endpoint first."))
    if endpoint.previous_secret_sealed:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="webhook.previous_secret_revoked",
            obj=endpoint,
            before={"secret": endpoint.previous_secret_hint},
        )
    endpoint.previous_secret_sealed = ""
    endpoint.previous_secret_hint = ""
    endpoint.previous_secret_valid_until = None
    endpoint.save()
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, *, now: datetime | None = None) -> list[str]:
    """Newest first; the previous secret only while its grace period lasts."""
    now = now or timezone.now()
    found = [crypto.unseal(endpoint.secret_sealed)]
    if (
        endpoint.previous_secret_sealed
        and endpoint.previous_secret_valid_until
        and endpoint.previous_secret_valid_until > now
    ):
        found.append(crypto.unseal(endpoint.previous_secret_sealed))
    return found


@transaction.atomic
def webhook_event_resend(*, tenant, actor, event_id: int, now: datetime | None = None) -> WebhookEvent:
    """Queues the event again at once, with the same event id (receivers may deduplicate) and
    a fresh retry window."""
    now = now or timezone.now()
    event = WebhookEvent.objects.for_tenant(tenant).select_for_update().filter(pk=event_id).first()
    if event is None:
        raise NotFound("webhook_event_not_found", _("No such webhook event."))
    event.status = WebhookEvent.Status.PENDING
    event.next_attempt_at = now
    event.give_up_at = now + retry_window()
    event.resent_at = now
    event.resent_by = actor if getattr(actor, "pk", None) else None
    event.save()
    return event


RESEND_FAILED_DAYS = 7


@transaction.atomic
def webhook_events_resend_failed(*, tenant, actor, now: datetime | None = None) -> int:
    """After an outage longer than the retry window: every event of the last 7 days that gave
    up is queued again, in one UPDATE. Returns how many."""
    now = now or timezone.now()
    count = (
        WebhookEvent.objects.for_tenant(tenant)
        .filter(status=WebhookEvent.Status.FAILED, created_at__gte=now - timedelta(days=RESEND_FAILED_DAYS))
        .update(
            status=WebhookEvent.Status.PENDING,
            next_attempt_at=now,
            give_up_at=now + retry_window(),
            resent_at=now,
            resent_by=actor if getattr(actor, "pk", None) else None,
            updated_at=now,
        )
    )
    if count:
        audit_record(tenant=tenant, actor=actor, action="webhook.failed_resent", after={"events": count})
    return count


@transaction.atomic
def webhook_test_send(*, tenant, actor, now: datetime | None = None) -> WebhookEvent:
    """Queues a `webhook.test` event so the tenant can check its receiver."""
    now = now or timezone.now()
    endpoint = WebhookEndpoint.objects.for_tenant(tenant).first()
    if endpoint is None:
        raise NotFound("webhook_not_configured", _("Configure the webhook endpoint first."))
    return WebhookEvent.objects.create(
        tenant=tenant,
        endpoint=endpoint,
        event_type=EventType.TEST,
        payload={"message": "Hello from smsportal", "requested_by": getattr(actor, "email", "")},
        next_attempt_at=now,
        give_up_at=now + retry_window(),
        created_at=now,
    )


@dataclass(frozen=True)
class EventSpec:
    """One thing that happened, for the outbox. `subject` makes the event id stable (e.g.
    the message id): the same (tenant, type, subject) is only ever queued once."""

    tenant_id: int
    event_type: str
    payload: dict
    subject: str
    message_id: int | None = None


def stable_event_id(tenant_id: int, event_type: str, subject: str) -> uuid.UUID:
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{tenant_id}:{event_type}:{subject}")


STAGE_TABLE = "webhook_event_stage"


def webhook_events_enqueue(*, specs: list[EventSpec], now: datetime | None = None) -> int:
    """Turns events into outbox rows for the tenants subscribed to them: one query for the
    endpoints, then COPY into a session-local staging table and ONE INSERT … SELECT … ON
    CONFLICT DO NOTHING (a repeated event is ignored). Set-based because it sits on the
    receipts path (Django's bulk_create measured ~1 s per 5,000 rows here; COPY is ~20×
    faster). Returns the number of events offered to subscribed endpoints."""
    if not specs:
        return 0
    now = now or timezone.now()
    tenant_ids = {spec.tenant_id for spec in specs}
    endpoints = {
        tenant_id: (endpoint_id, set(events))
        for tenant_id, endpoint_id, events in WebhookEndpoint.objects.filter(
            tenant_id__in=tenant_ids, is_active=True
        ).values_list("tenant_id", "id", "events")
    }
    give_up_at = now + retry_window()
    rows = []
    for spec in specs:
        endpoint = endpoints.get(spec.tenant_id)
        if endpoint is None or spec.event_type not in endpoint[1]:
            continue
        rows.append(
            (
                spec.tenant_id,
                endpoint[0],
                stable_event_id(spec.tenant_id, spec.event_type, spec.subject),
                spec.event_type,
                json.dumps(spec.payload, ensure_ascii=False, cls=DjangoJSONEncoder),
                spec.message_id,
            )
        )
    if not rows:
        return 0
    table = WebhookEvent._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TEMP TABLE IF NOT EXISTS {STAGE_TABLE} (
                    tenant_id bigint, endpoint_id bigint, event_id uuid, event_type text, payload jsonb,
                    message_id bigint) ON COMMIT DELETE ROWS"""
        )
        with cursor.copy(
            f"COPY {STAGE_TABLE} (tenant_id, endpoint_id, event_id, event_type, payload, message_id) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"""
            INSERT INTO {table} (tenant_id, endpoint_id, event_id, event_type, payload, message_id, status,
                                 attempts, next_attempt_at, give_up_at, created_at, updated_at)
            SELECT tenant_id, endpoint_id, event_id, event_type, payload, message_id, 'pending',
                   0, %s, %s, %s, %s
              FROM {STAGE_TABLE}
            ON CONFLICT (tenant_id, event_id) DO NOTHING
            """,  # noqa: S608 - table names are ours; values are placeholders
            [now, give_up_at, now, now],
        )
        # Inside an outer transaction the staging rows would live on until its commit.
        cursor.execute(f"DELETE FROM {STAGE_TABLE}")  # noqa: S608
    return len(rows)
