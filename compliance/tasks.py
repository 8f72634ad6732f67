"""django-q2 entry points for compliance (thin: ids in, a service call out)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

RETENTION_SCHEDULE_NAME = "compliance.retention_purge"


def retention_purge_task() -> dict:
    from compliance.retention import retention_purge_all

    results = retention_purge_all()
    return {str(k): v.as_dict() for k, v in results.items()}


COMPLAINT_SCHEDULE_NAME = "compliance.complaint_overdue_notify"


def complaint_overdue_task() -> int:
    from compliance.services import complaint_overdue_notify

    return complaint_overdue_notify()


def consent_import_validate_task(import_id: int) -> None:
    from compliance.imports import consent_import_validate

    consent_import_validate(import_id=import_id)


def consent_import_apply_task(import_id: int) -> None:
    from compliance.imports import consent_import_apply

    consent_import_apply(import_id=import_id)


def _ensure(name: str, first_run: datetime, values: dict) -> None:
    from django_q.models import Schedule

    schedule = Schedule.objects.filter(name=name).first()
    if schedule is None:
        Schedule.objects.create(name=name, next_run=first_run, repeats=-1, **values)
        return
    changed = [k for k, v in values.items() if getattr(schedule, k) != v]
    for key in changed:
        setattr(schedule, key, values[key])
    if changed:
        schedule.save(update_fields=changed)


def ensure_schedules() -> None:
    """Daily retention purge at 03:30 Beijing time and an hourly complaint-deadline check,
    both on the bulk lane; idempotent (called by `manage.py ensure_schedules`)."""
    from django_q.models import Schedule

    beijing = ZoneInfo("Asia/Shanghai")
    today = timezone.now().astimezone(beijing).date()
    _ensure(
        RETENTION_SCHEDULE_NAME,
        datetime.combine(today + timedelta(days=1), time(3, 30), tzinfo=beijing),
        {"func": "compliance.tasks.retention_purge_task", "schedule_type": Schedule.DAILY, "cluster": "bulk"},
    )
    _ensure(
        COMPLAINT_SCHEDULE_NAME,
        timezone.now() + timedelta(minutes=5),
        {"func": "compliance.tasks.complaint_overdue_task", "schedule_type": Schedule.HOURLY, "cluster": "bulk"},
    )
