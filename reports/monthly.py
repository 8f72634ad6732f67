"""Everything the monthly quality report shows, built from rollups (and the small tables of
templates, campaigns, billing and compliance) — never from the raw message table."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q
from django.utils.translation import gettext as _

from reports import advice as advice_rules
from reports import selectors
from reports.explanations import explain
from reports.selectors import Period, Totals
from smsportal.enums import Carrier, FailureReason, MessageClass
from tenants.models import Tenant

# 重点区域: the first-tier cities' provinces, held to the 99% benchmark.
KEY_REGIONS = ("北京市", "上海市", "广东省")
QUARTER_END_MONTHS = (3, 6, 9, 12)


def previous_month(first: date) -> date:
    return (first - timedelta(days=1)).replace(day=1)


def _change(now: float | Decimal | int | None, before: float | Decimal | int | None) -> float | None:
    if now is None or before in (None, 0):
        return None
    return float(now) / float(before) - 1


@dataclass
class MonthReport:
    tenant: Tenant
    first: date
    period: Period
    totals: Totals
    previous: Totals
    carriers: list = field(default_factory=list)
    provinces: list = field(default_factory=list)
    classes: list = field(default_factory=list)
    arrival: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    blocked_templates: list = field(default_factory=list)
    templates: list = field(default_factory=list)  # per template: what each sent, delivered and cost
    campaigns: list = field(default_factory=list)  # per campaign, the same
    hours: dict = field(default_factory=dict)
    best_hours: list = field(default_factory=list)
    hour_rows: list = field(default_factory=list)
    campaign_failures: dict = field(default_factory=dict)  # campaign id → {reason: count}
    failures_by_template: list = field(default_factory=list)
    failures_by_campaign: list = field(default_factory=list)
    clicks_by_hour: dict = field(default_factory=dict)
    tiers: list = field(default_factory=list)
    complaint_rate: Decimal | None = None
    complaints: int = 0
    advice: list = field(default_factory=list)
    scorecard: dict | None = None
    days: list = field(default_factory=list)

    @property
    def changes(self) -> dict:
        return {
            "accepted": _change(self.totals.accepted, self.previous.accepted),
            "delivered": _change(self.totals.delivered, self.previous.delivered),
            "cost": _change(self.totals.cost, self.previous.cost),
            "delivery_rate_points": (
                (self.totals.delivery_rate - self.previous.delivery_rate) * 100
                if self.totals.delivery_rate is not None and self.previous.delivery_rate is not None
                else None
            ),
        }


def _template_names(tenant: Tenant, ids) -> dict:
    from templates.models import MessageTemplate

    return dict(
        MessageTemplate.objects.for_tenant(tenant).filter(pk__in=[i for i in ids if i]).values_list("pk", "name")
    )


def _campaign_names(tenant: Tenant, ids) -> dict:
    from campaigns.models import Campaign

    return dict(Campaign.objects.for_tenant(tenant).filter(pk__in=[i for i in ids if i]).values_list("pk", "name"))


def _template_usage(tenant: Tenant, period: Period, rows) -> list[advice_rules.TemplateUsage]:
    from compliance.rules.sensitive import find_words
    from compliance.rules.wordlists import PLATFORM_SENSITIVE_WORDS
    from templates.models import MessageTemplate
    from templates.rendering import render_preview
    from templates.segments import count_segments

    blocked = dict(selectors.failures_by_template(tenant=tenant, period=period, reason=FailureReason.CONTENT_BLOCKED))
    templates = {
        t.pk: t
        for t in MessageTemplate.objects.for_tenant(tenant)
        .filter(pk__in=[template_id for template_id, _totals in rows if template_id])
        .select_related("approved_version", "signature")
    }
    usage = []
    for template_id, totals in rows:
        template = templates.get(template_id)
        if template is None or template.approved_version is None:
            continue
        version = template.approved_version
        text = render_preview(
            version_body=version.body, variables=version.variables, signature_name=template.signature.name
        )
        count = count_segments(text)
        words = sorted({word for _s, _e, word in find_words(version.body, PLATFORM_SENSITIVE_WORDS)})
        usage.append(
            advice_rules.TemplateUsage(
                template_id=template.pk,
                name=template.name,
                rendered_example=text,
                encoding=count.encoding,
                characters=count.characters,
                segments=count.segments,
                delivered=totals.delivered,
                content_blocked=blocked.get(template.pk, 0),
                blocked_words=words,
            )
        )
    return usage


def _clicks_by_hour(tenant: Tenant, period: Period) -> dict[int, int]:
    try:
        from campaigns.selectors import clicks_by_hour
    except ImportError:
        return {}
    return clicks_by_hour(tenant=tenant, start=period.start, end=period.end)


def _tiers(tenant: Tenant, first: date) -> list[dict]:
    from billing.selectors import month_summary

    return month_summary(tenant=tenant, first=first).lines


def _complaints(tenant: Tenant, period: Period) -> tuple[int, Decimal | None]:
    from compliance.models import Complaint

    complaints = (
        Complaint.objects.for_tenant(tenant).filter(received_at__gte=period.start, received_at__lt=period.end).count()
    )
    delivered_marketing = selectors.totals(tenant=tenant, period=period, message_class=MessageClass.MARKETING).delivered
    rate = (
        (Decimal(complaints) * 10000 / delivered_marketing).quantize(Decimal("0.01")) if delivered_marketing else None
    )
    return complaints, rate


def quarter_scorecard(tenant: Tenant, year: int, quarter: int) -> dict:
    """Delivery rate, complaint rate and service response (review and complaint handling times)."""
    from compliance.models import Complaint
    from templates.models import ReviewCase

    first = date(year, 3 * quarter - 2, 1)
    last = date(year + (quarter == 4), (3 * quarter) % 12 + 1, 1) - timedelta(days=1)
    period = Period.days(tenant, first, last)
    totals = selectors.totals(tenant=tenant, period=period)
    complaints, complaint_rate = _complaints(tenant, period)
    reviews = ReviewCase.objects.for_tenant(tenant).filter(decided_at__gte=period.start, decided_at__lt=period.end)
    review_time = reviews.aggregate(
        avg=Avg(ExpressionWrapper(F("decided_at") - F("created_at"), output_field=DurationField())), n=Count("id")
    )
    handled = Complaint.objects.for_tenant(tenant).filter(received_at__gte=period.start, received_at__lt=period.end)
    complaint_time = handled.filter(resolved_at__isnull=False).aggregate(
        avg=Avg(ExpressionWrapper(F("resolved_at") - F("received_at"), output_field=DurationField())),
        n=Count("id"),
        open=Count("id", filter=Q(resolved_at__isnull=True)),
    )
    return {
        "year": year,
        "quarter": quarter,
        "delivery_rate": totals.delivery_rate,
        "complaints": complaints,
        "complaint_rate": complaint_rate,
        "reviews": review_time["n"],
        "review_hours": review_time["avg"].total_seconds() / 3600 if review_time["avg"] else None,
        "complaints_resolved": complaint_time["n"],
        "complaint_hours": complaint_time["avg"].total_seconds() / 3600 if complaint_time["avg"] else None,
    }


def build(tenant: Tenant, first: date) -> MonthReport:
    period = Period.month(tenant, first.year, first.month)
    before = previous_month(first)
    report = MonthReport(
        tenant=tenant,
        first=first,
        period=period,
        totals=selectors.totals(tenant=tenant, period=period),
        previous=selectors.totals(tenant=tenant, period=Period.month(tenant, before.year, before.month)),
    )
    carrier_labels = dict(Carrier.choices)
    report.carriers = [
        (carrier_labels.get(value, value), totals)
        for value, totals in selectors.breakdown(tenant=tenant, period=period, dimension="carrier")
    ]
    report.provinces = [
        (value or _("Unknown"), totals, value in KEY_REGIONS)
        for value, totals in selectors.breakdown(tenant=tenant, period=period, dimension="province")
    ]
    class_labels = dict(MessageClass.choices)
    class_rows = selectors.breakdown(tenant=tenant, period=period, dimension="class")
    report.classes = [(class_labels.get(value, value), totals) for value, totals in class_rows]
    report.arrival = selectors.arrival_by_class(tenant=tenant, period=period, per_class=dict(class_rows))
    reason_labels = dict(FailureReason.choices)
    report.failures = [
        {
            "reason": reason,
            "label": reason_labels.get(reason, reason),
            "count": count,
            "meaning": explain(reason)[0],
            "action": explain(reason)[1],
        }
        for reason, count in selectors.failures(tenant=tenant, period=period)
    ]
    template_rows = selectors.breakdown(tenant=tenant, period=period, dimension="template")
    campaign_rows = selectors.breakdown(tenant=tenant, period=period, dimension="campaign")
    usage = _template_usage(tenant, period, template_rows)
    report.blocked_templates = [u for u in usage if u.content_blocked]
    report.templates = _performance(
        template_rows,
        names_for=lambda ids: _template_names(tenant, ids),
        segments={u.template_id: u.segments for u in usage},
    )
    report.campaigns = _performance(campaign_rows, names_for=lambda ids: _campaign_names(tenant, ids))
    report.campaign_failures = selectors.failures_by(tenant=tenant, period=period, dimension="campaign")
    report.failures_by_template = _failure_lines(
        selectors.failures_by(tenant=tenant, period=period, dimension="template"), report.templates
    )
    report.failures_by_campaign = _failure_lines(report.campaign_failures, report.campaigns)
    report.hours = selectors.by_hour_of_day(tenant=tenant, period=period)
    report.clicks_by_hour = _clicks_by_hour(tenant, period)
    report.best_hours = best_hours(report.hours, report.clicks_by_hour)
    report.hour_rows = [
        {"hour": hour, "totals": report.hours[hour], "clicks": report.clicks_by_hour.get(hour, 0)}
        for hour in sorted(report.hours)
    ]
    report.tiers = _tiers(tenant, first)
    report.complaints, report.complaint_rate = _complaints(tenant, period)
    report.days = selectors.by_day(tenant=tenant, period=period, zone=tenant.timezone)
    report.advice = advice_rules.generate(_advice_input(tenant, report, usage, campaign_rows))
    if first.month in QUARTER_END_MONTHS:
        report.scorecard = quarter_scorecard(tenant, first.year, first.month // 3)
    return report


def _failure_lines(failures: dict, lines: list[dict], top: int = 4) -> list[dict]:
    """The failures of each template or campaign (from `_performance` lines, which carry the id
    and name), the worst first, with its most frequent reasons — refusals at accept included."""
    labels = dict(FailureReason.choices)
    result = []
    for line in lines:
        reasons = failures.get(line["id"])
        if not reasons:
            continue
        ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
        result.append(
            {
                "name": line["name"],
                "failed": sum(reasons.values()),
                "reasons": [(labels.get(reason, reason), count) for reason, count in ranked[:top]],
                "more": len(ranked) > top,
            }
        )
    result.sort(key=lambda item: -item["failed"])
    return result


def _performance(rows, *, names_for, segments: dict | None = None) -> list[dict]:
    """One line per template or campaign that sent this month, busiest first: the table a
    tenant scans for the one that delivers worst or costs most."""
    rows = [(key, totals) for key, totals in rows if key]
    names = names_for([key for key, _totals in rows])
    lines = [
        {
            "id": key,
            "name": names.get(key, f"#{key}"),
            "sent": totals.accepted,
            "delivered": totals.delivered,
            "failed": totals.failed + totals.expired,
            "delivery_rate": totals.delivery_rate,
            "p95": totals.p95,
            "segments": (segments or {}).get(key),
            "cost": totals.cost,
        }
        for key, totals in rows
    ]
    lines.sort(key=lambda line: (-line["sent"], line["name"]))
    return lines


def best_hours(hours: dict[int, Totals], clicks: dict[int, int], minimum: int = 200) -> list[dict]:
    """Hours ranked by clicks per delivered message, then delivery rate; empty when too little data."""
    ranked = []
    for hour, totals in hours.items():
        if totals.delivered < minimum:
            continue
        ranked.append(
            {
                "hour": hour,
                "delivered": totals.delivered,
                "delivery_rate": totals.delivery_rate,
                "click_rate": clicks.get(hour, 0) / totals.delivered,
            }
        )
    ranked.sort(key=lambda h: (-h["click_rate"], -(h["delivery_rate"] or 0)))
    return ranked[:3]


def _advice_input(tenant: Tenant, report: MonthReport, usage, campaigns) -> advice_rules.AdviceInput:
    from billing.pricing import unit_price

    period = report.period
    failures = {line["reason"]: line["count"] for line in report.failures}
    names = _campaign_names(tenant, [campaign_id for campaign_id, _t in campaigns])
    audiences = []
    for campaign_id, _totals in campaigns:
        if campaign_id is None:
            continue
        vacant = report.campaign_failures.get(campaign_id, {}).get(FailureReason.VACANT_NUMBER, 0)
        audiences.append(
            advice_rules.AudienceQuality(names.get(campaign_id, f"#{campaign_id}"), _totals.finished, vacant)
        )
    hour_quality = []
    for hour, totals in report.hours.items():
        hour_quality.append(advice_rules.HourQuality(hour, totals.delivered, totals.within(5), totals.delivery_rate))
    marketing_hours = selectors.by_hour_of_day(tenant=tenant, period=period, message_class=MessageClass.MARKETING)
    quiet_start, quiet_end = _quiet_hours(tenant)
    near = {(quiet_start - 1) % 24, quiet_end % 24}
    return advice_rules.AdviceInput(
        unit_price=unit_price(tenant=tenant, message_class=MessageClass.MARKETING),
        templates=usage,
        audiences=audiences,
        hours=hour_quality,
        carriers=[(label, totals.finished, totals.delivery_rate) for label, totals in report.carriers],
        key_regions=[
            (label, totals.finished, totals.delivery_rate) for label, totals, is_key in report.provinces if is_key
        ],
        blacklisted=failures.get(FailureReason.CARRIER_BLACKLIST, 0),
        finished=report.totals.finished,
        marketing_total=sum(t.accepted for t in marketing_hours.values()),
        marketing_near_quiet=sum(t.accepted for hour, t in marketing_hours.items() if hour in near),
        quiet_start=f"{quiet_start:02d}:00",
        quiet_end=f"{quiet_end:02d}:00",
    )


def _quiet_hours(tenant: Tenant) -> tuple[int, int]:
    """(hour quiet time starts, hour sending may resume) — the campaigns send window, default 21–08."""
    from campaigns.models import CampaignSettings

    settings_row = CampaignSettings.objects.filter(tenant=tenant).first()
    if settings_row is None:
        return 21, 8
    return settings_row.send_window_end.hour, settings_row.send_window_start.hour
