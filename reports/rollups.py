"""Maintaining the message rollups.

Both paths run the same statement: `rollup_rebuild` recomputes every (tenant, hour) in a
period from the raw tables; `rollup_refresh` recomputes only the (tenant, hour) pairs marked
dirty since the last run — by the pipeline's status listener, and by a sweep of the last two
hours of accepted messages. So the incremental and the rebuilt numbers are identical by
construction (and tested). Each recompute is one DELETE and one INSERT … SELECT per batch of
pairs, in one transaction; GROUPING SETS write every grain (see MessageRollup) in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from smsportal.enums import FailureReason
from smsportal.sqlarrays import int_array

DIMENSIONS = ("carrier", "province", "channel_id", "template_id", "message_class", "campaign_id")
# The grain each dimension column's rows are stored under (see MessageRollup).
GRAIN_OF = {
    "carrier": "carrier",
    "province": "province",
    "channel_id": "channel",
    "template_id": "template",
    "message_class": "class",
    "campaign_id": "campaign",
}
GRAINS = ("all", *GRAIN_OF.values())
SWEEP_WINDOW = timedelta(hours=2)


def _failure_json_sql() -> str:
    parts = ", ".join(
        f"'{reason}', NULLIF(count(*) FILTER (WHERE m.status IN ('failed', 'expired', 'rejected') "
        f"AND m.reason = '{reason}'), 0)"
        for reason in FailureReason.values
    )
    return f"jsonb_strip_nulls(jsonb_build_object({parts}))"


def _grain_sql() -> str:
    """The grain of a grouping set, from GROUPING()'s bitmask (a bit is set for each column
    the set leaves out; the first column is the most significant bit)."""
    width = len(DIMENSIONS)
    cases = " ".join(
        f"WHEN {(1 << width) - 1 - (1 << (width - 1 - i))} THEN '{GRAIN_OF[column]}'"
        for i, column in enumerate(DIMENSIONS)
    )
    grouping = ", ".join(f"m.{column}" for column in DIMENSIONS)
    return f"CASE GROUPING({grouping}) {cases} ELSE 'all' END"


def _latency_sql() -> str:
    bounds = [
        ("lat_1", None, 1),
        ("lat_2", 1, 2),
        ("lat_3", 2, 3),
        ("lat_5", 3, 5),
        ("lat_10", 5, 10),
        ("lat_30", 10, 30),
        ("lat_60", 30, 60),
        ("lat_more", 60, None),
    ]
    columns = []
    for name, low, high in bounds:
        conditions = ["m.status = 'delivered'", "m.arrival IS NOT NULL"]
        if low is not None:
            conditions.append(f"m.arrival > {low}")
        if high is not None:
            conditions.append(f"m.arrival <= {high}")
        columns.append(f"count(*) FILTER (WHERE {' AND '.join(conditions)}) AS {name}")
    return ",\n               ".join(columns)


RECOMPUTE_SQL = f"""
WITH pairs AS (
    SELECT * FROM unnest(%(tenant_ids)s::bigint[], %(hours)s::timestamptz[]) AS p(tenant_id, hour)
), m AS (
    -- LATERAL keeps both lookups on their indexes: messages by (tenant, accepted_at) range per
    -- pair, and each message's capture by the ledger's unique (tenant, message_id, kind).
    SELECT msg.tenant_id, p.hour, msg.carrier, msg.province, msg.channel_id, msg.template_id,
           msg.message_class, msg.campaign_id, msg.status, msg.segments, msg.submitted_at,
           CASE WHEN msg.status = 'expired' THEN 'expired' ELSE msg.failure_reason END AS reason,
           EXTRACT(EPOCH FROM msg.done_at - GREATEST(msg.accepted_at, COALESCE(msg.send_at, msg.accepted_at)))
               AS arrival,
           -charge.amount AS cost
    FROM pairs p
    CROSS JOIN LATERAL (
        SELECT * FROM messaging_message m0
        WHERE m0.tenant_id = p.tenant_id AND m0.accepted_at >= p.hour AND m0.accepted_at < p.hour + interval '1 hour'
        OFFSET 0  -- a fence: without it the planner flattens this into a merge join on tenant only
    ) msg
    LEFT JOIN LATERAL (
        SELECT c0.amount FROM billing_ledgerentry c0
        WHERE c0.tenant_id = msg.tenant_id AND c0.message_id = msg.id AND c0.kind = 'capture'
          AND c0.message_id IS NOT NULL  -- lets the planner use the partial unique index
        OFFSET 0
    ) charge ON true
), deleted AS (
    -- Every grain named, so the (tenant, grain, hour) index finds the rows.
    DELETE FROM reports_messagerollup r USING pairs p
    WHERE r.tenant_id = p.tenant_id AND r.grain = ANY(ARRAY{list(GRAINS)}) AND r.hour = p.hour
)
INSERT INTO reports_messagerollup (
    tenant_id, hour, grain, {", ".join(DIMENSIONS)}, accepted, rejected, submitted, delivered, failed, expired,
    failures, segments, cost, lat_1, lat_2, lat_3, lat_5, lat_10, lat_30, lat_60, lat_more, created_at, updated_at)
SELECT m.tenant_id, m.hour, {_grain_sql()}, COALESCE(m.carrier, ''), COALESCE(m.province, ''), m.channel_id,
       m.template_id, COALESCE(m.message_class, ''), m.campaign_id,
       count(*) FILTER (WHERE m.status <> 'rejected'),
       count(*) FILTER (WHERE m.status = 'rejected'),
       count(*) FILTER (WHERE m.submitted_at IS NOT NULL),
       count(*) FILTER (WHERE m.status = 'delivered'),
       count(*) FILTER (WHERE m.status = 'failed'),
       count(*) FILTER (WHERE m.status = 'expired'),
       {_failure_json_sql()},
       COALESCE(sum(m.segments) FILTER (WHERE m.status = 'delivered'), 0),
       COALESCE(sum(m.cost), 0),
       {_latency_sql()},
       now(), now()
FROM m
GROUP BY m.tenant_id, m.hour, GROUPING SETS ((), {", ".join(f"(m.{column})" for column in DIMENSIONS)})
"""


def _recompute(pairs: list[tuple[int, datetime]]) -> None:
    if not pairs:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            RECOMPUTE_SQL, {"tenant_ids": [tenant_id for tenant_id, _ in pairs], "hours": [hour for _, hour in pairs]}
        )


def _hours_between(start: datetime, end: datetime) -> list[datetime]:
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = []
    while hour < end:
        hours.append(hour)
        hour += timedelta(hours=1)
    return hours


@transaction.atomic
def rollup_rebuild(*, start: datetime, end: datetime, tenant_ids: Iterable[int] | None = None) -> int:
    """Recompute every hour in [start, end) from raw data; returns the number of (tenant, hour)s."""
    from tenants.models import Tenant

    ids = list(tenant_ids) if tenant_ids is not None else list(Tenant.objects.values_list("id", flat=True))
    with connection.cursor() as cursor:
        # A rebuild usually follows a bulk load (demo seed, benchmark, import); fresh statistics
        # keep the capture lookup on the ledger's unique (tenant, message_id, kind) index.
        cursor.execute("ANALYZE messaging_message, billing_ledgerentry")
    pairs = [(tenant_id, hour) for tenant_id in ids for hour in _hours_between(start, end)]
    for offset in range(0, len(pairs), 2000):
        _recompute(pairs[offset : offset + 2000])
    return len(pairs)


def mark_dirty(pairs: Iterable[tuple[int, datetime]]) -> None:
    rows = list({(tenant_id, hour) for tenant_id, hour in pairs})
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO reports_rollupdirtyhour (tenant_id, hour)
               SELECT * FROM unnest(%s::bigint[], %s::timestamptz[]) ON CONFLICT DO NOTHING""",
            [[t for t, _ in rows], [h for _, h in rows]],
        )


def mark_messages_dirty(message_ids_by_tenant: dict[int, list[int]]) -> None:
    """Marks the acceptance hours of these messages dirty (one statement for the batch)."""
    tenant_ids, message_ids = [], []
    for tenant_id, ids in message_ids_by_tenant.items():
        tenant_ids += [tenant_id] * len(ids)
        message_ids += ids
    if not message_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            # One primary-key probe per message, whatever the statistics say: a table that
            # grew fast since its last ANALYZE looked small and was scanned whole per batch.
            """INSERT INTO reports_rollupdirtyhour (tenant_id, hour)
               SELECT DISTINCT m.tenant_id, date_trunc('hour', m.accepted_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
               FROM unnest(%s::bigint[], %s::bigint[]) AS x(tenant_id, id)
               CROSS JOIN LATERAL (SELECT tenant_id, accepted_at FROM messaging_message
                                   WHERE id = x.id AND tenant_id = x.tenant_id OFFSET 0) m
               ON CONFLICT DO NOTHING""",
            [int_array(tenant_ids), int_array(message_ids)],
        )


def _sweep_recent(now: datetime) -> list[tuple[int, datetime]]:
    """Recent hours of every tenant that accepted messages lately (one index probe per tenant)."""
    since = now - SWEEP_WINDOW
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT t.id FROM tenants_tenant t WHERE EXISTS (
                   SELECT 1 FROM messaging_message m WHERE m.tenant_id = t.id AND m.accepted_at >= %s)""",
            [since],
        )
        active = [row[0] for row in cursor.fetchall()]
    return [(tenant_id, hour) for tenant_id in active for hour in _hours_between(since, now + timedelta(seconds=1))]


def rollup_refresh(*, now: datetime | None = None) -> int:
    """The incremental path: recompute dirty and recent (tenant, hour)s. Safe to run concurrently
    with itself (dirty rows are claimed with SKIP LOCKED)."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """DELETE FROM reports_rollupdirtyhour WHERE id = ANY(ARRAY(
                       SELECT id FROM reports_rollupdirtyhour FOR UPDATE SKIP LOCKED LIMIT 5000))
                   RETURNING tenant_id, hour"""
            )
            pairs = set(cursor.fetchall())
        pairs |= set(_sweep_recent(now))
        ordered = sorted(pairs)
        for offset in range(0, len(ordered), 2000):
            _recompute(ordered[offset : offset + 2000])
    return len(pairs)


def on_status_changes(changes: dict[int, list[tuple[int, str, str]]]) -> None:
    """messaging.events listener: receipts, expiries and failures dirty their messages' hours."""
    mark_messages_dirty({tenant_id: [item[0] for item in items] for tenant_id, items in changes.items()})
