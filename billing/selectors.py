"""Reads about money. Every function takes `tenant` and filters on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from billing import pricing
from billing.models import RICH, ZERO, Account, LedgerEntry, LedgerKind, Statement
from billing.pricing import money
from tenants.models import Membership, Role


def account_for(*, tenant) -> Account:
    """The tenant's account (an unsaved empty one when nothing was ever booked)."""
    return Account.objects.for_tenant(tenant).first() or Account(tenant=tenant)


def account_balance(*, tenant) -> Decimal:
    """Available balance: top-ups − charges − active reserves + refunds ± adjustments − fees."""
    value = Account.objects.for_tenant(tenant).values_list("balance", flat=True).first()
    return money(value if value is not None else ZERO)


def shortfall(*, tenant, amount: Decimal) -> Decimal:
    """How much is missing to spend `amount` (balance + credit limit); 0 when it is covered."""
    account = account_for(tenant=tenant)
    return money(max(Decimal(amount) - account.balance - account.credit_limit, ZERO))


def message_cost(*, tenant, message_id: int) -> Decimal | None:
    """What a message was charged (positive yuan), or None if it was not (yet) charged."""
    amount = (
        LedgerEntry.objects.for_tenant(tenant)
        .filter(kind=LedgerKind.CAPTURE, message_id=message_id)
        .values_list("amount", flat=True)
        .first()
    )
    return None if amount is None else money(-amount)


def message_costs(*, tenant, message_ids: list[int]) -> dict[int, Decimal]:
    """Charges of many messages at once (for lists)."""
    rows = (
        LedgerEntry.objects.for_tenant(tenant)
        .filter(kind=LedgerKind.CAPTURE, message_id__in=message_ids)
        .values_list("message_id", "amount")
    )
    return {message_id: money(-amount) for message_id, amount in rows}


def ledger_entries(
    *, tenant, kind: str | None = None, since: datetime | date | None = None, until: datetime | date | None = None
):
    """Entries newest first; `since` inclusive, `until` exclusive (dates are tenant-local days)."""
    qs = LedgerEntry.objects.for_tenant(tenant)
    if kind:
        qs = qs.filter(kind=kind)
    if since is not None:
        qs = qs.filter(occurred_at__gte=_moment(tenant, since))
    if until is not None:
        qs = qs.filter(occurred_at__lt=_moment(tenant, until))
    return qs.order_by("-occurred_at", "-id")


def _moment(tenant, value) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else value.replace(tzinfo=pricing.tenant_zone(tenant))
    return datetime.combine(value, datetime.min.time(), pricing.tenant_zone(tenant))


def billing_recipients(*, tenant) -> list[str]:
    """Who receives statements and low-balance alerts: finance members and owners."""
    return sorted(
        set(
            Membership.objects.for_tenant(tenant)
            .filter(role__in=[Role.FINANCE, Role.OWNER], user__is_active=True)
            .values_list("user__email", flat=True)
        )
    )


def statements(*, tenant):
    return Statement.objects.for_tenant(tenant).defer("pdf").order_by("-period")


def statement_for(*, tenant, period: date) -> Statement | None:
    return Statement.objects.for_tenant(tenant).filter(period=period).first()


def charged_messages(*, tenant, first: date):
    """Captures of a tenant-local month, in time order: the rows of the CSV export."""
    start, end = pricing.month_bounds(tenant, first)
    return (
        LedgerEntry.objects.for_tenant(tenant)
        .filter(kind=LedgerKind.CAPTURE, occurred_at__gte=start, occurred_at__lt=end)
        .order_by("occurred_at", "id")
    )


@dataclass
class MonthSummary:
    first: date
    opening_balance: Decimal = ZERO
    closing_balance: Decimal = ZERO
    charges_total: Decimal = ZERO
    top_ups_total: Decimal = ZERO
    refunds_total: Decimal = ZERO
    adjustments_total: Decimal = ZERO
    fees_total: Decimal = ZERO
    reserved_change: Decimal = ZERO
    segments_total: int = 0
    messages_total: int = 0
    lines: list = field(default_factory=list)
    details: dict = field(default_factory=dict)


def month_summary(*, tenant, first: date) -> MonthSummary:
    """Everything a statement shows, computed from the ledger alone."""
    start, end = pricing.month_bounds(tenant, first)
    entries = LedgerEntry.objects.for_tenant(tenant)
    opening = entries.filter(occurred_at__lt=start).aggregate(total=Sum("amount"))["total"] or ZERO
    month = entries.filter(occurred_at__gte=start, occurred_at__lt=end)
    by_kind = {row["kind"]: row for row in month.values("kind").annotate(total=Sum("amount"), n=Count("id")).order_by()}

    def total(kind: str) -> Decimal:
        return money(by_kind.get(kind, {}).get("total") or ZERO)

    captures = month.filter(kind=LedgerKind.CAPTURE).aggregate(
        segments=Sum("segments", filter=~Q(message_class=RICH)), n=Count("id")
    )
    summary = MonthSummary(
        first=first,
        opening_balance=money(opening),
        charges_total=-total(LedgerKind.CAPTURE),
        top_ups_total=total(LedgerKind.TOP_UP),
        refunds_total=total(LedgerKind.REFUND),
        adjustments_total=total(LedgerKind.ADJUSTMENT),
        fees_total=-total(LedgerKind.FEE),
        reserved_change=total(LedgerKind.RESERVE) + total(LedgerKind.RELEASE),
        segments_total=captures["segments"] or 0,
        messages_total=captures["n"] or 0,
    )
    summary.closing_balance = money(
        summary.opening_balance + sum((row["total"] or ZERO for row in by_kind.values()), ZERO)
    )
    summary.lines = _charge_lines(tenant=tenant, start=start, end=end)
    summary.details = {
        "plan": pricing.plan_in_force(tenant=tenant, on=pricing.next_month(first) - timedelta(days=1)).name,
        "top_ups": _rows(month.filter(kind=LedgerKind.TOP_UP), tenant),
        "refunds": _rows(month.filter(kind=LedgerKind.REFUND), tenant),
        "adjustments": _rows(month.filter(kind=LedgerKind.ADJUSTMENT), tenant),
        "fees": _rows(month.filter(kind=LedgerKind.FEE), tenant),
    }
    return summary


def _rows(qs, tenant) -> list[dict]:
    zone = pricing.tenant_zone(tenant)
    return [
        {
            "date": timezone.localtime(e.occurred_at, zone).date().isoformat(),
            "amount": str(e.amount),
            "reference": e.reference,
            "reason": e.reason,
            "message_id": e.message_id,
        }
        for e in qs.order_by("occurred_at", "id")
    ]


def _charge_lines(*, tenant, start: datetime, end: datetime) -> list[dict]:
    """Volumes per class and tier: [{class, tier, unit_price, quantity, amount}] (quantity is
    segments, or messages for rich messages whose tier is 0)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT e.message_class, (p->>0)::int AS tier, (p->>2)::numeric AS price, sum((p->>1)::bigint) AS qty
                FROM billing_ledgerentry e, jsonb_array_elements(e.pricing) AS p
                WHERE e.tenant_id = %s AND e.kind = 'capture' AND e.occurred_at >= %s AND e.occurred_at < %s
                GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
            [tenant.pk, start, end],
        )
        return [
            {
                "message_class": message_class,
                "tier": tier,
                "unit_price": str(money(price)),
                "quantity": int(qty),
                "amount": str(money(price * qty)),
            }
            for message_class, tier, price, qty in cursor.fetchall()
        ]


@dataclass
class PriceOverview:
    plan: object
    prices: pricing.PlanPrices
    month: date
    delivered_segments: int
    current_tier: int
    tables: list = field(default_factory=list)  # [(class label, [bands with .current])]


def price_overview(*, tenant) -> PriceOverview:
    """The price page: plan in force, its tiers, this month's volume and the current tier."""
    plan = pricing.plan_in_force(tenant=tenant)
    prices = pricing.plan_prices(plan)
    month = pricing.month_of(tenant)
    delivered = pricing.delivered_segments(tenant=tenant, month=month)
    general = prices.table("")
    current = next((b.number for b in general if b.contains(delivered + 1)), general[-1].number)
    tables = []
    for message_class, bands in sorted(prices.tables.items()):
        tables.append(
            (
                message_class,
                [{"band": band, "current": band.contains(delivered + 1)} for band in bands],
            )
        )
    return PriceOverview(
        plan=plan, prices=prices, month=month, delivered_segments=delivered, current_tier=current, tables=tables
    )


def ledger_check() -> list[tuple[int, Decimal, Decimal, Decimal, Decimal]]:
    """Accounts whose cached balance or reserved total differs from the ledger:
    [(tenant_id, cached balance, ledger balance, cached reserved, ledger reserved)]."""
    with connection.cursor() as cursor:
        cursor.execute(
            """WITH sums AS (
                    SELECT tenant_id, sum(amount) AS balance,
                           sum(amount) FILTER (WHERE kind IN ('reserve', 'release')) AS reserved
                    FROM billing_ledgerentry GROUP BY tenant_id)
                SELECT coalesce(a.tenant_id, s.tenant_id), coalesce(a.balance, 0), coalesce(s.balance, 0),
                       coalesce(a.reserved, 0), -coalesce(s.reserved, 0)
                FROM billing_account a FULL OUTER JOIN sums s ON s.tenant_id = a.tenant_id
                WHERE coalesce(a.balance, 0) <> coalesce(s.balance, 0)
                   OR coalesce(a.reserved, 0) <> -coalesce(s.reserved, 0)
                ORDER BY 1"""
        )
        return cursor.fetchall()
