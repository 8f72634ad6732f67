"""django-q2 entry points for webhook delivery (thin: they call delivery.py)."""

from __future__ import annotations

from messaging.webhooks.delivery import deliver_until_idle

DELIVERY_SCHEDULE_NAME = "webhooks.deliver"
PRUNE_SCHEDULE_NAME = "webhooks.prune"
KEEP_DAYS = 30


DELIVERY_LOCK_KEY = 0x5D5_0101


def deliver_webhooks() -> str:
    """One delivery loop at a time (a PostgreSQL advisory lock): a kick that arrives while a
    loop runs returns at once instead of occupying another bulk worker."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [DELIVERY_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return "another delivery loop is running"
    try:
        from messaging.webhooks.listeners import inbound_sweep

        inbound_sweep()
        report = deliver_until_idle()
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DELIVERY_LOCK_KEY])
    return f"claimed={report.claimed} delivered={report.delivered} retrying={report.retrying} held={report.held}"


def prune_webhook_events() -> int:
    """Settled events (and their attempt logs) older than 30 days go; pending ones stay."""
    from datetime import timedelta

    from django.utils import timezone

    from messaging.webhooks.models import WebhookEvent

    deleted, _detail = (
        WebhookEvent.objects.exclude(status=WebhookEvent.Status.PENDING)
        .filter(created_at__lt=timezone.now() - timedelta(days=KEEP_DAYS))
        .delete()
    )
    return deleted


def ensure_schedules() -> None:
    """Idempotent: one schedule, every minute, on the bulk lane. Each run drains what is
    due for up to ~50 s, so retries are honoured to within about a second."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=DELIVERY_SCHEDULE_NAME,
        defaults={
            "func": "messaging.webhooks.tasks.deliver_webhooks",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "cluster": "bulk",
        },
    )
    Schedule.objects.update_or_create(
        name=PRUNE_SCHEDULE_NAME,
        defaults={
            "func": "messaging.webhooks.tasks.prune_webhook_events",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "cluster": "bulk",
        },
    )


def kick_delivery() -> None:
    """Starts a delivery run now instead of at the next minute (at most one kick every two seconds
    per process, so a stream of receipt batches does not flood the queue), e.g. after events
    are queued, a resend or a test event."""
    from django.core.cache import cache
    from django_q.tasks import async_task

    if cache.add("webhooks:kick", 1, timeout=2):
        async_task("messaging.webhooks.tasks.deliver_webhooks", cluster="bulk")
