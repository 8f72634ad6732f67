"""The work loop of a dispatch lane, run inside that lane's django-q2 cluster (how the
loop is started and kept alive: messaging/tasks.py).

Each pass: dispatch until the lane's queue is empty, then one batch of the simulated
carrier's due events and one batch of raw receipts; every 5 s also expiries and lease
recovery. Idle → sleep 50 ms. The urgent loop takes small receipt batches so that it comes
back to its own queue quickly.
"""

from __future__ import annotations

import logging
import time

from django.db import close_old_connections

from messaging.adapters.simulated import simulated_events_release
from messaging.dispatch import lane_dispatch_batch, leases_recover
from messaging.receipts import messages_expire, receipts_apply_batch
from messaging.routing import RateGate

logger = logging.getLogger(__name__)

HOUSEKEEPING_EVERY = 5.0  # seconds between expiry / lease-recovery sweeps
# The urgent loop only takes small receipt batches, so its own queue is never far away.
RECEIPT_BATCH = {"urgent": 200, "bulk": 5000}


def lane_pass(lane: str, gate: RateGate | None = None, *, housekeeping: bool = False) -> int:
    """One round of work: dispatch until the queue is empty, then one round of receipts.
    Returns how much was done (0 = idle)."""
    gate = gate or RateGate()
    done = 0
    while True:
        claimed = lane_dispatch_batch(lane, gate=gate)
        done += claimed
        if not claimed:
            break
    receipts, _replies = simulated_events_release(limit=RECEIPT_BATCH[lane])
    done += receipts
    done += receipts_apply_batch(limit=RECEIPT_BATCH[lane])
    if housekeeping:
        done += messages_expire()
        recovered = leases_recover()
        done += recovered["submitted"] + recovered["queued"] + recovered["unknown"]
    return done


def lane_loop(lane: str, *, seconds: float, idle_sleep: float = 0.05) -> None:
    deadline = time.monotonic() + seconds
    gate = RateGate()
    last_housekeeping = 0.0
    while time.monotonic() < deadline:
        now = time.monotonic()
        housekeeping = now - last_housekeeping >= HOUSEKEEPING_EVERY
        if housekeeping:
            last_housekeeping = now
        try:
            done = lane_pass(lane, gate, housekeeping=housekeeping)
        except Exception:
            logger.exception("lane %s pass failed", lane)
            close_old_connections()
            done = 0
            time.sleep(1.0)
        if not done:
            time.sleep(idle_sleep)
