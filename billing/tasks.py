"""django-q2 entry points for billing (thin: they take ids and call a service)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

STATEMENTS_SCHEDULE_NAME = "billing.statements_monthly"


def low_balance_alert_send(tenant_id: int) -> int:
    from billing import services
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    return services.low_balance_alert_send(tenant=tenant) if tenant else 0


def statements_monthly_run() -> str:
    from billing import services

    return f"statements={services.statements_monthly_run()}"


def statement_regenerate(tenant_id: int, year: int, month: int, email: bool = False) -> str:
    from billing import services
    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    statement = services.statement_generate(tenant=tenant, year=year, month=month)
    if email:
        services.statement_email(statement=statement)
    return f"statement {statement.pk} revision {statement.revision}"


def ensure_schedules() -> None:
    """Idempotent. Runs daily at 00:30 (platform time zone): on the 1st it produces last month's
    statements; the later days only catch tenants in later time zones or a failed run, since a
    month that already has a statement is skipped."""
    from django_q.models import Schedule

    zone = ZoneInfo(settings.DEFAULT_TENANT_TIMEZONE)
    now = timezone.localtime(timezone.now(), zone)
    next_run = datetime.combine(now.date(), time(0, 30), zone)
    if next_run <= now:
        next_run += timedelta(days=1)
    schedule = Schedule.objects.filter(name=STATEMENTS_SCHEDULE_NAME).first()
    fields = {
        "func": "billing.tasks.statements_monthly_run",
        "schedule_type": Schedule.DAILY,
        "repeats": -1,
        "cluster": "bulk",
    }
    if schedule is None:
        Schedule.objects.create(name=STATEMENTS_SCHEDULE_NAME, next_run=next_run, **fields)
    else:
        Schedule.objects.filter(pk=schedule.pk).update(**fields)
