"""Receipts: stored raw as they arrive, applied to messages in batches.

`receipts_apply_batch` claims up to N unapplied raw receipts and applies them with ONE
`UPDATE messaging_message … FROM (aggregate of the batch)` statement:
  - idempotent: parts are OR-ed into bit masks, so a duplicate changes nothing;
  - a final status never moves backwards: rows already delivered/failed/expired/rejected
    are not touched (a late or contradicting receipt is only kept raw);
  - multipart messages settle as a whole: delivered when every part is, failed as soon as
    any part failed; a receipt without a part index speaks for the whole message;
  - out of order is harmless, even a receipt that arrives before we recorded the submit.
Then, in the same transaction, billing captures the delivered and releases the failed, and
channel counters are bumped; status-change listeners are told after commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from messaging import events, money
from messaging.adapters.base import ReceiptReport
from messaging.dispatch import channel_minutes_add

APPLY_BATCH = 5000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def receipts_store(*, channel, reports: Iterable[ReceiptReport], now=None) -> int:
    """Store receipts exactly as received (COPY); they are applied later in batches."""
    now = now or timezone.now()
    reports = list(reports)
    if not reports:
        return 0
    with (
        connection.cursor() as cursor,
        cursor.copy(
            "COPY messaging_receiptraw (channel_id, message_id, channel_ref, part_index, delivered, raw_status,"
            " failure_reason, reported_at, received_at, outcome, payload) FROM STDIN"
        ) as copy,
    ):
        for r in reports:
            copy.write_row(
                (
                    channel.pk,
                    r.message_id,
                    r.channel_ref or "",
                    r.part_index,
                    r.delivered,
                    (r.raw_status or "")[:64],
                    r.failure_reason or "",
                    r.reported_at or now,
                    now,
                    "",
                    json.dumps(r.payload or {}),
                )
            )
    return len(reports)


# The status a message reaches with this batch's parts: failed as soon as any part failed,
# delivered when every part (or the whole message) was reported delivered.
NEW_STATUS = """(CASE WHEN (m.parts_failed_mask | a.fmask) <> 0 THEN 'failed'
     WHEN bit_count((m.parts_delivered_mask | a.dmask)::bit(64)) >= greatest(m.segments, 1)
          OR (m.parts_delivered_mask | a.dmask) = -1 THEN 'delivered'
     ELSE m.status END)"""

APPLY_SQL = """
WITH batch AS (
    UPDATE messaging_receiptraw r SET applied_at = %(now)s
    WHERE r.id = ANY(ARRAY(SELECT id FROM messaging_receiptraw WHERE applied_at IS NULL
                           ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED))
    RETURNING r.id, r.channel_id, r.message_id, r.channel_ref, r.part_index, r.delivered, r.raw_status,
              r.failure_reason, r.reported_at
), resolved AS (
    -- Two arms, so receipts that carry our id never make the planner scan for references.
    SELECT b.*, b.message_id AS mid FROM batch b WHERE b.message_id IS NOT NULL
    UNION ALL
    SELECT b.*, m.id AS mid
    FROM batch b
    LEFT JOIN messaging_message m ON m.channel_id = b.channel_id AND m.channel_ref = b.channel_ref
         AND m.channel_ref <> ''
    WHERE b.message_id IS NULL
), agg AS (
    SELECT mid,
           bit_or(CASE WHEN delivered THEN (CASE WHEN part_index IS NULL THEN -1::bigint
                  ELSE 1::bigint << least(part_index, 62) END) ELSE 0::bigint END) AS dmask,
           bit_or(CASE WHEN NOT delivered THEN (CASE WHEN part_index IS NULL THEN -1::bigint
                  ELSE 1::bigint << least(part_index, 62) END) ELSE 0::bigint END) AS fmask,
           (array_agg(nullif(failure_reason, '') ORDER BY id) FILTER (WHERE NOT delivered))[1] AS reason,
           (array_agg(raw_status ORDER BY delivered, id))[1] AS raw,
           max(reported_at) AS reported_at,
           (array_agg(channel_id ORDER BY id))[1] AS channel_id
    FROM resolved WHERE mid IS NOT NULL GROUP BY mid
), locked AS (
    -- Lock the messages in id order first: two appliers whose batches share a message
    -- (duplicate receipts) then wait for each other instead of deadlocking.
    SELECT m.id FROM messaging_message m WHERE m.id IN (SELECT mid FROM agg) ORDER BY m.id FOR UPDATE
), upd AS (
    -- Everything is computed from the row as it is now (m), never from an earlier read: a
    -- message another applier settled meanwhile fails the status guard and is left alone.
    UPDATE messaging_message m SET
        parts_delivered_mask = m.parts_delivered_mask | a.dmask,
        parts_failed_mask = m.parts_failed_mask | a.fmask,
        status = {new_status},
        failure_reason = CASE WHEN {new_status} = 'failed' THEN coalesce(a.reason, 'unknown')
                              ELSE m.failure_reason END,
        raw_status = left(a.raw, 64),
        channel_id = coalesce(m.channel_id, a.channel_id),
        done_at = CASE WHEN {new_status} IN ('delivered', 'failed') THEN greatest(a.reported_at, m.accepted_at)
                       ELSE m.done_at END,
        lease_until = CASE WHEN {new_status} IN ('delivered', 'failed') THEN NULL ELSE m.lease_until END,
        updated_at = %(now)s
    FROM agg a JOIN locked l ON l.id = a.mid
    WHERE m.id = a.mid AND m.status NOT IN ('delivered', 'failed', 'expired', 'rejected')
    RETURNING m.id, m.tenant_id, m.status, m.failure_reason, m.segments, m.message_class, m.channel_id,
              (extract(epoch FROM m.done_at - m.submitted_at) * 1000)::bigint,
              -- microseconds since the epoch: a number is read ten times faster than a timestamp
              (extract(epoch FROM m.done_at) * 1000000)::bigint
)
SELECT u.*, (SELECT count(*) FROM batch) FROM upd u
UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM batch)
""".replace("{new_status}", NEW_STATUS)


def receipts_apply_batch(*, limit: int = APPLY_BATCH, now=None) -> int:
    """Apply one batch of raw receipts; returns how many raw receipts were consumed."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(APPLY_SQL, {"now": now, "limit": limit})
            rows = cursor.fetchall()
        consumed = rows[-1][-1] if rows else 0
        finals = [r for r in rows if r[0] is not None and r[2] in ("delivered", "failed")]
        _settle(finals, now=now)
    return consumed


def _settle(finals: list[tuple], *, now) -> None:
    """Money, counters and events for messages that just reached a final status."""
    if not finals:
        return
    captures, releases = [], []
    per_channel: dict[int, dict[str, int]] = {}  # this minute's counters, summed here, not per message
    changes: events.StatusChanges = {}
    for message_id, tenant_id, status, reason, segments, message_class, channel_id, latency_ms, done_us, *_ in finals:
        if status == "delivered":
            captures.append((tenant_id, message_id, segments, message_class, EPOCH + timedelta(microseconds=done_us)))
        else:
            releases.append((tenant_id, message_id))
        changes.setdefault(tenant_id, []).append((message_id, status, reason or ""))
        if channel_id:
            counts = per_channel.setdefault(channel_id, {"delivered": 0, "latency_ms_sum": 0, "latency_count": 0})
            counts[status] = counts.get(status, 0) + 1
            if status == "delivered" and latency_ms is not None:
                counts["latency_ms_sum"] += max(0, latency_ms)
                counts["latency_count"] += 1
    # The rows other work waits for come last, just before the commit: the tenant's account
    # (every accept reserves on it) and this minute's channel counters (every dispatcher's
    # submit bumps them), so neither is held while the batch's ledger rows are written.
    money.settle(captures, releases)
    channel_minutes_add([(channel_id, now, counts) for channel_id, counts in per_channel.items()])
    transaction.on_commit(lambda: events.emit_status_changes(changes))


def messages_expire(*, now=None, limit: int = 5000) -> int:
    """Submitted messages with no receipt within their channel's timeout become `expired`."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE messaging_message m SET status = 'expired', failure_reason = 'expired', done_at = %(now)s,
                    updated_at = %(now)s
                WHERE m.id IN (
                    SELECT m2.id FROM messaging_message m2 JOIN messaging_channel c ON c.id = m2.channel_id
                    WHERE m2.status = 'submitted'
                      AND m2.submitted_at < %(now)s - c.receipt_timeout_seconds * interval '1 second'
                    LIMIT %(limit)s FOR UPDATE OF m2 SKIP LOCKED)
                RETURNING m.id, m.tenant_id, m.status, m.failure_reason, m.segments, m.message_class, m.channel_id,
                          NULL, (extract(epoch FROM m.done_at) * 1000000)::bigint
                """,
                {"now": now, "limit": limit},
            )
            rows = cursor.fetchall()
        _settle(rows, now=now)
    return len(rows)


def receipts_timeout_default() -> timedelta:
    return timedelta(minutes=10)
