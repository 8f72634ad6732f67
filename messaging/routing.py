"""Choosing a channel for each message.

Candidates: enabled channels serving the message's carrier, province and class, whose
breaker allows traffic, not already tried for this message; a tenant pinned by staff to some
channels uses only those. Among candidates the choice is a weighted draw (deterministic per
message id, so a batch spreads over channels the way the weights say) on

    score = weight × health⁴ / (1 + 5 × cost)

where health (0..1) comes from the channel's last 15 minutes of counters: delivery rate,
submit error rate and mean receipt latency. health⁴ makes a sick channel lose its traffic
quickly while a slightly worse one still gets some (so its health keeps being measured).
"""

from __future__ import annotations

import bisect
import itertools
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from messaging import breaker
from messaging.models import Channel

HEALTH_WINDOW = timedelta(minutes=15)
HEALTH_CACHE_SECONDS = 10.0
MIN_SAMPLE = 20  # below this many outcomes a channel is presumed healthy


@dataclass
class Health:
    delivery_rate: float = 1.0
    error_rate: float = 0.0
    latency_ms: float | None = None
    samples: int = 0

    @property
    def score(self) -> float:
        latency_factor = 1.0 if self.latency_ms is None else 1.0 / (1.0 + self.latency_ms / 6000.0)
        return max(0.0, self.delivery_rate * (1.0 - self.error_rate) * latency_factor)


def channel_health(channel_ids: list[int] | None = None, now=None) -> dict[int, Health]:
    now = now or timezone.now()
    sql = """
        SELECT channel_id, sum(submitted), sum(submit_errors), sum(delivered), sum(failed) + sum(expired),
               sum(latency_ms_sum), sum(latency_count)
        FROM messaging_channelminute WHERE minute >= %s {extra} GROUP BY channel_id
    """
    params: list = [now - HEALTH_WINDOW]
    extra = ""
    if channel_ids is not None:
        extra = "AND channel_id = ANY(%s)"
        params.append(list(channel_ids))
    result = {}
    with connection.cursor() as cursor:
        cursor.execute(sql.format(extra=extra), params)
        for cid, *sums in cursor.fetchall():
            # sum() of integers is numeric in PostgreSQL (Decimal here): the score is float maths.
            submitted, errors, delivered, failed, lat_sum, lat_count = (float(value or 0) for value in sums)
            outcomes = (delivered or 0) + (failed or 0)
            attempts = (submitted or 0) + (errors or 0)
            result[cid] = Health(
                delivery_rate=(delivered / outcomes) if outcomes >= MIN_SAMPLE else 1.0,
                error_rate=(errors / attempts) if attempts >= MIN_SAMPLE else 0.0,
                latency_ms=(lat_sum / lat_count) if lat_count else None,
                samples=int(outcomes),
            )
    return result


@dataclass
class RouteChoice:
    channel: Channel | None
    reason: str
    waiting: bool = False  # candidates exist but their breakers are open: try again shortly


class Router:
    """Loads channels, pins and health once per dispatch round; routes many messages."""

    def __init__(self, now=None):
        self.now = now or timezone.now()
        self.channels = list(Channel.objects.all())
        self.pins: dict[int, set[int]] = {}
        for channel_id, tenant_id in Channel.pinned_tenants.through.objects.values_list("channel_id", "tenant_id"):
            self.pins.setdefault(tenant_id, set()).add(channel_id)
        self.health = channel_health([c.pk for c in self.channels], now=self.now)
        self.allowed = {c.pk: c.enabled and breaker.allow(c, now=self.now) for c in self.channels}
        self._options: dict[tuple, object] = {}

    def serving(self, channel: Channel, message) -> bool:
        return (
            message.carrier in channel.carriers
            and (not channel.provinces or message.province in channel.provinces)
            and message.message_class in channel.message_classes
        )

    def score(self, channel: Channel) -> float:
        health = self.health.get(channel.pk, Health()).score
        cost = float(channel.cost_per_message or Decimal(0))
        return channel.weight * health**4 / (1.0 + 5.0 * cost)

    def choose(self, message, exclude: set[int] | frozenset = frozenset()) -> RouteChoice:
        pinned = self.pins.get(message.tenant_id)
        key = (message.tenant_id if pinned else None, message.carrier, message.province, message.message_class)
        key += (frozenset(exclude),) if exclude else ()
        options = self._options.get(key)
        if options is None:
            options = self._options[key] = self._candidates(message, exclude, pinned)
        if isinstance(options, RouteChoice):
            return options
        candidates, cumulative, reasons = options
        # Deterministic per message (a retried batch routes the same way), spread by weight.
        point = (message.id * 2654435761 % 4294967296) / 4294967296 * cumulative[-1]
        index = min(bisect.bisect_right(cumulative, point), len(candidates) - 1)
        return RouteChoice(candidates[index], reasons[index])

    def _candidates(self, message, exclude, pinned):
        """The channels that may carry messages like this one, their cumulative weights and
        the reason each would be chosen — computed once per kind of message and batch."""
        serving = [
            c
            for c in self.channels
            if c.enabled and c.pk not in exclude and self.serving(c, message) and (not pinned or c.pk in pinned)
        ]
        candidates = [c for c in serving if self.allowed.get(c.pk)]
        if not candidates:
            if serving:
                return RouteChoice(None, "every candidate's breaker is open", waiting=True)
            return RouteChoice(None, "no enabled channel serves this carrier, province and class")
        scores = [self.score(c) for c in candidates]
        if sum(scores) <= 0:
            scores = [1.0] * len(candidates)
        label = "pinned" if pinned else "routed"
        reasons = []
        for chosen in candidates:
            health = self.health.get(chosen.pk, Health())
            reason = (
                f"{label}: {len(candidates)} candidate(s); health {health.score:.2f}, weight {chosen.weight}, "
                f"cost ¥{chosen.cost_per_message}"
            )
            reasons.append("retry on another channel; " + reason if exclude else reason)
        return candidates, list(itertools.accumulate(scores)), reasons

    def forget(self, channel_id: int) -> None:
        """A channel's breaker opened mid-round: stop offering it."""
        self.allowed[channel_id] = False
        self._options.clear()


class RateGate:
    """Keeps one dispatcher process within each channel's messages/second."""

    def __init__(self):
        self.next_free: dict[int, float] = {}

    def wait(self, channel: Channel, count: int) -> None:
        rate = max(1, channel.rate_limit)
        now = time.monotonic()
        start = max(now, self.next_free.get(channel.pk, now))
        if start > now:
            time.sleep(start - now)
        self.next_free[channel.pk] = start + count / rate
