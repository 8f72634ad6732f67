"""django-q2 entry points for the round-the-clock watch (thin: they call services)."""

from __future__ import annotations

from datetime import timedelta

WATCH_SCHEDULE_NAME = "watch.run"
PRUNE_SCHEDULE_NAME = "watch.prune"
SNAPSHOT_RETENTION = timedelta(days=14)


def watch_run_task() -> str:
    from messaging.watch.services import watch_run

    report = watch_run()
    return f"opened={len(report.opened)} resolved={len(report.resolved)} in {report.run.duration_ms} ms"


def watch_prune_task() -> int:
    """Snapshots older than two weeks go (runs and their snapshots; incidents stay)."""
    from django.utils import timezone

    from messaging.watch.models import WatchRun

    deleted, _detail = WatchRun.objects.filter(taken_at__lt=timezone.now() - SNAPSHOT_RETENTION).delete()
    return deleted


def ensure_schedules() -> None:
    """Idempotent. The watch runs every minute on the urgent lane: its tasks are short and
    that lane is kept free of long bulk work, so an alert is never stuck behind a campaign."""
    from django_q.models import Schedule

    Schedule.objects.update_or_create(
        name=WATCH_SCHEDULE_NAME,
        defaults={
            "func": "messaging.watch.tasks.watch_run_task",
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
            "cluster": "urgent",
        },
    )
    Schedule.objects.update_or_create(
        name=PRUNE_SCHEDULE_NAME,
        defaults={
            "func": "messaging.watch.tasks.watch_prune_task",
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "cluster": "bulk",
        },
    )
