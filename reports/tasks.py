"""django-q2 entry points: thin, they take ids and call services."""

from __future__ import annotations

import logging

from django.utils import timezone

logger = logging.getLogger(__name__)


def refresh_rollups() -> int:
    from reports.rollups import rollup_refresh

    return rollup_refresh()


def monthly_reports(year: int | None = None, month: int | None = None) -> int:
    """On the 1st: last month's report for every active tenant, stored and emailed."""
    from reports.monthly import previous_month
    from tenants.models import Tenant

    if year is None or month is None:
        first = previous_month(timezone.localdate().replace(day=1))
        year, month = first.year, first.month
    done = 0
    for tenant_id in Tenant.objects.filter(status=Tenant.Status.ACTIVE).values_list("pk", flat=True):
        try:
            monthly_report_for_tenant(tenant_id, year, month)
            done += 1
        except Exception:  # one tenant's failure must not stop the others' reports
            logger.exception("monthly report failed for tenant %s %s-%s", tenant_id, year, month)
    return done


def monthly_report_for_tenant(tenant_id: int, year: int, month: int) -> None:
    from reports.services import quality_report_email, quality_report_generate
    from tenants.models import Tenant

    tenant = Tenant.objects.get(pk=tenant_id)
    report = quality_report_generate(tenant=tenant, year=year, month=month)
    quality_report_email(report=report)


def ensure_schedules() -> None:
    from datetime import datetime, time, timedelta
    from zoneinfo import ZoneInfo

    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name="reports.refresh_rollups",
        defaults={
            "func": "reports.tasks.refresh_rollups",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "cluster": "bulk",
        },
    )
    # 03:00 Asia/Shanghai on the 1st, after billing's statements.
    zone = ZoneInfo("Asia/Shanghai")
    today = timezone.now().astimezone(zone).date()
    first_next = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    next_run = datetime.combine(first_next, time(3, 0), zone)
    schedule, created = Schedule.objects.get_or_create(
        name="reports.monthly_reports",
        defaults={
            "func": "reports.tasks.monthly_reports",
            "schedule_type": Schedule.MONTHLY,
            "repeats": -1,
            "next_run": next_run,
            "cluster": "bulk",
        },
    )
    if not created and schedule.func != "reports.tasks.monthly_reports":
        schedule.func = "reports.tasks.monthly_reports"
        schedule.save(update_fields=["func"])
