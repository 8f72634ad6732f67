"""Reads for tenant status webhooks."""

from __future__ import annotations

from django.db.models import QuerySet

from messaging.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent


def webhook_endpoint(*, tenant) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.for_tenant(tenant).first()


def webhook_event_list(*, tenant, status: str = "", event_type: str = "") -> QuerySet[WebhookEvent]:
    events = WebhookEvent.objects.for_tenant(tenant)
    if status:
        events = events.filter(status=status)
    if event_type:
        events = events.filter(event_type=event_type)
    return events.order_by("-created_at", "-id")


def webhook_event_get(*, tenant, event_id: int) -> WebhookEvent | None:
    return WebhookEvent.objects.for_tenant(tenant).filter(pk=event_id).first()


def webhook_attempt_list(*, tenant, event: WebhookEvent) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.for_tenant(tenant).filter(event=event).order_by("number", "id")


def webhook_recent_attempts(*, tenant, limit: int = 50) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.for_tenant(tenant).select_related("event").order_by("-attempted_at", "-id")[:limit]


def webhook_events_filter(
    events: QuerySet[WebhookEvent],
    *,
    status: str = "",
    event_type: str = "",
    message_id: int | None = None,
    since=None,
    until=None,
) -> QuerySet[WebhookEvent]:
    """Narrows an already tenant-scoped queryset of events (the API's filters)."""
    if status:
        events = events.filter(status=status)
    if event_type:
        events = events.filter(event_type=event_type)
    if message_id is not None:
        events = events.filter(message_id=message_id)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if until is not None:
        events = events.filter(created_at__lt=until)
    return events


def webhook_attempts_filter(
    attempts: QuerySet[WebhookAttempt],
    *,
    event_id: int | None = None,
    outcome: str = "",
    status_code: int | None = None,
    since=None,
    until=None,
) -> QuerySet[WebhookAttempt]:
    """Narrows an already tenant-scoped queryset of delivery attempts (the API's filters)."""
    if event_id is not None:
        attempts = attempts.filter(event_id=event_id)
    if outcome:
        attempts = attempts.filter(outcome=outcome)
    if status_code is not None:
        attempts = attempts.filter(status_code=status_code)
    if since is not None:
        attempts = attempts.filter(attempted_at__gte=since)
    if until is not None:
        attempts = attempts.filter(attempted_at__lt=until)
    return attempts.select_related("event")
