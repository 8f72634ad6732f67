"""The dispatcher: claim a batch of queued messages of one lane, route, submit, record.

    claim   per priority of the lane: SELECT … WHERE due ORDER BY due, id LIMIT n FOR UPDATE
            SKIP LOCKED, routed in memory (messaging.routing.Router), then one UPDATE … FROM
            unnest → rows `submitting` with a lease and the chosen channel recorded BEFORE
            submitting, so crash recovery knows whom to ask
    submit  per channel in chunks of its batch size, paced to its rate limit
    record  one UPDATE … FROM unnest(…) per outcome kind (submitted / failed / requeued)

Every write is its own short transaction (autocommit), never held open across a submit:
a provider is a remote system and a dispatcher may die at any point. What happens then is
in `leases_recover`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from messaging import breaker, events, money
from messaging.adapters.base import SubmitResult, get_adapter
from messaging.models import DUE, Channel
from messaging.routing import RateGate, Router
from smsportal.enums import FailureReason
from smsportal.sqlarrays import int_array, text_array

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=getattr(settings, "MESSAGING_LEASE_SECONDS", 120))
MAX_ATTEMPTS = 3  # dispatch rounds before a message that keeps meeting retriable errors fails
BACKOFF = [timedelta(seconds=2), timedelta(seconds=10), timedelta(seconds=30)]
BREAKER_WAIT = timedelta(seconds=5)
DEFAULT_CLAIM = {"urgent": 500, "bulk": 5000}


@dataclass
class Claimed:
    """The columns a dispatcher and an adapter need; adapters read these attributes."""

    id: int
    tenant_id: int
    number: str
    carrier: str
    province: str
    message_class: str
    body: str
    segments: int
    tried_channel_ids: list[int]
    submit_attempts: int
    priority: int
    last_reason: str = ""
    last_raw: str = ""
    route_reason: str = ""
    channel_id: int | None = None
    choice: object = None  # the RouteChoice made when it was claimed (claim_routed)


@dataclass
class Outcome:
    # id, channel, ref, route reason, channels tried before ("1,2")
    submitted: list[tuple[int, int, str, str, str]] = field(default_factory=list)
    failed: list[tuple[int, str, str, str]] = field(default_factory=list)  # id, reason, raw, detail
    requeued: list[tuple[int, timedelta, str]] = field(default_factory=list)  # id, delay, why


# Messages of a held (paused or cancelled) campaign are never claimed.
NOT_HELD = """AND (m.campaign_id IS NULL
     OR NOT EXISTS (SELECT 1 FROM messaging_sendhold h WHERE h.campaign_id = m.campaign_id))"""

# The queue index (msg_queue) is (lane, priority, due, id) over queued rows (DUE, in
# messaging.models): a claim reads, per priority, only the rows already due.
# Ordered by (priority, id) with the send time as a filter, every claim of a lane whose due
# rows were taken walked past all its future ones — a paused campaign's million parked
# messages, a paced campaign's next day — one heap visit each (measured: the bulk lane's
# claims busy 83% of the time during an end-to-end run after a paused 1,000,000 campaign).
# The priorities present in a lane's queue, one index probe each (a loose index scan).
QUEUED_PRIORITIES_SQL = """
    WITH RECURSIVE p(priority) AS (
        SELECT min(priority) FROM messaging_message WHERE status = 'queued' AND lane = %(lane)s
      UNION ALL
        SELECT (SELECT min(priority) FROM messaging_message
                 WHERE status = 'queued' AND lane = %(lane)s AND priority > p.priority)
          FROM p WHERE p.priority IS NOT NULL)
    SELECT priority FROM p WHERE priority IS NOT NULL"""

CLAIM_SELECT = f"""
    SELECT id, tenant_id, number, carrier, province, message_class, body, segments,
           tried_channel_ids, submit_attempts + 1, priority
    FROM messaging_message m
    WHERE status = 'queued' AND lane = %s AND priority = %s AND {DUE} <= %s {NOT_HELD}
    ORDER BY {DUE}, id LIMIT %s FOR UPDATE SKIP LOCKED
"""  # noqa: S608 (fixed fragments; values are bound)


def _claim_rows(cursor, lane: str, limit: int, now) -> list[Claimed]:
    """Lock up to `limit` due queued messages of the lane, most urgent priority first, then
    by due time (inside the caller's transaction)."""
    cursor.execute(QUEUED_PRIORITIES_SQL, {"lane": lane})
    claimed: list[Claimed] = []
    for (priority,) in cursor.fetchall():
        cursor.execute(CLAIM_SELECT, [lane, priority, now, limit - len(claimed)])
        claimed += [Claimed(*row) for row in cursor.fetchall()]
        if len(claimed) >= limit:
            break
    return claimed


def claim(lane: str, limit: int, now=None) -> list[Claimed]:
    """Claim a batch without routing it (crash-recovery tests; dispatch uses claim_routed)."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        claimed = _claim_rows(cursor, lane, limit, now)
        if claimed:
            cursor.execute(
                """UPDATE messaging_message SET status = 'submitting', lease_until = %s,
                          submit_attempts = submit_attempts + 1, updated_at = %s
                    WHERE id = ANY(%s::bigint[])""",
                [now + LEASE, now, int_array(m.id for m in claimed)],
            )
    return claimed


CLAIM_ROUTED_UPDATE = """
    UPDATE messaging_message m SET status = 'submitting', lease_until = %s, submit_attempts = m.submit_attempts + 1,
           updated_at = %s, channel_id = v.channel_id, route_reason = v.reason
    FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(id, channel_id, reason)
    WHERE m.id = v.id
"""


def claim_routed(lane: str, limit: int, now=None) -> tuple[list[Claimed], Router | None]:
    """Claim a batch and record each message's route in the same statement: one write per
    message instead of two (claim, then route). Rows stay locked only while they are routed
    in memory, never across a submit."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        claimed = _claim_rows(cursor, lane, limit, now)
        if not claimed:
            return [], None
        router = Router(now=now)  # only now: an idle lane polls often and must stay cheap
        ids, channel_ids, reasons = [], [], []
        for message in claimed:
            message.choice = choice = router.choose(message, exclude=set(message.tried_channel_ids))
            ids.append(message.id)
            channel_ids.append(choice.channel.pk if choice.channel is not None else None)
            reasons.append(choice.reason[:200])
        cursor.execute(
            CLAIM_ROUTED_UPDATE, [now + LEASE, now, int_array(ids), int_array(channel_ids), text_array(reasons)]
        )
    return claimed, router


def lane_dispatch_batch(lane: str, *, limit: int | None = None, gate: RateGate | None = None) -> int:
    """Claim and dispatch one batch; returns how many messages were claimed (0 = queue empty)."""
    claimed, router = claim_routed(lane, limit or DEFAULT_CLAIM.get(lane, 1000))
    if not claimed:
        return 0
    dispatch_claimed(claimed, gate=gate or RateGate(), router=router)
    return len(claimed)


def dispatch_claimed(claimed: list[Claimed], *, gate: RateGate, router: Router | None = None) -> Outcome:
    now = timezone.now()
    router = router or Router(now=now)
    outcome = Outcome()  # what is left to record at the end (no route, back to the queue)
    recorded = Outcome()  # what each submitted chunk already recorded
    pending = claimed
    for attempt in range(2):  # the first channel, then once another one
        by_channel: dict[int, list[Claimed]] = {}
        channels: dict[int, Channel] = {}
        routed_at_claim = attempt == 0 and all(m.choice is not None for m in pending)
        for message in pending:
            choice = message.choice if attempt == 0 and message.choice is not None else None
            choice = choice or router.choose(message, exclude=set(message.tried_channel_ids))
            if choice.channel is None:
                if choice.waiting:
                    outcome.requeued.append((message.id, BREAKER_WAIT, choice.reason))
                elif attempt == 0:
                    outcome.failed.append((message.id, FailureReason.NO_ROUTE, "", choice.reason))
                else:
                    _after_retriable(message, outcome)
                continue
            message.route_reason = choice.reason
            message.channel_id = choice.channel.pk
            channels[choice.channel.pk] = choice.channel
            by_channel.setdefault(choice.channel.pk, []).append(message)
        if not routed_at_claim:
            _record_routes([m for group in by_channel.values() for m in group])
        retry: list[Claimed] = []
        for channel_id, group in by_channel.items():
            channel = channels[channel_id]
            if getattr(get_adapter(channel.adapter), "deferred", False):
                # A connector process holds this channel's sessions (SMPP): leave the rows
                # `submitting`, routed, with no lease — its queue; it claims them itself.
                _hand_off([m.id for m in group])
                continue
            for start in range(0, len(group), max(1, channel.batch_size)):
                chunk = group[start : start + max(1, channel.batch_size)]
                gate.wait(channel, len(chunk))
                results = _submit(channel, chunk)
                done = Outcome()  # recorded per chunk, so progress is visible and leases stay short
                by_id = {m.id: m for m in chunk}
                errors = 0
                for result in results:
                    message = by_id.pop(result.message_id, None)
                    if message is None:
                        continue
                    if result.ok:
                        done.submitted.append(
                            (
                                message.id,
                                channel.pk,
                                result.channel_ref,
                                message.route_reason,
                                ",".join(map(str, message.tried_channel_ids)),
                            )
                        )
                    elif result.retriable:
                        errors += result.reason != FailureReason.THROTTLED
                        message.tried_channel_ids = [*message.tried_channel_ids, channel.pk]
                        message.last_reason, message.last_raw = (
                            result.reason or FailureReason.CHANNEL_ERROR,
                            result.raw_code,
                        )
                        retry.append(message)
                    else:
                        done.failed.append(
                            (message.id, result.reason or FailureReason.UNKNOWN, result.raw_code, channel.name)
                        )
                _record(done, timezone.now())
                recorded.submitted.extend(done.submitted)
                recorded.failed.extend(done.failed)
                for message in by_id.values():  # the adapter did not answer for these: treat as retriable
                    message.tried_channel_ids = [*message.tried_channel_ids, channel.pk]
                    message.last_reason = FailureReason.CHANNEL_ERROR
                    retry.append(message)
                    errors += 1
                ok = len(chunk) - errors
                _count_submits(channel.pk, now, ok=ok, errors=errors)
                if errors and ok == 0:
                    breaker.record_failure(channel)
                elif ok:
                    breaker.record_success(channel)
                if channel.breaker_state == "open":
                    router.forget(channel.pk)
        pending = retry
        if not pending:
            break
    for message in pending:
        _after_retriable(message, outcome)
    _record(outcome, now)
    outcome.submitted.extend(recorded.submitted)
    outcome.failed.extend(recorded.failed)
    return outcome


def _after_retriable(message: Claimed, outcome: Outcome) -> None:
    if message.submit_attempts < MAX_ATTEMPTS:
        delay = BACKOFF[min(message.submit_attempts - 1, len(BACKOFF) - 1)]
        outcome.requeued.append((message.id, delay, message.last_reason))
    else:
        outcome.failed.append(
            (message.id, message.last_reason or FailureReason.CHANNEL_ERROR, message.last_raw, "retries exhausted")
        )


def _submit(channel: Channel, chunk: list[Claimed]) -> list[SubmitResult]:
    try:
        return get_adapter(channel.adapter).submit(channel, chunk)
    except Exception as error:  # a broken adapter or network: every message retriable elsewhere
        logger.warning("channel %s submit failed: %s", channel.pk, error)
        return [
            SubmitResult(
                m.id, ok=False, retriable=True, raw_code=type(error).__name__, reason=FailureReason.CHANNEL_ERROR
            )
            for m in chunk
        ]


def _hand_off(ids: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE messaging_message SET lease_until = NULL WHERE id = ANY(%s) AND status = 'submitting'", [ids]
        )


def _record_routes(messages: list[Claimed]) -> None:
    if not messages:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE messaging_message m SET channel_id = v.channel_id, route_reason = v.reason
            FROM unnest(%s::bigint[], %s::bigint[], %s::text[]) AS v(id, channel_id, reason)
            WHERE m.id = v.id AND m.status = 'submitting'
            """,
            [[m.id for m in messages], [m.channel_id for m in messages], [m.route_reason[:200] for m in messages]],
        )


def _count_submits(channel_id: int, now, *, ok: int, errors: int) -> None:
    channel_minutes_add([(channel_id, now, {"submitted": ok, "submit_errors": errors})])


COUNTER_COLUMNS = ("submitted", "submit_errors", "delivered", "failed", "expired", "latency_ms_sum", "latency_count")
COUNTER_UPSERT = """
INSERT INTO messaging_channelminute (channel_id, minute, submitted, submit_errors, delivered, failed, expired,
                                     latency_ms_sum, latency_count)
SELECT * FROM unnest(%s::bigint[], %s::timestamptz[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[],
                     %s::bigint[], %s::bigint[], %s::bigint[])
ON CONFLICT (channel_id, minute) DO UPDATE SET
    submitted = messaging_channelminute.submitted + EXCLUDED.submitted,
    submit_errors = messaging_channelminute.submit_errors + EXCLUDED.submit_errors,
    delivered = messaging_channelminute.delivered + EXCLUDED.delivered,
    failed = messaging_channelminute.failed + EXCLUDED.failed,
    expired = messaging_channelminute.expired + EXCLUDED.expired,
    latency_ms_sum = messaging_channelminute.latency_ms_sum + EXCLUDED.latency_ms_sum,
    latency_count = messaging_channelminute.latency_count + EXCLUDED.latency_count
"""


def channel_minutes_add(rows: list[tuple[int, object, dict[str, int]]]) -> None:
    """Add to per-minute channel counters (upsert, one statement for all rows)."""
    merged: dict[tuple[int, object], list[int]] = {}
    for channel_id, when, counts in rows:
        minute = when.replace(second=0, microsecond=0)
        slot = merged.setdefault((channel_id, minute), [0] * len(COUNTER_COLUMNS))
        for i, name in enumerate(COUNTER_COLUMNS):
            slot[i] += int(counts.get(name, 0))
    if not merged:
        return
    keys = list(merged)
    arrays = [[k[0] for k in keys], [k[1] for k in keys]]
    arrays += [[merged[k][i] for k in keys] for i in range(len(COUNTER_COLUMNS))]
    with connection.cursor() as cursor:
        cursor.execute(COUNTER_UPSERT, arrays)


def _record(outcome: Outcome, now) -> None:
    with connection.cursor() as cursor:
        if outcome.submitted:
            ids, chans, refs, reasons, tried = zip(*outcome.submitted, strict=True)
            # A receipt may already have settled the message (fast carriers): keep its final status.
            cursor.execute(
                """
                UPDATE messaging_message m SET
                    status = CASE WHEN m.status = 'submitting' THEN 'submitted' ELSE m.status END,
                    channel_id = v.channel_id, channel_ref = v.ref, route_reason = v.reason,
                    submitted_at = %s, lease_until = NULL, updated_at = %s,
                    tried_channel_ids = string_to_array(v.tried, ',')::bigint[]
                FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[], %s::text[])
                     AS v(id, channel_id, ref, reason, tried)
                WHERE m.id = v.id AND m.status <> 'queued'
                """,
                [
                    now,
                    now,
                    int_array(ids),
                    int_array(chans),
                    text_array(refs),
                    text_array(r[:200] for r in reasons),
                    text_array(tried),
                ],
            )
        if outcome.requeued:
            ids, delays, whys = zip(*outcome.requeued, strict=True)
            cursor.execute(
                """
                UPDATE messaging_message m SET status = 'queued', lease_until = NULL, send_at = v.send_at,
                    tried_channel_ids = '{}', route_reason = v.why, updated_at = %s
                FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[]) AS v(id, send_at, why)
                WHERE m.id = v.id AND m.status = 'submitting'
                """,
                [now, list(ids), [now + d for d in delays], [str(w)[:200] for w in whys]],
            )
    if outcome.failed:
        messages_fail(outcome.failed, now=now)


def messages_fail(failed: list[tuple[int, str, str, str]], *, now=None) -> int:
    """Fail messages still in flight (never ones already final); release their reservations."""
    now = now or timezone.now()
    ids, reasons, raws, details = zip(*failed, strict=True)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE messaging_message m SET status = 'failed', failure_reason = v.reason, raw_status = v.raw,
                    failure_detail = v.detail, done_at = %s, lease_until = NULL, updated_at = %s
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[]) AS v(id, reason, raw, detail)
                WHERE m.id = v.id AND m.status IN ('queued', 'submitting', 'submitted')
                RETURNING m.id, m.tenant_id, m.failure_reason
                """,
                [
                    now,
                    now,
                    int_array(ids),
                    text_array(reasons),
                    text_array(r[:64] for r in raws),
                    text_array(d[:300] for d in details),
                ],
            )
            rows = cursor.fetchall()
        money.release([(tenant_id, message_id) for message_id, tenant_id, _ in rows])
        changes: events.StatusChanges = {}
        for message_id, tenant_id, reason in rows:
            changes.setdefault(tenant_id, []).append((message_id, "failed", reason))
        transaction.on_commit(lambda: events.emit_status_changes(changes))
    return len(rows)


def leases_recover(*, now=None, limit: int = 5000) -> dict[str, int]:
    """Messages whose dispatcher died mid-batch (lease ran out while `submitting`).

    For each, ask the channel it was routed to whether it has our message id:
    known → `submitted` with the channel's reference (it was sent; never send it twice);
    unknown → back to `queued`; never routed → `queued`. An adapter that cannot be asked
    leaves the message `submitted` without a reference, settled by receipt or expiry.
    """
    now = now or timezone.now()
    counts = {"submitted": 0, "queued": 0, "unknown": 0}
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT id, channel_id FROM messaging_message
                WHERE status = 'submitting' AND lease_until < %s
                ORDER BY lease_until LIMIT %s FOR UPDATE SKIP LOCKED
                """,
                [now, limit],
            )
            rows = cursor.fetchall()
        if not rows:
            return counts
        by_channel: dict[int | None, list[int]] = {}
        for message_id, channel_id in rows:
            by_channel.setdefault(channel_id, []).append(message_id)
        sent: dict[int, str] = {}
        to_queue: list[int] = by_channel.pop(None, [])
        unknown: list[int] = []
        for channel in Channel.objects.filter(pk__in=[c for c in by_channel if c]):
            ids = by_channel[channel.pk]
            try:
                known = get_adapter(channel.adapter).lookup(channel, ids)
            except NotImplementedError:
                unknown.extend(ids)
                continue
            sent.update({i: ref for i, ref in known.items() if i in set(ids)})
            to_queue.extend(i for i in ids if i not in known)
        with connection.cursor() as cursor:
            if sent:
                cursor.execute(
                    """
                    UPDATE messaging_message m SET status = 'submitted', channel_ref = v.ref,
                        submitted_at = %s, lease_until = NULL,
                        route_reason = left('recovered after a crash: ' || m.route_reason, 200)
                    FROM unnest(%s::bigint[], %s::text[]) AS v(id, ref) WHERE m.id = v.id
                    """,
                    [now, list(sent), list(sent.values())],
                )
            if unknown:
                cursor.execute(
                    """
                    UPDATE messaging_message SET status = 'submitted', submitted_at = %s, lease_until = NULL,
                        route_reason = 'recovered after a crash; the channel cannot be asked'
                    WHERE id = ANY(%s)
                    """,
                    [now, unknown],
                )
            if to_queue:
                cursor.execute(
                    """
                    UPDATE messaging_message SET status = 'queued', lease_until = NULL, channel_id = NULL,
                        tried_channel_ids = '{}', route_reason = 'requeued after a crash (the channel never got it)'
                    WHERE id = ANY(%s)
                    """,
                    [to_queue],
                )
    counts.update(submitted=len(sent), queued=len(to_queue), unknown=len(unknown))
    return counts
