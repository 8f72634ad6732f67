"""django-q2 entry points for compliance (thin: ids in, a service call out)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

RETENTION_SCHEDULE_NAME = "compliance.retention_purge"


def retention_purge_task() -> dict:
    from compliance.retention import retention_purge_all

    results = retention_purge_all()
    return {str(k): {"messages": v.messages, "replies": v.replies} for k, v in results.items()}


def consent_import_validate_task(import_id: int) -> None:
    from compliance.imports import consent_import_validate

    consent_import_validate(import_id=import_id)


def consent_import_apply_task(import_id: int) -> None:
    from compliance.imports import consent_import_apply

    consent_import_apply(import_id=import_id)


def ensure_schedules() -> None:
    """Daily retention purge at 03:30 Beijing time on the bulk lane; idempotent."""
    from django_q.models import Schedule

    beijing = ZoneInfo("Asia/Shanghai")
    today = timezone.now().astimezone(beijing).date()
    first_run = datetime.combine(today + timedelta(days=1), time(3, 30), tzinfo=beijing)
    schedule = Schedule.objects.filter(name=RETENTION_SCHEDULE_NAME).first()
    values = {"func": "compliance.tasks.retention_purge_task", "schedule_type": Schedule.DAILY, "cluster": "bulk"}
    if schedule is None:
        Schedule.objects.create(name=RETENTION_SCHEDULE_NAME, next_run=first_run, repeats=-1, **values)
    else:
        changed = [k for k, v in values.items() if getattr(schedule, k) != v]
        for key in changed:
            setattr(schedule, key, values[key])
        if changed:
            schedule.save(update_fields=changed)
