"""django-q2 entry points (thin). See lanes.py for how the lanes keep draining."""

from __future__ import annotations

from messaging.lanes import lane_loop, lane_pass

LOOP_SECONDS = {"urgent": 55.0, "bulk": 55.0}


def lane_run(lane: str, seconds: float | None = None) -> None:
    lane_loop(lane, seconds=seconds if seconds is not None else LOOP_SECONDS[lane])


def lane_kick(lane: str) -> int:
    return lane_pass(lane)


def ensure_schedules() -> None:
    from django_q.models import Schedule

    for lane in ("urgent", "bulk"):
        Schedule.objects.update_or_create(
            name=f"messaging-lane-{lane}",
            defaults={
                "func": "messaging.tasks.lane_run",
                "args": repr(lane),
                "schedule_type": Schedule.MINUTES,
                "minutes": 1,
                "repeats": -1,
                "cluster": lane,
            },
        )
