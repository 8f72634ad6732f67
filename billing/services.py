"""Writes to money: the ledger services messaging calls, staff bookkeeping, plans, statements.

Locking order (avoids deadlocks): the month's usage counter rows, then account rows, each by
ascending tenant id. Captures serialise per tenant on the usage counter, so two workers
capturing the same messages take turns and the second finds the captures already there; a
settle batch moves the account balances in its last statement, so the account row — which
every accept's reservation locks — is held for moments, not for a whole receipt batch. The
ledger's unique (tenant, message_id, kind) is the backstop: each message is reserved, captured
and released at most once, whatever the order receipts arrive in.

Receipt order rules:
- release after capture: nothing (the capture already released the reserve).
- capture after release (a late "delivered" after the message expired): we charge — pay on
  success — and since the reserve was already given back, the capture is taken from the
  balance directly.
- a second capture or release of the same message: nothing.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from billing import pricing
from billing.models import (
    MESSAGE_KINDS,
    RICH,
    ZERO,
    Account,
    LedgerEntry,
    LedgerKind,
    PlanAssignment,
    PricePlan,
    PriceTier,
    Statement,
)
from billing.pricing import money
from compliance.audit import audit_record
from smsportal.enums import MessageClass
from smsportal.errors import Conflict, Forbidden, NotFound, PaymentRequired, ServiceError, Unprocessable
from smsportal.prepared import prepared_cursor
from smsportal.sqlarrays import int_array, text_array
from tenants.models import Tenant

PRICEABLE_CLASSES = {*MessageClass.values, RICH}


# --- Accounts and locks -------------------------------------------------------------------


@dataclass
class _LockedAccount:
    tenant_id: int
    balance: Decimal
    reserved: Decimal
    credit_limit: Decimal
    threshold: Decimal | None
    alerted: bool


def _lock_accounts(tenant_ids) -> dict[int, _LockedAccount]:
    """Create missing accounts, then lock them (ascending tenant id). Returns their state."""
    ids = sorted({int(t) for t in tenant_ids})
    if not ids:
        return {}
    select = """SELECT tenant_id, balance, reserved, credit_limit, low_balance_threshold,
                       low_balance_alerted_at IS NOT NULL
                FROM billing_account WHERE tenant_id = ANY(%s) ORDER BY tenant_id FOR UPDATE"""
    with connection.cursor() as cursor:
        cursor.execute(select, [ids])
        locked = {row[0]: _LockedAccount(*row) for row in cursor.fetchall()}
        if len(locked) == len(ids):  # the usual case: every account exists already
            return locked
        cursor.execute(
            """INSERT INTO billing_account (tenant_id, balance, reserved, credit_limit, created_at, updated_at)
                SELECT t, 0, 0, 0, now(), now() FROM unnest(%s::bigint[]) AS t
                ON CONFLICT (tenant_id) DO NOTHING""",
            [ids],
        )
        cursor.execute(select, [ids])
        return {row[0]: _LockedAccount(*row) for row in cursor.fetchall()}


def _apply_to_accounts(locked: dict[int, _LockedAccount], deltas: dict[int, tuple[Decimal, Decimal]]) -> None:
    """One UPDATE for every account touched: balance += delta, reserved += reserved delta.
    Crossing below the low-balance threshold schedules one alert (after commit)."""
    rows = [(t, d, r) for t, (d, r) in deltas.items() if d or r]
    if not rows:
        return
    alert_states, to_alert = [], []
    for tenant_id, delta, _reserved in rows:
        account = locked[tenant_id]
        new_balance = account.balance + delta
        account.balance = new_balance
        if account.threshold is None or new_balance >= account.threshold:
            alert_states.append("clear")
            account.alerted = False
        elif not account.alerted:
            alert_states.append("set")
            account.alerted = True
            to_alert.append(tenant_id)
        else:
            alert_states.append("keep")
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE billing_account AS a
                SET balance = a.balance + v.delta, reserved = a.reserved + v.rdelta, updated_at = now(),
                    low_balance_alerted_at = CASE v.alert WHEN 'set' THEN now() WHEN 'clear' THEN NULL
                                                          ELSE a.low_balance_alerted_at END
                FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[], %s::text[])
                     AS v(tenant_id, delta, rdelta, alert)
                WHERE a.tenant_id = v.tenant_id""",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], alert_states],
        )
    for tenant_id in to_alert:
        transaction.on_commit(lambda t=tenant_id: _queue_low_balance_alert(t))


def _queue_low_balance_alert(tenant_id: int) -> None:
    from django_q.tasks import async_task

    async_task("billing.tasks.low_balance_alert_send", tenant_id, cluster="bulk")


def _insert_entries(kind: str, rows: list[tuple]) -> list[tuple[int, int, Decimal, int | None]]:
    """Multi-row INSERT of message entries, skipping (tenant, message, kind) already present.
    rows: (tenant_id, message_id, amount, occurred_at, message_class, segments, pricing JSON text|None).
    Returns the rows actually inserted as (tenant_id, message_id, amount, segments)."""
    if not rows:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO billing_ledgerentry (tenant_id, kind, message_id, amount, occurred_at, message_class,
                                               segments, pricing, reference, reason, created_at, updated_at)
                SELECT u.t, %s, u.m, u.a, u.o, u.c, u.s, u.p::jsonb, '', '', now(), now()
                FROM unnest(%s::bigint[], %s::bigint[], %s::numeric[], %s::timestamptz[], %s::text[], %s::int[],
                            %s::text[]) AS u(t, m, a, o, c, s, p)
                ON CONFLICT (tenant_id, message_id, kind) WHERE message_id IS NOT NULL DO NOTHING
                RETURNING tenant_id, message_id, amount, segments""",
            [
                kind,
                int_array(r[0] for r in rows),
                int_array(r[1] for r in rows),
                text_array(r[2] for r in rows),
                text_array(r[3].isoformat() for r in rows),
                text_array(r[4] for r in rows),
                int_array(r[5] for r in rows),
                text_array(r[6] for r in rows),
            ],
        )
        return cursor.fetchall()


def _existing(kinds: list[str], pairs: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Which (tenant_id, message_id) already have an entry of one of `kinds` (one query)."""
    if not pairs:
        return set()
    with connection.cursor() as cursor:
        cursor.execute(
            # Index probes per pair whatever the statistics say (see _release_reserves).
            """SELECT e.tenant_id, e.message_id FROM unnest(%s::bigint[], %s::bigint[]) AS p(t, m)
                CROSS JOIN LATERAL (SELECT tenant_id, message_id, kind FROM billing_ledgerentry
                                    WHERE tenant_id = p.t AND message_id = p.m OFFSET 0) e
                WHERE e.kind = ANY(%s)""",
            [int_array(p[0] for p in pairs), int_array(p[1] for p in pairs), list(kinds)],
        )
        return set(cursor.fetchall())


def _release_reserves(pairs: list[tuple[int, int]], at: datetime) -> list[tuple[int, int, Decimal]]:
    """Give back the reserve of each (tenant_id, message_id) that has one and no release yet."""
    if not pairs:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO billing_ledgerentry (tenant_id, kind, message_id, amount, occurred_at, message_class,
                                               segments,
                                      reference, reason, created_at, updated_at)
                SELECT r.tenant_id, 'release', r.message_id, -r.amount, %s, r.message_class, r.segments,
                       '', '', now(), now()
                FROM unnest(%s::bigint[], %s::bigint[]) AS p(t, m)
                -- One unique-index probe per message, whatever the statistics say. The fence
                -- (OFFSET 0) keeps the kind out of the probe: with it, a ledger never analyzed
                -- was probed through (tenant, kind, time), every reserve of the tenant read per
                -- message (measured: 42 s for one batch of 3,000); by (tenant, message) alone the
                -- unique index is the only one that fits.
                CROSS JOIN LATERAL (SELECT * FROM billing_ledgerentry
                                    WHERE tenant_id = p.t AND message_id = p.m OFFSET 0) r
                WHERE r.kind = 'reserve'
                ON CONFLICT (tenant_id, message_id, kind) WHERE message_id IS NOT NULL DO NOTHING
                RETURNING tenant_id, message_id, amount""",
            [at, int_array(p[0] for p in pairs), int_array(p[1] for p in pairs)],
        )
        return cursor.fetchall()


def _check_class(message_class: str) -> str:
    if message_class not in PRICEABLE_CLASSES:
        raise ServiceError("invalid_message_class", _("Unknown message class “%(c)s”.") % {"c": message_class})
    return message_class


# --- The ledger contract messaging calls --------------------------------------------------------


def ledger_reserve_batch(*, tenant, items: list[tuple[int, int, str]], fresh: bool = False) -> Decimal:
    """Reserve reserve_price × segments for each (message_id, segments, message_class).

    All or nothing: when balance + credit limit does not cover the total, raises
    PaymentRequired("insufficient_balance") (with `.shortfall`) and reserves nothing.
    Messages already reserved or settled are skipped. Returns the amount reserved now.
    fresh: as ledger_reserve_new_messages, which does the work.
    """
    if not items:
        return ZERO
    return ledger_reserve_new_messages(
        tenant=tenant,
        source_sql="SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[])",
        params=[int_array(i[0] for i in items), int_array(i[1] for i in items), text_array(i[2] for i in items)],
        fresh=fresh,
    ).amount


# One statement: find the plan in force, lock the account, price the messages at the plan's
# reserve prices, book them only if the balance covers them all, move balance and reserved,
# flag a low-balance crossing, and report the plan and the month's delivered segments (for the
# caller's estimates). An accept is one round trip of billing, and a refusal writes nothing (no
# savepoint to roll back).
_RESERVE_NEW_SQL = """
WITH plan AS MATERIALIZED (
        SELECT p.id, p.created_at, p.rich_message_price FROM billing_priceplan p
         WHERE p.id = coalesce(
               (SELECT a.plan_id FROM billing_planassignment a
                 WHERE a.tenant_id = %(tenant)s AND a.starts_on <= %(today)s ORDER BY a.starts_on DESC LIMIT 1),
               (SELECT d.id FROM billing_priceplan d WHERE d.is_default))),
     units AS MATERIALIZED (
        -- The reserve price: the highest tier of the class's own table, else of the general
        -- one; with no plan at all, the default plan's (pricing.DEFAULT_PRICES).
        SELECT c.message_class,
               CASE WHEN NOT EXISTS (SELECT 1 FROM plan) THEN
                         CASE WHEN c.message_class = %(rich)s THEN %(default_rich)s::numeric
                              ELSE %(default_unit)s::numeric END
                    WHEN c.message_class = %(rich)s THEN (SELECT rich_message_price FROM plan)
                    ELSE coalesce(
                        (SELECT max(t.unit_price) FROM billing_pricetier t
                          WHERE t.plan_id = (SELECT id FROM plan) AND t.message_class = c.message_class),
                        (SELECT max(t.unit_price) FROM billing_pricetier t
                          WHERE t.plan_id = (SELECT id FROM plan) AND t.message_class = '')) END AS unit
          FROM unnest(%(classes)s::text[]) AS c(message_class)),
     acct AS MATERIALIZED (
        SELECT balance, credit_limit, low_balance_alerted_at IS NOT NULL AS alerted
          FROM billing_account WHERE tenant_id = %(tenant)s FOR UPDATE),
     src AS MATERIALIZED (
        SELECT {distinct} s.*, %(tenant)s::bigint AS tenant_id FROM ({source}) s(message_id, segments, message_class)
        {unbooked}),
     priced AS (
        SELECT s.tenant_id, s.message_id, s.segments, s.message_class,
               CASE WHEN s.message_class = %(rich)s THEN p.unit ELSE p.unit * greatest(s.segments, 0) END AS amount
          FROM src AS s JOIN units AS p ON p.message_class = s.message_class AND p.unit IS NOT NULL),
     need AS (SELECT coalesce(sum(amount), 0) AS total FROM priced),
     unpriced AS (SELECT coalesce(s.message_class, '') AS message_class FROM src s
                   WHERE NOT EXISTS (SELECT 1 FROM units p WHERE p.message_class = s.message_class
                                                             AND p.unit IS NOT NULL) LIMIT 1),
     ok AS (SELECT (need.total = 0 OR need.total <= acct.balance + acct.credit_limit)
                   AND NOT EXISTS (SELECT 1 FROM unpriced) AS fits
              FROM need, acct),
     ins AS (
        INSERT INTO billing_ledgerentry (tenant_id, kind, message_id, amount, occurred_at, message_class,
                                         segments, pricing, reference, reason, created_at, updated_at)
        SELECT q.tenant_id, %(kind)s, q.message_id, -q.amount, now(), q.message_class, q.segments, NULL,
               '', '', now(), now()
          FROM priced q WHERE (SELECT fits FROM ok)
        ON CONFLICT (tenant_id, message_id, kind) WHERE message_id IS NOT NULL DO NOTHING
        RETURNING amount),
     booked AS (SELECT count(*) AS n, coalesce(sum(amount), 0) AS total FROM ins),
     upd AS (
        UPDATE billing_account AS a
           SET balance = a.balance + booked.total, reserved = a.reserved - booked.total, updated_at = now(),
               low_balance_alerted_at = CASE
                   WHEN a.low_balance_threshold IS NULL OR a.balance + booked.total >= a.low_balance_threshold
                   THEN NULL
                   ELSE coalesce(a.low_balance_alerted_at, now()) END
          FROM booked
         WHERE a.tenant_id = %(tenant)s AND booked.n > 0
        RETURNING a.low_balance_alerted_at IS NOT NULL AS alerted)
SELECT (SELECT fits FROM ok), (SELECT total FROM need), (SELECT balance + credit_limit FROM acct),
       booked.n, booked.total,
       coalesce((SELECT alerted FROM upd), FALSE) AND NOT (SELECT alerted FROM acct),
       (SELECT message_class FROM unpriced),
       (SELECT id FROM plan), (SELECT created_at FROM plan),
       (SELECT u.delivered_segments FROM billing_monthlyusage u WHERE u.tenant_id = %(tenant)s AND u.month = %(month)s)
  FROM booked"""


@dataclass(frozen=True)
class Reservation:
    """What a reservation booked, and what the caller needs to estimate the messages' cost
    without asking again: the prices in force and this month's delivered segments so far."""

    count: int
    amount: Decimal
    prices: pricing.PlanPrices
    month_segments: int


_CLASSES = sorted(PRICEABLE_CLASSES)
_CLASSES_LITERAL = text_array(_CLASSES)
_SETTLED_LITERAL = text_array(sorted(MESSAGE_KINDS))


@functools.lru_cache(maxsize=64)
def _reserve_new_sql(source_sql: str, param_count: int, fresh: bool) -> str:
    # The caller's positional placeholders become named ones, so both kinds can share the SQL.
    source = source_sql
    for index in range(param_count):
        source = source.replace("%s", f"%(source{index})s", 1)
    return _RESERVE_NEW_SQL.format(
        source=source,
        distinct="" if fresh else "DISTINCT ON (s.message_id)",
        # One unique-index probe per message, whatever the statistics say (see _release_reserves).
        unbooked=""
        if fresh
        else """WHERE NOT EXISTS (SELECT 1 FROM (SELECT e.kind FROM billing_ledgerentry e
                                               WHERE e.tenant_id = %(tenant)s AND e.message_id = s.message_id
                                               OFFSET 0) e
                                WHERE e.kind = ANY(%(settled)s::text[]))""",
    )


def ledger_reserve_new_messages(
    *,
    tenant,
    source_sql: str,
    params: list | tuple = (),
    fresh: bool = False,
    prepared: bool = False,
) -> Reservation:
    """ledger_reserve_batch for messages created in the current transaction, given as SQL and
    priced and booked in SQL (one statement), so an accept never ships its messages' money
    through Python.

    `source_sql` is a SELECT yielding (message_id, segments, message_class), with `%s`
    placeholders for `params`. Same semantics as ledger_reserve_batch: reserve_price ×
    segments (one reserve price for a rich message) per message, of the plan in force today,
    one reserve entry each (a message already reserved is skipped: the ledger's unique key),
    the account's balance and reserved move together, and all or nothing: when balance +
    credit limit does not cover the total, raises PaymentRequired ("insufficient_balance", with
    `.shortfall`) and nothing is booked. A message reserved before (a retried accept) or
    already settled is skipped, found by one index probe each before the INSERT (probing the
    ledger from the INSERT that grows it is exactly the plan a stale-statistics planner turns
    quadratic).
    fresh=True: the caller vouches that the messages are distinct and were created in this
    transaction (nothing can be booked for them yet), so the lookup is skipped.
    prepared=True: a statement of constant shape (one message), worth preparing on the
    connection (smsportal.prepared); a batch's plan depends on its size, so it plans afresh.
    """
    today = pricing.local_date(tenant)
    named = {
        "tenant": tenant.pk,
        "today": today,
        "month": today.replace(day=1),
        "rich": RICH,
        "default_rich": pricing.DEFAULT_PRICES.rich_price,
        "default_unit": pricing.DEFAULT_PRICES.highest_price(""),
        "classes": _CLASSES_LITERAL,
        "kind": LedgerKind.RESERVE.value,
        "settled": _SETTLED_LITERAL,
    }
    for index, value in enumerate(params):
        named[f"source{index}"] = value
    sql = _reserve_new_sql(source_sql, len(params), fresh)
    with prepared_cursor() if prepared else connection.cursor() as cursor:
        cursor.execute(sql, named)
        row = cursor.fetchone()
        if row[0] is None:  # no account row yet: make it (the usual lock path), then book
            _lock_accounts([tenant.pk])
            cursor.execute(sql, named)
            row = cursor.fetchone()
    fits, needed, available, count, total, alerted, unpriced, plan_id, plan_created, month_segments = row
    if unpriced is not None:
        raise ServiceError("invalid_message_class", _("Unknown message class “%(c)s”.") % {"c": unpriced})
    if not fits:
        short = money(needed - available)
        error = PaymentRequired(
            "insufficient_balance",
            _("Insufficient balance: ¥%(needed)s needed, ¥%(available)s available (short by ¥%(short)s).")
            % {"needed": money(needed), "available": money(available), "short": short},
        )
        error.shortfall = short
        raise error
    if alerted:
        transaction.on_commit(lambda: _queue_low_balance_alert(tenant.pk))
    # No plan at all (the default's row emptied, as a test flush leaves it) priced at the
    # default's tiers; the accept never creates it: it holds the account here, and a receipt
    # batch creating it would wait for the account in turn.
    prices = pricing.plan_prices_of(plan_id, plan_created) if plan_id is not None else pricing.DEFAULT_PRICES
    return Reservation(count, money(-total), prices, month_segments or 0)


def _billing_months_closed(tenant_ids) -> set[tuple[int, date]]:
    return set(Statement.objects.filter(tenant_id__in=tenant_ids).values_list("tenant_id", "period"))


def ledger_settle_batch(
    *, captures: Sequence[tuple] = (), releases: Sequence[tuple[int, int]] = (), at: datetime | None = None
) -> tuple[dict[int, Decimal], Decimal]:
    """Settle messages that reached a final status, in one transaction: charge the delivered
    (`captures`, as ledger_capture_batch) and give back the reserves of the failed, expired or
    cancelled (`releases`, as ledger_release_batch). Returns ({message_id: amount charged},
    total released).

    The accounts' balances move in one statement at the very end. Captures of a tenant take
    turns on the month's usage counter instead (their tier position depends on each other),
    so an accept reserving on the same account waits for that last statement and the commit
    only, never for a whole receipt batch (measured: codes waited seconds behind a marketing
    campaign's receipts while the account row was held from the start of each batch).
    """
    now = timezone.now()
    deltas: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])  # tenant: [balance, reserved]
    with transaction.atomic():
        charged = _capture(captures, now=now, default_at=at or now, deltas=deltas)
        pairs = sorted({(int(t), int(m)) for t, m in releases})
        released = _release_reserves(pairs, at or now)
        for tenant_id, _message_id, amount in released:
            deltas[tenant_id][0] += amount
            deltas[tenant_id][1] -= amount
        _accounts_move(deltas)
    return charged, sum((r[2] for r in released), ZERO)


def ledger_capture_batch(*, items: Sequence[tuple], at: datetime | None = None) -> dict[int, Decimal]:
    """Charge delivered messages at their graduated tier price and release their reserves.

    items: (tenant_id, message_id, segments, message_class) or the same plus delivered_at
    (aware datetime; decides the month and the tier position; default `at` or now). A capture
    whose month already has a statement is booked in the current month instead.
    Returns {message_id: amount charged} for the messages charged by this call.
    """
    return ledger_settle_batch(captures=items, at=at)[0]


def ledger_release_batch(*, items: Sequence[tuple[int, int]], at: datetime | None = None) -> Decimal:
    """Give back the reserves of messages that failed, expired, were rejected or cancelled.
    Idempotent; a message already captured (or released) is left alone. Returns the total released."""
    return ledger_settle_batch(releases=items, at=at)[1]


def _capture(items: Sequence[tuple], *, now: datetime, default_at: datetime, deltas) -> dict[int, Decimal]:
    by_tenant: dict[int, dict[int, tuple]] = defaultdict(dict)
    for item in items:
        tenant_id, message_id, segments, message_class = item[:4]
        delivered_at = item[4] if len(item) > 4 and item[4] is not None else default_at
        _check_class(message_class)
        by_tenant[int(tenant_id)].setdefault(int(message_id), (max(int(segments), 0), message_class, delivered_at))
    if not by_tenant:
        return {}
    tenants = Tenant.objects.in_bulk(list(by_tenant))
    calendars = {tenant_id: pricing.LocalCalendar(tenant) for tenant_id, tenant in tenants.items()}
    wanted: list[tuple[int, int, int, str, datetime, date]] = []
    for tenant_id in sorted(by_tenant):
        local_day = calendars[tenant_id].day
        for message_id, (segments, message_class, delivered_at) in sorted(
            by_tenant[tenant_id].items(), key=lambda kv: (kv[1][2], kv[0])
        ):
            wanted.append((tenant_id, message_id, segments, message_class, delivered_at, local_day(delivered_at)))

    def months_needed(closed: set[tuple[int, date]]) -> set[tuple[int, date]]:
        """Each capture's own month, or this month when its own already has a statement."""
        needed = {(tenant_id, day.replace(day=1)) for tenant_id, _m, _s, _c, _at, day in wanted}
        for tenant_id, month in needed & closed:
            needed.discard((tenant_id, month))
            needed.add((tenant_id, calendars[tenant_id].day(now).replace(day=1)))
        return needed

    # The usage counters are locked before the statements are read for good: a statement being
    # made holds its month's counter, so a capture either sees the statement or is in it.
    counters = _lock_usage(months_needed(_billing_months_closed(list(by_tenant))))
    closed = _billing_months_closed(list(by_tenant))
    if missing := months_needed(closed) - set(counters):  # a statement made meanwhile (rare)
        counters.update(_lock_usage(missing))
    already = _existing([LedgerKind.CAPTURE], [(w[0], w[1]) for w in wanted])
    plan: list[tuple[int, int, int, str, datetime, date, date]] = []
    for tenant_id, message_id, segments, message_class, delivered_at, day in wanted:
        if (tenant_id, message_id) in already:
            continue
        if (tenant_id, day.replace(day=1)) in closed:
            delivered_at, day = now, calendars[tenant_id].day(now)
        plan.append((tenant_id, message_id, segments, message_class, delivered_at, day.replace(day=1), day))
    rows, prices_cache, breakdowns = [], {}, {}
    for tenant_id, message_id, segments, message_class, delivered_at, month, day in plan:
        prices = prices_cache.get((tenant_id, day))
        if prices is None:
            prices = prices_cache[(tenant_id, day)] = pricing.prices_in_force(tenant=tenants[tenant_id], on=day)
        parts = prices.price_segments(message_class, after=counters[(tenant_id, month)], segments=segments)
        # Prices carry 4 places, so segments × price is exact: no rounding anywhere.
        amount = parts[0][1] * parts[0][2] if len(parts) == 1 else sum((n * p for _, n, p in parts), ZERO)
        if message_class != RICH:
            counters[(tenant_id, month)] += segments
        breakdown = breakdowns.get(key := tuple(parts))
        if breakdown is None:  # a batch repeats a handful of breakdowns
            breakdown = breakdowns[key] = json.dumps([[number, n, str(p)] for number, n, p in parts])
        rows.append((tenant_id, message_id, -amount, delivered_at, message_class, segments, breakdown))
    inserted = _insert_entries(LedgerKind.CAPTURE, rows)
    inserted_keys = {(r[0], r[1]) for r in inserted}
    usage_delta: dict[tuple[int, date], int] = defaultdict(int)
    for tenant_id, message_id, segments, message_class, _at, month, _day in plan:
        if (tenant_id, message_id) in inserted_keys and message_class != RICH:
            usage_delta[(tenant_id, month)] += segments
    _bump_usage(usage_delta)
    charged: dict[int, Decimal] = {}
    for tenant_id, message_id, amount, _segments in inserted:
        deltas[tenant_id][0] += amount
        charged[message_id] = -amount
    for tenant_id, _message_id, amount in _release_reserves(sorted(inserted_keys), now):
        deltas[tenant_id][0] += amount
        deltas[tenant_id][1] -= amount
    return charged


# The accounts of a settle batch, locked in tenant order and moved in one statement; a balance
# falling below its threshold flags one low-balance alert (cleared when it rises above again).
_ACCOUNTS_MOVE_SQL = """
WITH v AS (SELECT * FROM unnest(%s::bigint[], %s::numeric[], %s::numeric[]) AS v(tenant_id, delta, rdelta)),
     locked AS (SELECT a.tenant_id, a.low_balance_alerted_at IS NOT NULL AS was_alerted
                  FROM billing_account a WHERE a.tenant_id IN (SELECT tenant_id FROM v)
                 ORDER BY a.tenant_id FOR UPDATE)
UPDATE billing_account AS a
   SET balance = a.balance + v.delta, reserved = a.reserved + v.rdelta, updated_at = now(),
       low_balance_alerted_at = CASE
           WHEN a.low_balance_threshold IS NULL OR a.balance + v.delta >= a.low_balance_threshold THEN NULL
           ELSE coalesce(a.low_balance_alerted_at, now()) END
  FROM v JOIN locked l ON l.tenant_id = v.tenant_id
 WHERE a.tenant_id = v.tenant_id
RETURNING a.tenant_id, a.low_balance_alerted_at IS NOT NULL AND NOT l.was_alerted"""


def _accounts_move(deltas: dict[int, list[Decimal]]) -> None:
    rows = sorted((t, d, r) for t, (d, r) in deltas.items() if d or r)
    if not rows:
        return

    def params(of):
        return [int_array(r[0] for r in of), text_array(r[1] for r in of), text_array(r[2] for r in of)]

    with connection.cursor() as cursor:
        cursor.execute(_ACCOUNTS_MOVE_SQL, params(rows))
        moved = cursor.fetchall()
        if len(moved) < len(rows):  # a tenant without an account yet: make it, then move it
            missing = [r for r in rows if r[0] not in {m[0] for m in moved}]
            _lock_accounts([r[0] for r in missing])
            cursor.execute(_ACCOUNTS_MOVE_SQL, params(missing))
            moved += cursor.fetchall()
    for tenant_id, alert in moved:
        if alert:
            transaction.on_commit(lambda t=tenant_id: _queue_low_balance_alert(t))


def _lock_usage(keys: set[tuple[int, date]]) -> dict[tuple[int, date], int]:
    if not keys:
        return {}
    ordered = sorted(keys)
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO billing_monthlyusage (tenant_id, month, delivered_segments, created_at, updated_at)
                SELECT t, m, 0, now(), now() FROM unnest(%s::bigint[], %s::date[]) AS u(t, m)
                ON CONFLICT (tenant_id, month) DO NOTHING""",
            [[k[0] for k in ordered], [k[1] for k in ordered]],
        )
        cursor.execute(
            """SELECT u.tenant_id, u.month, u.delivered_segments FROM billing_monthlyusage u
                JOIN unnest(%s::bigint[], %s::date[]) AS k(t, m) ON u.tenant_id = k.t AND u.month = k.m
                ORDER BY u.tenant_id, u.month FOR UPDATE OF u""",
            [[k[0] for k in ordered], [k[1] for k in ordered]],
        )
        return {(row[0], row[1]): row[2] for row in cursor.fetchall()}


def _bump_usage(delta: dict[tuple[int, date], int]) -> None:
    rows = [(k[0], k[1], n) for k, n in delta.items() if n]
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE billing_monthlyusage AS u SET delivered_segments = u.delivered_segments + v.n, updated_at = now()
                FROM unnest(%s::bigint[], %s::date[], %s::bigint[]) AS v(t, m, n)
                WHERE u.tenant_id = v.t AND u.month = v.m""",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]],
        )


# --- Staff bookkeeping -------------------------------------------------------------------------


def _require_staff(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise Forbidden("staff_only", _("Only platform staff can do this."))


def _amount(value, *, field: str = "amount", positive: bool = True) -> Decimal:
    try:
        amount = money(value)
    except (ArithmeticError, TypeError, ValueError):
        raise ServiceError("invalid_amount", _("Enter an amount in yuan."), field=field) from None
    if positive and amount <= 0:
        raise Unprocessable("invalid_amount", _("The amount must be greater than zero."), field=field)
    if not positive and amount == 0:
        raise Unprocessable("invalid_amount", _("The amount cannot be zero."), field=field)
    if abs(amount) >= Decimal("1000000000"):
        raise Unprocessable("invalid_amount", _("The amount is too large."), field=field)
    return amount


def _book(*, tenant, actor, kind: str, amount: Decimal, occurred_at=None, **fields) -> LedgerEntry:
    locked = _lock_accounts([tenant.pk])
    entry = LedgerEntry.objects.create(
        tenant=tenant,
        kind=kind,
        amount=amount,
        occurred_at=occurred_at or timezone.now(),
        created_by=actor if getattr(actor, "pk", None) else None,
        **fields,
    )
    _apply_to_accounts(locked, {tenant.pk: (amount, ZERO)})
    return entry


@transaction.atomic
def account_top_up(*, tenant, actor, amount, reference: str, note: str = "") -> LedgerEntry:
    """A bank transfer received (recorded by staff). The reference is the bank's, once per tenant."""
    _require_staff(actor)
    amount = _amount(amount)
    reference = (reference or "").strip()
    if not reference:
        raise ServiceError("reference_required", _("Enter the bank transfer reference."), field="reference")
    if len(reference) > 100:
        raise ServiceError("too_long", _("At most %(count)d characters.") % {"count": 100}, field="reference")
    if LedgerEntry.objects.for_tenant(tenant).filter(kind=LedgerKind.TOP_UP, reference=reference).exists():
        raise Conflict(
            "duplicate_reference",
            _("A top-up with this bank reference is already recorded."),
            field="reference",
        )
    entry = _book(tenant=tenant, actor=actor, kind=LedgerKind.TOP_UP, amount=amount, reference=reference, reason=note)
    audit_record(tenant=tenant, actor=actor, action="billing.top_up", obj=entry, after=_entry_audit(entry))
    return entry


def _entry_audit(entry: LedgerEntry) -> dict:
    return {"kind": entry.kind, "amount": str(entry.amount), "reference": entry.reference, "reason": entry.reason}


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required", _("Give a reason; it is shown on the statement."), field="reason")
    if len(reason) > 300:
        raise ServiceError("too_long", _("At most %(count)d characters.") % {"count": 300}, field="reason")
    return reason


@transaction.atomic
def account_adjust(*, tenant, actor, amount, reason: str) -> LedgerEntry:
    """A signed correction by staff (credit +, debit −), always with a reason."""
    _require_staff(actor)
    amount = _amount(amount, positive=False)
    entry = _book(tenant=tenant, actor=actor, kind=LedgerKind.ADJUSTMENT, amount=amount, reason=_reason(reason))
    audit_record(tenant=tenant, actor=actor, action="billing.adjust", obj=entry, after=_entry_audit(entry))
    return entry


@transaction.atomic
def account_refund(*, tenant, actor, reason: str, amount=None, message_id: int | None = None) -> LedgerEntry:
    """Money given back to the balance: for one charged message (at most its charge, once) or a
    free amount (e.g. a complaint settled)."""
    _require_staff(actor)
    reason = _reason(reason)
    if message_id is not None:
        capture = LedgerEntry.objects.for_tenant(tenant).filter(kind=LedgerKind.CAPTURE, message_id=message_id).first()
        if capture is None:
            raise NotFound("not_charged", _("That message was not charged."), field="message_id")
        charged = -capture.amount
        amount = charged if amount in (None, "") else _amount(amount)
        if amount > charged:
            raise Unprocessable(
                "refund_too_large", _("A refund cannot exceed the charge (¥%(c)s).") % {"c": charged}, field="amount"
            )
        if LedgerEntry.objects.for_tenant(tenant).filter(kind=LedgerKind.REFUND, message_id=message_id).exists():
            raise Conflict("already_refunded", _("That message was already refunded."), field="message_id")
    else:
        amount = _amount(amount)
    entry = _book(
        tenant=tenant,
        actor=actor,
        kind=LedgerKind.REFUND,
        amount=amount,
        reason=reason,
        message_id=message_id,
    )
    audit_record(tenant=tenant, actor=actor, action="billing.refund", obj=entry, after=_entry_audit(entry))
    return entry


@transaction.atomic
def account_set_credit_limit(*, tenant, actor, credit_limit) -> Account:
    _require_staff(actor)
    try:
        limit = money(credit_limit)
    except (ArithmeticError, TypeError, ValueError):
        raise ServiceError("invalid_amount", _("Enter an amount in yuan."), field="credit_limit") from None
    if limit < 0:
        raise Unprocessable("invalid_amount", _("The credit limit cannot be negative."), field="credit_limit")
    _lock_accounts([tenant.pk])
    account = Account.objects.for_tenant(tenant).get()
    before = {"credit_limit": str(account.credit_limit)}
    account.credit_limit = limit
    account.save(update_fields=["credit_limit", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="billing.credit_limit",
        obj=account,
        before=before,
        after={"credit_limit": str(limit)},
    )
    return account


@transaction.atomic
def account_set_threshold(*, tenant, actor, threshold) -> Account:
    """Low-balance alert threshold (None turns the alert off). Tenants set it themselves."""
    if threshold in (None, ""):
        value = None
    else:
        try:
            value = money(threshold)
        except (ArithmeticError, TypeError, ValueError):
            raise ServiceError("invalid_amount", _("Enter an amount in yuan."), field="threshold") from None
        if value < 0:
            raise Unprocessable("invalid_amount", _("The threshold cannot be negative."), field="threshold")
    _lock_accounts([tenant.pk])
    account = Account.objects.for_tenant(tenant).get()
    before = {"low_balance_threshold": str(account.low_balance_threshold)}
    account.low_balance_threshold = value
    # Re-arm: the next dip below the new threshold sends a fresh alert.
    account.low_balance_alerted_at = None
    account.save(update_fields=["low_balance_threshold", "low_balance_alerted_at", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="billing.threshold",
        obj=account,
        before=before,
        after={"low_balance_threshold": str(value)},
    )
    return account


# --- Plans -------------------------------------------------------------------------------------


@transaction.atomic
def price_plan_create(
    *,
    actor,
    name: str,
    tiers: dict[str, list[tuple[int, int | None, Decimal]]],
    description: str = "",
    rich_message_price=ZERO,
    monthly_fee=ZERO,
    monthly_minimum=ZERO,
) -> PricePlan:
    """tiers: {"" (every class) | message class: [(first, last|None, unit price), ...]}.
    Every table must start at 1, have no gaps or overlaps and end open."""
    _require_staff(actor)
    name = (name or "").strip()
    if not name:
        raise ServiceError("required", _("This field is required."), field="name")
    if PricePlan.objects.filter(name=name).exists():
        raise Conflict("duplicate_name", _("A plan with this name exists."), field="name")
    if "" not in tiers:
        raise Unprocessable(
            "invalid_tiers", _("The plan needs a general price table (for every class)."), field="tiers"
        )
    problems = []
    for message_class, bands in tiers.items():
        if message_class and message_class not in MessageClass.values:
            problems.append(_("Unknown message class “%(c)s”.") % {"c": message_class})
            continue
        label = MessageClass(message_class).label if message_class else _("all classes")
        problems += [f"{label}: {p}" for p in pricing.validate_bands(bands)]
    if problems:
        raise Unprocessable("invalid_tiers", problems[0], fields={"tiers": problems})
    fees = {}
    for field, value in (
        ("rich_message_price", rich_message_price),
        ("monthly_fee", monthly_fee),
        ("monthly_minimum", monthly_minimum),
    ):
        try:
            fees[field] = money(value or 0)
        except (ArithmeticError, TypeError, ValueError):
            raise ServiceError("invalid_amount", _("Enter an amount in yuan."), field=field) from None
        if fees[field] < 0:
            raise Unprocessable("invalid_amount", _("Amounts cannot be negative."), field=field)
    plan = PricePlan.objects.create(name=name, description=description, created_by=actor, **fees)
    PriceTier.objects.bulk_create(
        PriceTier(plan=plan, message_class=mc, first_segment=first, last_segment=last, unit_price=money(price))
        for mc, bands in tiers.items()
        for first, last, price in bands
    )
    audit_record(
        tenant=None,
        actor=actor,
        action="billing.plan_create",
        obj=plan,
        after={"name": name, **{k: str(v) for k, v in fees.items()}},
    )
    return plan


@transaction.atomic
def plan_assign(*, tenant, actor, plan: PricePlan, starts_on: date, note: str = "") -> PlanAssignment:
    """The tenant uses `plan` from `starts_on` (its local date). A month that already has a
    statement cannot be repriced: starting on or before it is refused."""
    _require_staff(actor)
    first = starts_on.replace(day=1)
    invoiced = Statement.objects.for_tenant(tenant).filter(period__gte=first).order_by("-period").first()
    if invoiced is not None:
        raise Conflict(
            "month_already_invoiced",
            _("%(month)s already has a statement; a plan can start only after it.")
            % {"month": invoiced.period.strftime("%Y-%m")},
            field="starts_on",
        )
    assignment, _created = PlanAssignment.objects.update_or_create(
        tenant=tenant, starts_on=starts_on, defaults={"plan": plan, "assigned_by": actor, "note": note[:200]}
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="billing.plan_assign",
        obj=assignment,
        after={"plan": plan.name, "starts_on": starts_on.isoformat()},
    )
    return assignment


# --- Statements --------------------------------------------------------------------------------


def _month(year: int, month: int) -> date:
    try:
        return date(int(year), int(month), 1)
    except (TypeError, ValueError):
        raise ServiceError("invalid_month", _("Not a valid month."), field="month") from None


def _book_monthly_fee(*, tenant, first: date, start: datetime, end: datetime) -> None:
    """The plan's monthly fee and any shortfall against its monthly minimum, booked once."""
    prices = pricing.prices_in_force(tenant=tenant, on=pricing.next_month(first) - timedelta(days=1))
    if not prices.monthly_fee and not prices.monthly_minimum:
        return
    if LedgerEntry.objects.for_tenant(tenant).filter(kind=LedgerKind.FEE, period=first).exists():
        return
    charges = -(
        LedgerEntry.objects.for_tenant(tenant)
        .filter(kind=LedgerKind.CAPTURE, occurred_at__gte=start, occurred_at__lt=end)
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    minimum_top = max(prices.monthly_minimum - charges, ZERO)
    fee = money(prices.monthly_fee + minimum_top)
    if fee <= 0:
        return
    parts = []
    if prices.monthly_fee:
        parts.append(_("monthly fee ¥%(a)s") % {"a": money(prices.monthly_fee)})
    if minimum_top:
        parts.append(_("minimum spend top-up ¥%(a)s") % {"a": money(minimum_top)})
    _book(
        tenant=tenant,
        actor=None,
        kind=LedgerKind.FEE,
        amount=-fee,
        occurred_at=end - timedelta(microseconds=1),
        period=first,
        reason="; ".join(parts),
    )


@transaction.atomic
def statement_generate(*, tenant, year: int, month: int, actor=None) -> Statement:
    """Build (or rebuild) the statement of a closed tenant-local month, with its PDF.
    Regenerating keeps the same row and bumps `revision`."""
    from billing import selectors

    first = _month(year, month)
    start, end = pricing.month_bounds(tenant, first)
    if end > timezone.now():
        raise Unprocessable("month_not_closed", _("A statement can be made only once the month is over."))
    # Hold the month's usage counter as captures do (then the account, in the same order): a
    # capture for this month either commits before we read the ledger, or waits, sees the
    # statement and is booked in the current month.
    _lock_usage({(tenant.pk, first)})
    _lock_accounts([tenant.pk])
    _book_monthly_fee(tenant=tenant, first=first, start=start, end=end)
    summary = selectors.month_summary(tenant=tenant, first=first)
    statement = Statement.objects.for_tenant(tenant).select_for_update().filter(period=first).first()
    values = {
        "opening_balance": summary.opening_balance,
        "closing_balance": summary.closing_balance,
        "charges_total": summary.charges_total,
        "top_ups_total": summary.top_ups_total,
        "refunds_total": summary.refunds_total,
        "adjustments_total": summary.adjustments_total,
        "fees_total": summary.fees_total,
        "reserved_change": summary.reserved_change,
        "segments_total": summary.segments_total,
        "messages_total": summary.messages_total,
        "lines": summary.lines,
        "details": summary.details,
        "generated_at": timezone.now(),
        "generated_by": actor if getattr(actor, "pk", None) else None,
    }
    if statement is None:
        statement = Statement(tenant=tenant, period=first, revision=1, **values)
    else:
        for key, value in values.items():
            setattr(statement, key, value)
        statement.revision += 1
    statement.pdf = render_statement_pdf(statement=statement, tenant=tenant)
    statement.save()
    if actor is not None:
        audit_record(
            tenant=tenant,
            actor=actor,
            action="billing.statement_generate",
            obj=statement,
            after={"period": first.isoformat(), "revision": statement.revision},
        )
    return statement


def render_statement_pdf(*, statement: Statement, tenant) -> bytes:
    from django.conf import settings
    from django.utils import translation

    from smsportal.pdf import render_pdf

    # The statement is a document in the platform's language whoever asks for it.
    with translation.override(settings.LANGUAGE_CODE):
        return render_pdf("billing/statement_pdf.html", {"statement": statement, "tenant": tenant})


def statement_email(*, statement: Statement) -> int:
    """Email the statement PDF to the tenant's finance members and owners. Returns recipients."""
    from django.conf import settings
    from django.core.mail import EmailMessage
    from django.template.loader import render_to_string
    from django.utils import translation

    from billing.selectors import billing_recipients

    tenant = statement.tenant
    recipients = billing_recipients(tenant=tenant)
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("%(tenant)s statement for %(month)s") % {
            "tenant": tenant.name,
            "month": statement.period.strftime("%Y-%m"),
        }
        body = render_to_string(
            "billing/email/statement.txt",
            {"statement": statement, "tenant": tenant, "site_url": getattr(settings, "SITE_URL", "")},
        )
    email = EmailMessage(subject=subject, body=body, to=recipients)
    email.attach(f"statement-{statement.period:%Y-%m}.pdf", bytes(statement.pdf), "application/pdf")
    email.send()
    Statement.objects.filter(pk=statement.pk).update(emailed_at=timezone.now())
    return len(recipients)


def statements_monthly_run(*, now: datetime | None = None) -> int:
    """For each active tenant whose previous local month is over: make its statement if there is
    none and email it if that has not happened yet (a failed email is retried by the next run).
    Idempotent, safe to run every day. Returns the number of statements made."""
    import logging

    now = now or timezone.now()
    made = 0
    for tenant in Tenant.objects.filter(status=Tenant.Status.ACTIVE).order_by("pk"):
        previous = (pricing.month_of(tenant, now) - timedelta(days=1)).replace(day=1)
        statement = Statement.objects.for_tenant(tenant).defer("pdf").filter(period=previous).first()
        if statement is None:
            ended = pricing.month_bounds(tenant, previous)[1]
            if (
                tenant.created_at >= ended
                and not LedgerEntry.objects.for_tenant(tenant).filter(occurred_at__lt=ended).exists()
            ):
                continue  # the tenant had no account yet that month
            statement = statement_generate(tenant=tenant, year=previous.year, month=previous.month)
            made += 1
        if statement.emailed_at is None:
            try:
                statement_email(statement=Statement.objects.get(pk=statement.pk))
            except Exception:  # one tenant's mail failure must not stop the others' statements
                logging.getLogger(__name__).exception("statement email failed for tenant %s", tenant.pk)
    return made


def low_balance_alert_send(*, tenant) -> int:
    """Email owners and finance members that the balance is below their threshold."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.utils import translation

    from billing.selectors import billing_recipients

    account = Account.objects.for_tenant(tenant).first()
    if account is None or not account.is_low:
        return 0
    recipients = billing_recipients(tenant=tenant)
    if not recipients:
        return 0
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("Low balance: %(tenant)s has ¥%(balance)s left") % {
            "tenant": tenant.name,
            "balance": account.balance,
        }
        body = render_to_string(
            "billing/email/low_balance.txt",
            {"tenant": tenant, "account": account, "site_url": getattr(settings, "SITE_URL", "")},
        )
    send_mail(subject, body, None, recipients)
    return len(recipients)
