"""django-q2 entry points (thin). How the lanes keep draining:

* `lane_run(lane)` is a work loop of ~50 s (messaging.lanes.lane_loop) that, when it ends,
  enqueues its own successor on the same lane's cluster — so each lane always has one loop
  draining it. A PostgreSQL advisory lock per lane makes a second loop exit at once.
* The Schedules `messaging-lane-urgent` / `messaging-lane-bulk` (every minute, cluster =
  lane) start a loop when none holds the lock — after a deploy, a crash or a SIGKILL (the
  lock dies with the connection).
* An accepted urgent message also enqueues `lane_kick("urgent")` after commit: one drain
  pass on another urgent worker, so a code never waits for the loop's next poll.
"""

from __future__ import annotations

import logging

from django.db import connection

from messaging.lanes import lane_loop, lane_pass

logger = logging.getLogger(__name__)

LOOP_SECONDS = {"urgent": 50.0, "bulk": 50.0}
LOCK_KEYS = {"urgent": 0x5D5_0001, "bulk": 0x5D5_0002}


def lane_run(lane: str, seconds: float | None = None, chain: bool = True) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEYS[lane]])
        if not cursor.fetchone()[0]:
            return "another loop is running"
    try:
        lane_loop(lane, seconds=seconds if seconds is not None else LOOP_SECONDS[lane])
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEYS[lane]])
    if chain:
        from django_q.tasks import async_task

        async_task("messaging.tasks.lane_run", lane, cluster=lane)
    return "done"


def lane_kick(lane: str) -> int:
    # Dispatch only: receipts are the lane loop's receipt thread's work, and a kick that
    # waited behind a receipt batch would delay the very code it was sent for.
    return lane_pass(lane, receipts=False)


def housekeeping() -> None:
    from messaging.idempotency import idempotency_prune
    from messaging.ratelimit import rate_windows_prune

    idempotency_prune()
    rate_windows_prune()


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
    Schedule.objects.update_or_create(
        name="messaging-housekeeping",
        defaults={
            "func": "messaging.tasks.housekeeping",
            "schedule_type": Schedule.HOURLY,
            "repeats": -1,
            "cluster": "bulk",
        },
    )
