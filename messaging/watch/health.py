"""Channel health from the last minutes of traffic, set-based.

Counts come from messaging.ChannelMinute (per-channel, per-minute counters kept by the
pipeline). Latency percentiles come from the raw receipts that arrived since the watch run
a window ago: receipts are read by primary-key range (watermarks kept on WatchRun), joined
to their messages by id — never a scan of the message table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from messaging.models import DUE, PRIORITY_BY_CLASS, Channel, Lane, lane_for
from smsportal.enums import ARRIVAL_TARGET_SECONDS, MessageClass

# The classes whose arrival time and backlog age are watched (the guide's 1 s / 3 s / 5 s).
WATCHED_CLASSES = (MessageClass.ALERT, MessageClass.VERIFICATION, MessageClass.NOTIFICATION)
FIRST_RUN_RECEIPT_SPAN = 100_000  # with no earlier run, look at most this many receipts back


def window_minutes() -> int:
    return int(getattr(settings, "WATCH_WINDOW_MINUTES", 5))


def min_sample() -> int:
    return int(getattr(settings, "WATCH_MIN_SAMPLE", 20))


def min_delivery_rate() -> float:
    return float(getattr(settings, "WATCH_MIN_DELIVERY_RATE", 0.95))


@dataclass
class ChannelHealth:
    channel_id: int
    name: str
    enabled: bool
    breaker_state: str
    submitted: int = 0
    submit_errors: int = 0
    delivered: int = 0
    failed: int = 0
    expired: int = 0
    receipts: int = 0
    receipt_p50_ms: int | None = None
    receipt_p95_ms: int | None = None
    arrival_p95_ms: int | None = None
    # class → (count, p95 arrival ms)
    arrival_by_class: dict[str, tuple[int, int | None]] = field(default_factory=dict)

    @property
    def finals(self) -> int:
        return self.delivered + self.failed + self.expired

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.finals if self.finals >= min_sample() else None

    @property
    def error_rate(self) -> float | None:
        attempts = self.submitted + self.submit_errors
        return self.submit_errors / attempts if attempts >= min_sample() else None


def current_receipt_watermark() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM messaging_receiptraw")
        return int(cursor.fetchone()[0])


def channel_health(*, now: datetime, receipts_after: int, receipts_upto: int) -> dict[int, ChannelHealth]:
    since = now - timedelta(minutes=window_minutes())
    health = {
        channel.id: ChannelHealth(channel.id, channel.name, channel.enabled, channel.breaker_state)
        for channel in Channel.objects.only("id", "name", "enabled", "breaker_state")
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT channel_id, sum(submitted), sum(submit_errors), sum(delivered), sum(failed), sum(expired)
              FROM messaging_channelminute WHERE minute >= %s AND minute <= %s GROUP BY channel_id
            """,
            [since, now],
        )
        for channel_id, submitted, errors, delivered, failed, expired in cursor.fetchall():
            row = health.get(channel_id)
            if row:
                row.submitted, row.submit_errors = int(submitted), int(errors)
                row.delivered, row.failed, row.expired = int(delivered), int(failed), int(expired)
        cursor.execute(
            """
            SELECT r.channel_id, m.message_class, count(*),
                   percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.reported_at - m.submitted_at)),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.reported_at - m.submitted_at)),
                   percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM r.reported_at - m.accepted_at))
              FROM messaging_receiptraw r
              JOIN messaging_message m ON m.id = r.message_id
             WHERE r.id > %s AND r.id <= %s AND r.delivered AND m.submitted_at IS NOT NULL
             GROUP BY GROUPING SETS ((r.channel_id), (r.channel_id, m.message_class))
            """,
            [receipts_after, receipts_upto],
        )
        for channel_id, message_class, count, p50, p95, arrival95 in cursor.fetchall():
            row = health.get(channel_id)
            if row is None:
                continue
            if message_class is None:
                row.receipts = int(count)
                row.receipt_p50_ms, row.receipt_p95_ms, row.arrival_p95_ms = _ms(p50), _ms(p95), _ms(arrival95)
            else:
                row.arrival_by_class[message_class] = (int(count), _ms(arrival95))
    return health


def _ms(seconds) -> int | None:
    return None if seconds is None else max(0, round(float(seconds) * 1000))


@dataclass
class Backlog:
    message_class: str
    lane: str
    queued: int
    oldest_age_seconds: float | None
    target_seconds: int

    @property
    def late(self) -> bool:
        return self.oldest_age_seconds is not None and self.oldest_age_seconds > self.target_seconds


def lane_backlogs(*, now: datetime) -> list[Backlog]:
    """Due queued messages of each watched class: how many and how long the oldest has waited
    (from its send time when scheduled or re-queued). One indexed query per class."""
    found = []
    with connection.cursor() as cursor:
        for message_class in WATCHED_CLASSES:
            lane = lane_for(message_class)
            # Within the queue index's bounds (lane, priority, due): rows not due yet — a
            # paused campaign's, a paced one's — are never read.
            cursor.execute(
                f"""
                SELECT count(*), min({DUE})
                  FROM messaging_message
                 WHERE status = 'queued' AND lane = %s AND priority = %s AND {DUE} <= %s AND message_class = %s
                """,  # noqa: S608 (fixed fragments; values are bound)
                [lane, PRIORITY_BY_CLASS[message_class], now, message_class],
            )
            count, oldest = cursor.fetchone()
            found.append(
                Backlog(
                    message_class=message_class,
                    lane=lane,
                    queued=int(count),
                    oldest_age_seconds=(now - oldest).total_seconds() if oldest else None,
                    target_seconds=ARRIVAL_TARGET_SECONDS[message_class],
                )
            )
    return found


__all__ = ["Backlog", "ChannelHealth", "Lane", "channel_health", "lane_backlogs"]
