"""The work loop of a dispatch lane, run inside that lane's django-q2 cluster (how the
loop is started and kept alive: messaging/tasks.py).

The loop's own thread dispatches until the lane's queue is empty, again and again (idle →
sleep 50 ms). Beside it: receipt threads (one batch of the simulated carrier's due events,
then one batch of raw receipts; the urgent lane's take small batches), and a periodic
thread — every 5 s expiries and lease recovery; every second, in the bulk lane, statistics
for tables that grew fast (smsportal/tablestats).

Both loops apply receipts in other threads of the same process (their own database
connections): dispatching and applying receipts then overlap — one waits on PostgreSQL while
another runs Python — instead of taking turns, and a dispatcher never waits behind a receipt
batch (whose capture takes turns with other appliers' on the tenant's usage counter).
Appliers are safe side by side (disjoint batches by SKIP LOCKED, messages locked in id
order); two are the measured best for the bulk lane (RECEIPT_THREADS). Measured: see
docs/benchmarks.md.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections, connection

from messaging.adapters.simulated import simulated_events_release
from messaging.dispatch import lane_dispatch_batch, leases_recover
from messaging.receipts import messages_expire, receipts_apply_batch
from messaging.routing import RateGate
from smsportal.tablestats import stale_tables_analyze

logger = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 5.0  # seconds between expiry / lease-recovery sweeps
STATISTICS_EVERY = 1.0  # seconds between checks for tables that grew fast (one catalog query)
RECEIPT_BATCH = {"urgent": 200, "bulk": 5000}
# Receipt appliers per loop. Bulk, measured at 250,000 receipts: 1 → 12.4k/s, 2 → 17.3–18.1k/s,
# 3 → 16.8k/s (their captures take turns on the tenant's usage counter). An earlier "two are 3×
# slower" was a ledger without statistics (see smsportal/tablestats), not the threads.
RECEIPT_THREADS = {"urgent": 1, "bulk": 2}


def lane_pass(lane: str, gate: RateGate | None = None, *, housekeeping: bool = False, receipts: bool = True) -> int:
    """One round of work: dispatch until the queue is empty, then (unless another thread
    does it) one round of receipts. Returns how much was done (0 = idle)."""
    gate = gate or RateGate()
    done = 0
    while True:
        claimed = lane_dispatch_batch(lane, gate=gate)
        done += claimed
        if not claimed:
            break
    if receipts:
        done += receipts_pass(RECEIPT_BATCH[lane])
    if housekeeping:
        done += messages_expire()
        recovered = leases_recover()
        done += recovered["submitted"] + recovered["queued"] + recovered["unknown"]
    return done


def receipts_pass(limit: int) -> int:
    """One batch of the simulated carrier's due events, then one batch of raw receipts."""
    released, _replies = simulated_events_release(limit=limit)
    return released + receipts_apply_batch(limit=limit)


def _run_until(deadline: float, idle_sleep: float, work, what: str) -> None:
    while time.monotonic() < deadline:
        try:
            done = work()
        except Exception:
            logger.exception("%s failed", what)
            close_old_connections()
            done = 0
            time.sleep(1.0)
        if not done:
            time.sleep(idle_sleep)


def _receipts_thread(lane: str, deadline: float, idle_sleep: float) -> None:
    try:
        _run_until(deadline, idle_sleep, lambda: receipts_pass(RECEIPT_BATCH[lane]), "receipts pass")
    finally:
        connection.close()  # this thread's own connection


def _periodic_thread(lane: str, deadline: float) -> None:
    """Expiries and lease recovery every HOUSEKEEPING_EVERY seconds and, in the bulk lane,
    statistics every STATISTICS_EVERY: on their own clock, never starved by a dispatcher that
    is busy with a backlog for minutes (measured: a ledger left unanalyzed that long)."""
    last_housekeeping = last_statistics = 0.0
    try:
        while (now := time.monotonic()) < deadline:
            try:
                if lane == "bulk" and now - last_statistics >= STATISTICS_EVERY:
                    last_statistics = now
                    stale_tables_analyze()
                if now - last_housekeeping >= HOUSEKEEPING_EVERY:
                    last_housekeeping = now
                    while messages_expire() or sum(leases_recover().values()):
                        pass
            except Exception:
                logger.exception("lane %s housekeeping failed", lane)
                close_old_connections()
            time.sleep(min(STATISTICS_EVERY, max(0.0, deadline - time.monotonic())))
    finally:
        connection.close()  # this thread's own connection


def lane_loop(lane: str, *, seconds: float, idle_sleep: float = 0.05) -> None:
    """The lane's loop: this thread dispatches; receipt appliers and the periodic work run in
    threads of their own (each with its own database connection)."""
    deadline = time.monotonic() + seconds
    gate = RateGate()
    threads = [threading.Thread(target=_periodic_thread, args=(lane, deadline), name=f"{lane}-periodic", daemon=True)]
    for n in range(RECEIPT_THREADS[lane]):
        threads.append(
            threading.Thread(
                target=_receipts_thread, args=(lane, deadline, idle_sleep), name=f"{lane}-receipts-{n}", daemon=True
            )
        )
    for thread in threads:
        thread.start()
    try:
        _run_until(deadline, idle_sleep, lambda: lane_pass(lane, gate, receipts=False), f"lane {lane} pass")
    finally:
        for thread in threads:
            thread.join()
