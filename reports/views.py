from __future__ import annotations

import csv
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from reports import charts, selectors
from reports.forms import GenerateForm, PeriodForm, RecipientsForm
from reports.models import QualityReport, ReportSettings
from reports.monthly import quarter_scorecard
from reports.selectors import Period
from reports.services import quality_report_generate, report_settings_update
from smsportal.enums import Carrier, FailureReason, MessageClass
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants.decorators import staff_view, tenant_view

EXPORTS = ("carrier", "province", "class", "template", "campaign", "hour", "failures", "arrival")


def _labels(tenant, dimension: str, values) -> dict:
    if dimension == "carrier":
        return dict(Carrier.choices)
    if dimension == "class":
        return dict(MessageClass.choices)
    if dimension == "template":
        from templates.models import MessageTemplate

        return dict(
            MessageTemplate.objects.for_tenant(tenant).filter(pk__in=[v for v in values if v]).values_list("pk", "name")
        )
    if dimension == "campaign":
        from campaigns.models import Campaign

        return dict(
            Campaign.objects.for_tenant(tenant).filter(pk__in=[v for v in values if v]).values_list("pk", "name")
        )
    return {}


def _dashboard_data(tenant, period: Period) -> dict:
    total = selectors.totals(tenant=tenant, period=period)
    tables, by_class = {}, {}
    for dimension in ("carrier", "province", "class", "template", "campaign"):
        rows = selectors.breakdown(tenant=tenant, period=period, dimension=dimension)
        labels = _labels(tenant, dimension, [value for value, _t in rows])
        tables[dimension] = [(labels.get(value, value) or "—", t) for value, t in rows]
        if dimension == "class":
            by_class = dict(rows)
    hours = selectors.by_hour_of_day(tenant=tenant, period=period)
    reason_labels = dict(FailureReason.choices)
    from reports.explanations import explain

    failures = [
        {"reason": r, "label": reason_labels.get(r, r), "count": n, "meaning": explain(r)[0], "action": explain(r)[1]}
        for r, n in selectors.failures(tenant=tenant, period=period)
    ]
    from reports.monthly import _clicks_by_hour

    clicks = _clicks_by_hour(tenant, period)
    return {
        "total": total,
        "tables": tables,
        "hours": [(h, hours.get(h), clicks.get(h, 0)) for h in range(24)],
        "arrival": selectors.arrival_by_class(tenant=tenant, period=period, per_class=by_class),
        "failures": failures,
        "clicks_total": sum(clicks.values()),
        "charts": {
            "carriers": charts.rate_bars(
                _("Delivery rate by carrier"), [(label, t.delivery_rate) for label, t in tables["carrier"]]
            ),
            "provinces": charts.rate_bars(
                _("Delivery rate by province"), [(label, t.delivery_rate) for label, t in tables["province"][:15]]
            ),
            "hours": charts.hourly(_("By hour of day"), {h: (t.delivery_rate, t.within(5)) for h, t in hours.items()}),
        },
    }


def _csv(filename: str, header: list[str], rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.write("\ufeff")  # so spreadsheet software reads the UTF-8 Chinese correctly
    writer = csv.writer(response)
    writer.writerow(header)
    writer.writerows(rows)
    return response


def _rate(value) -> str:
    return "" if value is None else f"{value:.4f}"


def _export(tenant, period: Period, what: str, data: dict) -> HttpResponse:
    name = f"{tenant.slug}-{what}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    counts = [_("sent"), _("delivered"), _("failed"), _("expired"), _("delivery rate"), _("cost")]
    if what in data["tables"]:
        return _csv(
            name,
            [what, *counts],
            [
                [label, t.accepted, t.delivered, t.failed, t.expired, _rate(t.delivery_rate), t.cost]
                for label, t in data["tables"][what]
            ],
        )
    if what == "hour":
        return _csv(
            name,
            ["hour", *counts, _("clicks")],
            [
                [h, t.accepted, t.delivered, t.failed, t.expired, _rate(t.delivery_rate), t.cost, c]
                for h, t, c in data["hours"]
                if t
            ],
        )
    if what == "failures":
        return _csv(
            name,
            [_("reason"), _("count"), _("meaning"), _("what to do")],
            [[f["label"], f["count"], f["meaning"], f["action"]] for f in data["failures"]],
        )
    return _csv(
        name,
        [_("class"), _("target seconds"), _("delivered"), _("within target"), "p50", "p95", "p99"],
        [
            [a["label"], a["target"], a["delivered"], _rate(a["within"]), a["p50"], a["p95"], a["p99"]]
            for a in data["arrival"]
        ],
    )


@tenant_view("reports.view")
def dashboard(request):
    tenant = request.tenant
    form = PeriodForm(request.GET or None, tenant_zone=ZoneInfo(tenant.timezone))
    if request.GET and not form.is_valid():
        first = last = form.today
    else:
        if not request.GET:
            form = PeriodForm({"period": "today"}, tenant_zone=ZoneInfo(tenant.timezone))
            form.is_valid()
        first, last = form.cleaned_data["first"], form.cleaned_data["last"]
    period = Period.days(tenant, first, last)
    data = _dashboard_data(tenant, period)
    export = request.GET.get("export")
    if export:
        if export not in EXPORTS:
            raise Http404
        return _export(tenant, period, export, data)
    context = {"form": form, "first": first, "last": last, "query": request.GET.urlencode(), **data}
    template = "reports/_dashboard_body.html" if request.htmx else "reports/dashboard.html"
    return render(request, template, context)


@tenant_view("reports.view")
def monthly_list(request):
    tenant = request.tenant
    reports = QualityReport.objects.for_tenant(tenant)
    settings_row = ReportSettings.objects.filter(tenant=tenant).first()
    recipients_form = RecipientsForm(
        initial={"extra_recipients": "\n".join(settings_row.extra_recipients) if settings_row else ""}
    )
    return render(
        request,
        "reports/monthly_list.html",
        {"reports": reports, "generate_form": GenerateForm(), "recipients_form": recipients_form},
    )


@tenant_view("reports.manage")
@require_POST
def monthly_generate(request):
    form = GenerateForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("month", [])))
        return redirect("reports:monthly")
    month: date = form.cleaned_data["month"]
    try:
        quality_report_generate(tenant=request.tenant, year=month.year, month=month.month, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Report for %(month)s generated.") % {"month": f"{month:%Y-%m}"})
    return redirect("reports:monthly")


@tenant_view("reports.manage")
@require_POST
def recipients_update(request):
    form = RecipientsForm(request.POST)
    if form.is_valid():
        try:
            report_settings_update(
                tenant=request.tenant,
                actor=request.user,
                extra_recipients=form.cleaned_data["extra_recipients"].splitlines(),
            )
        except ServiceError as error:
            add_service_error(form, error)
            messages.error(request, error.message)
        else:
            messages.success(request, _("Recipients saved."))
    return redirect("reports:monthly")


@tenant_view("reports.view")
def monthly_pdf(request, report_id: int):
    report = get_object_or_404(QualityReport.objects.for_tenant(request.tenant), pk=report_id)
    if not report.pdf:
        raise Http404
    return FileResponse(
        report.pdf.open("rb"),
        as_attachment=True,
        filename=f"quality-{request.tenant.slug}-{report.period_start:%Y-%m}.pdf",
        content_type="application/pdf",
    )


@tenant_view("reports.view")
def scorecard(request):
    from django.utils import timezone

    today = timezone.localdate(timezone=ZoneInfo(request.tenant.timezone))
    quarters = []
    year, quarter = today.year, (today.month - 1) // 3 + 1
    for _i in range(4):
        quarters.append(quarter_scorecard(request.tenant, year, quarter))
        year, quarter = (year - 1, 4) if quarter == 1 else (year, quarter - 1)
    return render(request, "reports/scorecard.html", {"quarters": quarters})


STAFF_DEFAULT_PERIOD = "30d"


def _staff_period(request) -> tuple[PeriodForm, Period]:
    """The overview's period, in the platform's time zone; the last 30 days unless chosen."""
    from django.conf import settings

    zone = ZoneInfo(settings.TIME_ZONE)
    form = PeriodForm(request.GET or {"period": STAFF_DEFAULT_PERIOD}, tenant_zone=zone)
    if form.is_valid():
        first, last = form.cleaned_data["first"], form.cleaned_data["last"]
    else:
        first, last = form.today - timedelta(days=29), form.today
    return form, Period(
        datetime.combine(first, time.min, zone), datetime.combine(last + timedelta(days=1), time.min, zone)
    )


def _channel_health(period: Period, channel_names: dict[int, str], channel_rows: list) -> dict:
    """Per channel (busiest first): delivery rate and p95 arrival per hour or day, as one
    server-rendered chart each, from one grouped rollup query."""
    from django.conf import settings

    step = selectors.step_for(period)
    buckets = selectors.time_buckets(period, step, settings.TIME_ZONE)
    series = selectors.channel_health_series(period=period, step=step, zone=settings.TIME_ZONE)
    label_format = "%m-%d %H:00" if step == "hour" else "%m-%d"
    result = []
    for channel_id, _t in channel_rows:
        points = series.get(channel_id)
        if not points:
            continue
        name = channel_names.get(channel_id, f"#{channel_id}")
        values = [
            (
                bucket.strftime(label_format),
                points[bucket].delivery_rate if bucket in points else None,
                points[bucket].p95 if bucket in points else None,
            )
            for bucket in buckets
        ]
        result.append({"id": channel_id, "name": name, "chart": charts.channel_health(name, values)})
    return {"step": step, "channels": result}


@staff_view
def staff_overview(request):
    from compliance.selectors import complaint_rates
    from messaging.models import Channel
    from tenants.models import Tenant

    form, period = _staff_period(request)
    tenants = {t.pk: t for t in Tenant.objects.all()}
    rates = complaint_rates()
    tenant_rows = [(tenants.get(tid), t, rates.get(tid)) for tid, t in selectors.by_tenant(period=period)]
    complaints = sum(r.complaints for r in rates.values())
    delivered_marketing = sum(r.delivered for r in rates.values())
    channel_names = dict(Channel.objects.values_list("pk", "name"))
    channel_totals = [
        (cid, t) for cid, t in selectors.breakdown(tenant=None, period=period, dimension="channel") if cid is not None
    ]
    days = selectors.by_day(tenant=None, period=period)
    from compliance.models import PlatformComplianceSettings

    return render(
        request,
        "reports/staff_overview.html",
        {
            "form": form,
            "period_first": period.start.date(),
            "period_last": (period.end - timedelta(days=1)).date(),
            "total": selectors.totals(tenant=None, period=period),
            "tenant_rows": tenant_rows,
            "channel_rows": [(channel_names.get(cid, f"#{cid}"), t) for cid, t in channel_totals],
            "health": _channel_health(period, channel_names, channel_totals),
            "arrival": selectors.arrival_by_class(tenant=None, period=period),
            "volume_chart": charts.daily_volume(
                _("Messages per day, all tenants"),
                [(d.strftime("%m-%d"), t.delivered, t.failed + t.expired) for d, t in days],
            ),
            "complaints": complaints,
            "complaint_per_10k": (round(complaints * 10000 / delivered_marketing, 2) if delivered_marketing else None),
            "complaint_window_days": PlatformComplianceSettings.load().complaint_rate_window_days,
            "reviews": selectors.review_response(period=period),
            "worst_templates": _worst_templates(period),
        },
    )


def _worst_templates(period: Period, limit: int = 10) -> list:
    from templates.models import MessageTemplate

    rows = [
        (tid, t)
        for tid, t in selectors.breakdown(tenant=None, period=period, dimension="template")
        if tid and t.finished >= 100 and t.delivery_rate is not None
    ]
    rows.sort(key=lambda item: item[1].delivery_rate)
    rows = rows[:limit]
    templates = {
        t.pk: t for t in MessageTemplate.objects.filter(pk__in=[tid for tid, _t in rows]).select_related("tenant")
    }
    return [(templates.get(tid), t) for tid, t in rows]
