"""Prices: which plan is in force, and what the next segments of a tenant's month cost.

Graduated tiers: the k-th delivered billable segment of the tenant's month (tenant time zone)
is priced at the band containing k. The position k counts every class's segments together;
the class only chooses which price table applies (a class without its own table uses the
plan's general table). Rich (图文/MMS) messages cost `rich_message_price` each and do not move k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone

from billing.models import RICH, PricePlan

FOUR_PLACES = Decimal("0.0001")


def money(value) -> Decimal:
    return Decimal(value).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)


# --- Time -------------------------------------------------------------------------------


def tenant_zone(tenant) -> ZoneInfo:
    return ZoneInfo(getattr(tenant, "timezone", "") or settings.DEFAULT_TENANT_TIMEZONE)


def local_date(tenant, at: datetime | None = None) -> date:
    return timezone.localtime(at or timezone.now(), tenant_zone(tenant)).date()


class LocalCalendar:
    """A tenant's local date of many instants, converting only when one leaves the day of the
    instant before (a receipt batch is thousands of instants, sorted, mostly on one day)."""

    def __init__(self, tenant):
        self.zone = tenant_zone(tenant)
        self._start = self._end = None
        self._day: date | None = None

    def day(self, at: datetime) -> date:
        if self._start is None or not self._start <= at < self._end:
            self._day = timezone.localtime(at, self.zone).date()
            self._start = datetime.combine(self._day, time.min, self.zone)
            self._end = datetime.combine(self._day + timedelta(days=1), time.min, self.zone)
        return self._day


def month_of(tenant, at: datetime | None = None) -> date:
    """First day of the tenant-local month containing `at`."""
    return local_date(tenant, at).replace(day=1)


def next_month(first: date) -> date:
    return date(first.year + (first.month == 12), first.month % 12 + 1, 1)


def month_bounds(tenant, first: date) -> tuple[datetime, datetime]:
    """[start, end) of a tenant-local month as aware datetimes."""
    zone = tenant_zone(tenant)
    return datetime.combine(first, time.min, zone), datetime.combine(next_month(first), time.min, zone)


# --- Plans ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    number: int  # 1-based tier number, shown on statements
    first: int
    last: int | None
    price: Decimal

    def contains(self, position: int) -> bool:
        return position >= self.first and (self.last is None or position <= self.last)


@dataclass
class PlanPrices:
    plan_id: int
    name: str
    tables: dict[str, list[Band]] = field(default_factory=dict)  # "" = general table
    rich_price: Decimal = Decimal("0")
    monthly_fee: Decimal = Decimal("0")
    monthly_minimum: Decimal = Decimal("0")

    def table(self, message_class: str) -> list[Band]:
        bands = self.tables.get(message_class) or self.tables.get("")
        if not bands:
            raise LookupError(f"price plan {self.name!r} has no tiers for {message_class!r}")
        return bands

    def price_segments(self, message_class: str, *, after: int, segments: int) -> list[tuple[int, int, Decimal]]:
        """Price segments after+1 … after+segments: [(tier number, segments, unit price), ...]."""
        if message_class == RICH:
            return [(0, 1, self.rich_price)]
        parts: list[tuple[int, int, Decimal]] = []
        low, high = after + 1, after + segments
        for band in self.table(message_class):
            top = high if band.last is None else min(high, band.last)
            bottom = max(low, band.first)
            if top >= bottom:
                parts.append((band.number, top - bottom + 1, band.price))
        return parts

    def amount(self, message_class: str, *, after: int, segments: int) -> Decimal:
        return money(sum((n * p for _, n, p in self.price_segments(message_class, after=after, segments=segments)), 0))

    def highest_price(self, message_class: str) -> Decimal:
        if message_class == RICH:
            return self.rich_price
        return max(band.price for band in self.table(message_class))


def plan_prices(plan: PricePlan) -> PlanPrices:
    prices = PlanPrices(
        plan_id=plan.pk,
        name=plan.name,
        rich_price=plan.rich_message_price,
        monthly_fee=plan.monthly_fee,
        monthly_minimum=plan.monthly_minimum,
    )
    for tier in plan.tiers.order_by("message_class", "first_segment"):
        bands = prices.tables.setdefault(tier.message_class, [])
        bands.append(Band(len(bands) + 1, tier.first_segment, tier.last_segment, tier.unit_price))
    return prices


# The platform default (DESIGN.md, Money). Migration 0002 creates it; this recreates it if the
# table was emptied (e.g. by a test database flush), so pricing never runs without a plan.
DEFAULT_PLAN_NAME = "标准阶梯价 Standard graduated"
DEFAULT_TIERS = [
    (1, 100_000, Decimal("0.1300")),
    (100_001, 500_000, Decimal("0.1100")),
    (500_001, None, Decimal("0.0900")),
]
DEFAULT_RICH_PRICE = Decimal("0.2000")


# The default plan's prices without its rows: what the send path charges when even the
# default's rows are gone (emptied tables in tests; a migration creates them).
DEFAULT_PRICES = PlanPrices(
    plan_id=0,
    name=DEFAULT_PLAN_NAME,
    tables={"": [Band(n, first, last, price) for n, (first, last, price) in enumerate(DEFAULT_TIERS, start=1)]},
    rich_price=DEFAULT_RICH_PRICE,
)

DEFAULT_PLAN_LOCK = 0x5D5_B111  # advisory lock key: one process at a time (re)creates the default plan


def default_plan() -> PricePlan:
    plan = PricePlan.objects.filter(is_default=True).first()
    if plan is not None:
        return plan
    from django.db import transaction

    from billing.models import PriceTier

    # Serialised, not raced: two workers inserting it at once each held one of the plan's
    # unique keys (name, the one default) and waited for the other's — a deadlock, seen when a
    # receipt batch and an accept both found the table emptied.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DEFAULT_PLAN_LOCK])
        plan = PricePlan.objects.filter(is_default=True).first()
        if plan is None:
            plan = PricePlan.objects.create(
                name=DEFAULT_PLAN_NAME, is_default=True, rich_message_price=DEFAULT_RICH_PRICE
            )
            PriceTier.objects.bulk_create(
                PriceTier(plan=plan, first_segment=first, last_segment=last, unit_price=price)
                for first, last, price in DEFAULT_TIERS
            )
    return plan


# The plan in force on a day: the tenant's latest assignment starting by then, else the default.
PLAN_IN_FORCE_SQL = """
SELECT p.id, p.created_at FROM billing_priceplan p
WHERE p.id = coalesce(
    (SELECT a.plan_id FROM billing_planassignment a WHERE a.tenant_id = %s AND a.starts_on <= %s
     ORDER BY a.starts_on DESC LIMIT 1),
    (SELECT d.id FROM billing_priceplan d WHERE d.is_default))
"""


def _plan_key(tenant, on: date | None) -> tuple[int, datetime]:
    """(id, created_at) of the plan in force, in one query (every send asks for it)."""
    with connection.cursor() as cursor:
        cursor.execute(PLAN_IN_FORCE_SQL, [tenant.pk, on or local_date(tenant)])
        key = cursor.fetchone()
    if key is None:
        plan = default_plan()
        key = (plan.pk, plan.created_at)
    return key


def plan_in_force(*, tenant, on: date | None = None) -> PricePlan:
    return PricePlan.objects.get(pk=_plan_key(tenant, on)[0])


# Plans are immutable once created (a new price is a new plan, assigned from a date), so their
# price tables are kept per process, keyed by id and creation time. Every send asks for them.
_PRICES: dict[tuple[int, datetime], PlanPrices] = {}


def prices_in_force(*, tenant, on: date | None = None) -> PlanPrices:
    return plan_prices_of(*_plan_key(tenant, on))


def plan_prices_of(plan_id: int, created_at: datetime) -> PlanPrices:
    """The price tables of a plan, from the process's cache when it has seen the plan."""
    prices = _PRICES.get((plan_id, created_at))
    if prices is None:
        if len(_PRICES) > 10_000:
            _PRICES.clear()
        prices = _PRICES[(plan_id, created_at)] = plan_prices(PricePlan.objects.get(pk=plan_id))
    return prices


def delivered_segments(*, tenant, month: date) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT delivered_segments FROM billing_monthlyusage WHERE tenant_id = %s AND month = %s",
            [tenant.pk, month],
        )
        row = cursor.fetchone()
    return row[0] if row else 0


def validate_bands(bands: list[tuple[int, int | None, Decimal]]) -> list[str]:
    """Problems with one price table [(first, last|None, price)], sorted or not; [] when fine."""
    from django.utils.translation import gettext as _

    if not bands:
        return [_("A price table needs at least one tier.")]
    errors = []
    ordered = sorted(bands, key=lambda b: b[0])
    if ordered[0][0] != 1:
        errors.append(_("The first tier must start at segment 1."))
    for (first, last, price), following in zip(ordered, [*ordered[1:], None], strict=True):
        if price is None or price < 0:
            errors.append(_("Prices cannot be negative."))
        if last is not None and last < first:
            errors.append(_("Tier %(first)s–%(last)s ends before it starts.") % {"first": first, "last": last})
        if following is None:
            if last is not None:
                errors.append(_("The last tier must have no upper bound."))
        elif last is None or following[0] <= last:
            errors.append(_("Tiers overlap at segment %(n)s.") % {"n": following[0]})
        elif following[0] > last + 1:
            errors.append(_("Gap between segment %(a)s and %(b)s.") % {"a": last, "b": following[0]})
    return errors


# --- The contract other apps call ----------------------------------------------------------


def unit_price(*, tenant, message_class: str, at: datetime | None = None) -> Decimal:
    """Price of the next delivered segment (the tier the tenant's month is in now)."""
    prices = prices_in_force(tenant=tenant, on=local_date(tenant, at))
    position = delivered_segments(tenant=tenant, month=month_of(tenant, at))
    parts = prices.price_segments(message_class, after=position, segments=1)
    return money(parts[0][2])


def reserve_price(*, tenant, message_class: str) -> Decimal:
    """Highest price per segment (per message for rich): what accepting a message reserves."""
    return money(prices_in_force(tenant=tenant).highest_price(message_class))


def estimate(
    *,
    tenant,
    message_class: str,
    segments: int,
    count: int = 1,
    basis: str = "expected",
    at: datetime | None = None,
    prices: PlanPrices | None = None,
    month_segments: int | None = None,
) -> Decimal:
    """Cost of `count` messages of `segments` each.

    basis="expected": graduated from this month's current volume (what it will most likely cost).
    basis="reserve": at the reserve price — what accepting them will hold from the balance; use
    this for "can this campaign start" pre-checks. `prices` and `month_segments` (delivered
    this month so far): the tenant's, at `at`, when the caller has them already.
    """
    segments, count = max(int(segments), 0), max(int(count), 0)
    prices = prices or prices_in_force(tenant=tenant, on=local_date(tenant, at))
    if message_class == RICH:
        return money(prices.rich_price * count)
    if basis == "reserve":
        return money(prices.highest_price(message_class) * segments * count)
    if month_segments is None:
        month_segments = delivered_segments(tenant=tenant, month=month_of(tenant, at))
    return prices.amount(message_class, after=month_segments, segments=segments * count)
