"""Per-channel circuit breaker, state kept on the Channel row (so every worker shares it).

closed --(OPEN_AFTER consecutive submit errors)--> open --(COOL_DOWN passes)--> half_open
half_open --(a probe succeeds)--> closed;  half_open --(a probe fails)--> open again.
Updates are single conditional UPDATEs, so concurrent dispatchers agree without locks.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from messaging.models import BreakerState, Channel

OPEN_AFTER = 5
COOL_DOWN = timedelta(seconds=30)


def allow(channel: Channel, now=None) -> bool:
    """May this channel be used now? An open breaker past its cool-down turns half-open."""
    now = now or timezone.now()
    if channel.breaker_state != BreakerState.OPEN:
        return True
    if channel.breaker_opened_at and now - channel.breaker_opened_at >= COOL_DOWN:
        Channel.objects.filter(pk=channel.pk, breaker_state=BreakerState.OPEN).update(
            breaker_state=BreakerState.HALF_OPEN
        )
        channel.breaker_state = BreakerState.HALF_OPEN
        return True
    return False


def record_success(channel: Channel) -> None:
    if channel.breaker_state == BreakerState.CLOSED and channel.consecutive_errors == 0:
        return
    Channel.objects.filter(pk=channel.pk).update(
        breaker_state=BreakerState.CLOSED, breaker_opened_at=None, consecutive_errors=0
    )
    channel.breaker_state, channel.breaker_opened_at, channel.consecutive_errors = BreakerState.CLOSED, None, 0


def record_failure(channel: Channel, count: int = 1, now=None) -> None:
    now = now or timezone.now()
    Channel.objects.filter(pk=channel.pk).update(consecutive_errors=F("consecutive_errors") + count)
    channel.refresh_from_db(fields=["consecutive_errors", "breaker_state", "breaker_opened_at"])
    if channel.breaker_state == BreakerState.HALF_OPEN or (
        channel.breaker_state == BreakerState.CLOSED and channel.consecutive_errors >= OPEN_AFTER
    ):
        Channel.objects.filter(pk=channel.pk).update(breaker_state=BreakerState.OPEN, breaker_opened_at=now)
        channel.breaker_state, channel.breaker_opened_at = BreakerState.OPEN, now


def breaker_reset(channel: Channel) -> None:
    """An operator closes the breaker by hand."""
    record_success(channel)
