"""django-q2 entry points for webhook delivery (thin: they call delivery.py)."""

from __future__ import annotations

from messaging.webhooks.delivery import deliver_until_idle

DELIVERY_SCHEDULE_NAME = "webhooks.deliver"


def deliver_webhooks() -> str:
    report = deliver_until_idle()
    return f"claimed={report.claimed} delivered={report.delivered} retrying={report.retrying} gave_up={report.gave_up}"


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


def kick_delivery() -> None:
    """Starts a delivery run now instead of at the next minute (at most one kick per second
    per process), e.g. after a resend or a test event."""
    from django.core.cache import cache
    from django_q.tasks import async_task

    if cache.add("webhooks:kick", 1, timeout=1):
        async_task("messaging.webhooks.tasks.deliver_webhooks", cluster="bulk")
