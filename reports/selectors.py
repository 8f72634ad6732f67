"""Reads for dashboards and reports — from the rollups only, never the message table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Sum
from django.db.models.functions import Coalesce, ExtractHour

from reports.metrics import LATENCY_FIELDS, percentile, rate, share_within
from reports.models import MessageRollup
from reports.rollups import GRAIN_OF
from smsportal.enums import ARRIVAL_TARGET_SECONDS, MessageClass
from tenants.models import Tenant

COUNT_FIELDS = ("accepted", "rejected", "submitted", "delivered", "failed", "expired", "segments")
DIMENSION_FIELDS = {
    "carrier": "carrier",
    "province": "province",
    "class": "message_class",
    "template": "template_id",
    "campaign": "campaign_id",
    "channel": "channel_id",
}


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware

    @classmethod
    def days(cls, tenant: Tenant, first: date, last: date) -> Period:
        zone = ZoneInfo(tenant.timezone)
        return cls(datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone))

    @classmethod
    def month(cls, tenant: Tenant, year: int, month: int) -> Period:
        first = date(year, month, 1)
        following = date(year + (month == 12), month % 12 + 1, 1)
        return cls.days(tenant, first, following - timedelta(days=1))


@dataclass
class Totals:
    accepted: int = 0
    rejected: int = 0
    submitted: int = 0
    delivered: int = 0
    failed: int = 0
    expired: int = 0
    segments: int = 0
    cost: Decimal = Decimal("0")
    latency: list[int] = field(default_factory=lambda: [0] * len(LATENCY_FIELDS))

    @property
    def finished(self) -> int:
        return self.delivered + self.failed + self.expired

    @property
    def delivery_rate(self) -> float | None:
        return rate(self.delivered, self.finished)

    def p(self, q: float) -> float | None:
        return percentile(self.latency, q)

    def within(self, seconds: float) -> float | None:
        return share_within(self.latency, seconds)

    # For HTML templates, which cannot pass arguments.
    @property
    def p50(self) -> float | None:
        return self.p(50)

    @property
    def p95(self) -> float | None:
        return self.p(95)

    @property
    def p99(self) -> float | None:
        return self.p(99)

    @property
    def within_5(self) -> float | None:
        return self.within(5)


def _rollups(*, tenant: Tenant | None, period: Period, grain: str = MessageRollup.Grain.ALL):
    queryset = MessageRollup.objects.all() if tenant is None else MessageRollup.objects.for_tenant(tenant)
    return queryset.filter(grain=grain, hour__gte=period.start, hour__lt=period.end)


def _filtered(*, tenant: Tenant | None, period: Period, filters: dict):
    """The rollups answering a query filtered on (at most) one dimension: that dimension's grain."""
    columns = {lookup.split("__")[0] for lookup in filters}
    if len(columns) > 1:
        raise ValueError(f"rollups answer one dimension at a time, not {sorted(columns)}")
    grain = GRAIN_OF[columns.pop()] if columns else MessageRollup.Grain.ALL
    return _rollups(tenant=tenant, period=period, grain=grain).filter(**filters)


def _aggregates() -> dict:
    sums = {name: Coalesce(Sum(name), 0) for name in (*COUNT_FIELDS, *LATENCY_FIELDS)}
    sums["cost"] = Coalesce(Sum("cost"), Decimal("0"))
    return sums


def _totals(row: dict) -> Totals:
    return Totals(
        **{name: row[name] for name in COUNT_FIELDS},
        cost=row["cost"],
        latency=[row[name] for name in LATENCY_FIELDS],
    )


def totals(*, tenant: Tenant | None, period: Period, **filters) -> Totals:
    return _totals(_filtered(tenant=tenant, period=period, filters=filters).aggregate(**_aggregates()))


def breakdown(*, tenant: Tenant | None, period: Period, dimension: str) -> list[tuple[object, Totals]]:
    """Totals per value of a dimension (carrier, province, class, template, campaign, channel)."""
    column = DIMENSION_FIELDS[dimension]
    rows = _rollups(tenant=tenant, period=period, grain=dimension).values(column).annotate(**_aggregates())
    rows = rows.order_by(column)
    result = [(row[column], _totals(row)) for row in rows]
    result.sort(key=lambda item: -item[1].accepted)
    return result


def by_tenant(*, period: Period) -> list[tuple[int, Totals]]:
    rows = _rollups(tenant=None, period=period).values("tenant_id")
    return [(row["tenant_id"], _totals(row)) for row in rows.annotate(**_aggregates()).order_by("tenant_id")]


def by_hour_of_day(*, tenant: Tenant, period: Period, **filters) -> dict[int, Totals]:
    """Totals per local hour of day (0–23) in the tenant's time zone."""
    local_hour = ExtractHour("hour", tzinfo=ZoneInfo(tenant.timezone))
    rows = (
        _filtered(tenant=tenant, period=period, filters=filters)
        .annotate(local_hour=local_hour)
        .values("local_hour")
        .annotate(**_aggregates())
    )
    return {row["local_hour"]: _totals(row) for row in rows}


def by_day(*, tenant: Tenant | None, period: Period, zone: str = "Asia/Shanghai") -> list[tuple[date, Totals]]:
    from django.db.models.functions import TruncDate

    rows = (
        _rollups(tenant=tenant, period=period)
        .annotate(day=TruncDate("hour", tzinfo=ZoneInfo(zone)))
        .values("day")
        .annotate(**_aggregates())
        .order_by("day")
    )
    return [(row["day"], _totals(row)) for row in rows]


def failures(*, tenant: Tenant | None, period: Period, **filters) -> list[tuple[str, int]]:
    """Failure reasons ranked by count (failed, expired and rejected messages)."""
    from django.db import connection

    queryset = _filtered(tenant=tenant, period=period, filters=filters)
    sql, params = queryset.values("failures").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT kv.key, sum(kv.value::bigint) FROM ({sql}) r, jsonb_each_text(r.failures) kv "
            "GROUP BY kv.key ORDER BY 2 DESC, 1",
            params,
        )
        return [(key, int(count)) for key, count in cursor.fetchall()]


def failures_by(*, tenant: Tenant, period: Period, dimension: str) -> dict[object, dict[str, int]]:
    """Per value of a dimension (template, campaign, carrier…): its failure reasons and counts,
    in one query."""
    from django.db import connection

    column = DIMENSION_FIELDS[dimension]
    rows = _rollups(tenant=tenant, period=period, grain=dimension).values(column, "failures")
    sql, params = rows.query.sql_with_params()
    result: dict[object, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.{column}, kv.key, sum(kv.value::bigint) FROM ({sql}) r, jsonb_each_text(r.failures) kv "
            "GROUP BY 1, 2",
            params,
        )
        for value, reason, count in cursor.fetchall():
            result.setdefault(value, {})[reason] = int(count)
    return result


def failures_by_template(*, tenant: Tenant, period: Period, reason: str) -> list[tuple[int | None, int]]:
    """Templates ranked by how many of their messages failed for `reason`."""
    from django.db import connection

    rows = _rollups(tenant=tenant, period=period, grain=MessageRollup.Grain.TEMPLATE)
    sql, params = rows.values("template_id", "failures").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.template_id, sum((r.failures->>%s)::bigint) FROM ({sql}) r "
            "WHERE r.failures ? %s GROUP BY r.template_id ORDER BY 2 DESC",
            [reason, *params, reason],
        )
        return [(template_id, int(count)) for template_id, count in cursor.fetchall()]


def arrival_by_class(*, tenant: Tenant | None, period: Period, per_class: dict | None = None) -> list[dict]:
    """Per class: deliveries, share within its target (alerts 1 s, codes 3 s, notifications 5 s),
    p50/p95/p99. `per_class`: the period's breakdown by class, when the caller has it already."""
    if per_class is None:
        per_class = dict(breakdown(tenant=tenant, period=period, dimension="class"))
    result = []
    for message_class in MessageClass:
        class_totals = per_class.get(message_class.value, Totals())
        target = ARRIVAL_TARGET_SECONDS[message_class]
        result.append(
            {
                "class": message_class,
                "label": message_class.label,
                "target": target,
                "delivered": class_totals.delivered,
                "within": class_totals.within(target),
                "p50": class_totals.p(50),
                "p95": class_totals.p(95),
                "p99": class_totals.p(99),
            }
        )
    return result


# --- Platform staff overview ------------------------------------------------------------


def step_for(period: Period) -> str:
    """Hourly points for short periods (up to three days), daily points beyond."""
    return "hour" if period.end - period.start <= timedelta(days=3) else "day"


def time_buckets(period: Period, step: str, zone: str) -> list[datetime]:
    """Every bucket start of the period, in `zone` (so empty hours/days still get a point)."""
    tz = ZoneInfo(zone)
    if step == "hour":
        buckets = []
        start = period.start.astimezone(tz).replace(minute=0, second=0, microsecond=0)
        while start < period.end:
            buckets.append(start)
            start = (start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)  # real hours, DST-proof
        return buckets
    day = period.start.astimezone(tz).date()
    buckets = []
    while (start := datetime.combine(day, time.min, tz)) < period.end:
        buckets.append(start)
        day += timedelta(days=1)
    return buckets


def channel_health_series(
    *, period: Period, step: str, zone: str = "Asia/Shanghai"
) -> dict[int, dict[datetime, Totals]]:
    """Channel id → {bucket start (hour or day in `zone`) → Totals}, every channel in ONE
    grouped query on the rollups. Messages never routed to a channel (rejected) are left out.
    Delivery rate and the arrival percentiles come from each bucket's Totals."""
    from django.db.models.functions import Trunc

    if step not in ("hour", "day"):
        raise ValueError(f"unknown step {step!r}")
    rows = (
        _rollups(tenant=None, period=period, grain=MessageRollup.Grain.CHANNEL)
        .filter(channel_id__isnull=False)
        .annotate(bucket=Trunc("hour", step, tzinfo=ZoneInfo(zone)))
        .values("channel_id", "bucket")
        .annotate(**_aggregates())
        .order_by("channel_id", "bucket")
    )
    series: dict[int, dict[datetime, Totals]] = {}
    for row in rows:
        series.setdefault(row["channel_id"], {})[row["bucket"]] = _totals(row)
    return series


def review_response(*, period: Period) -> dict:
    """The staff review queue's response times: cases decided in the period (time from
    queueing to decision, share decided before the 2-working-hour due time) and the cases
    still waiting now (how many are overdue, the oldest). Two aggregate queries."""
    from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Max, Min, Q
    from django.utils import timezone

    from templates.models import ReviewCase

    waited = ExpressionWrapper(F("decided_at") - F("queued_at"), output_field=DurationField())
    decided = ReviewCase.objects.filter(decided_at__gte=period.start, decided_at__lt=period.end).aggregate(
        n=Count("id"),
        on_time=Count("id", filter=Q(decided_at__lte=F("due_at"))),
        avg=Avg(waited),
        longest=Max(waited),
    )
    now = timezone.now()
    waiting = ReviewCase.objects.filter(decided_at__isnull=True, status=ReviewCase.Status.PENDING).aggregate(
        n=Count("id"), overdue=Count("id", filter=Q(due_at__lt=now)), oldest=Min("queued_at")
    )

    def hours(value) -> float | None:
        return value.total_seconds() / 3600 if value is not None else None

    return {
        "decided": decided["n"],
        "on_time": decided["on_time"],
        "on_time_rate": rate(decided["on_time"], decided["n"]),
        "avg_hours": hours(decided["avg"]),
        "longest_hours": hours(decided["longest"]),
        "waiting": waiting["n"],
        "overdue": waiting["overdue"],
        "oldest_waiting_hours": hours(now - waiting["oldest"]) if waiting["oldest"] else None,
    }
