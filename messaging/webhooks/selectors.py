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
