"""Writes: generating, storing and emailing the monthly quality report."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from reports import charts, monthly
from reports.models import QualityReport, ReportSettings
from smsportal.errors import ServiceError
from smsportal.pdf import render_pdf
from tenants.models import Membership, Role, Tenant


def month_charts(report: monthly.MonthReport) -> dict[str, str]:
    """The report's charts; the dashboard page and the PDF embed the same SVGs."""
    return {
        "carriers": charts.rate_bars(
            _("Delivery rate by carrier"), [(label, t.delivery_rate) for label, t in report.carriers]
        ),
        "provinces": charts.rate_bars(
            _("Delivery rate by province"), [(label, t.delivery_rate) for label, t, _key in report.provinces[:15]]
        ),
        "hours": charts.hourly(
            _("By hour of day"), {h: (t.delivery_rate, t.within(5)) for h, t in report.hours.items()}
        ),
        "days": charts.daily_volume(
            _("Messages per day"), [(d.strftime("%m-%d"), t.delivered, t.failed + t.expired) for d, t in report.days]
        ),
        "arrival": charts.arrival_distribution(
            _("Arrival time by message class, share of deliveries"), [(label, t.latency) for label, t in report.classes]
        ),
    }


def _first_of_month(year: int, month: int) -> date:
    if not 1 <= month <= 12 or year < 2000:
        raise ServiceError("bad_month", _("Choose a valid month."), field="month")
    return date(year, month, 1)


def report_recipients(*, tenant: Tenant) -> list[str]:
    admins = Membership.objects.for_tenant(tenant).filter(role__in=[Role.OWNER, Role.ADMIN])
    emails = list(admins.values_list("user__email", flat=True))
    extra = ReportSettings.objects.filter(tenant=tenant).values_list("extra_recipients", flat=True).first() or []
    return sorted(set(emails) | set(extra))


def quality_report_generate(*, tenant: Tenant, year: int, month: int, actor=None) -> QualityReport:
    """Build (or rebuild) the month's report PDF. The PDF is rendered outside the transaction."""
    first = _first_of_month(year, month)
    if first > timezone.localdate().replace(day=1):
        raise ServiceError("future_month", _("This month has not started yet."), field="month")
    with translation.override(settings.LANGUAGE_CODE):
        data = monthly.build(tenant, first)
        pdf = render_pdf(
            "reports/pdf/monthly.html",
            {
                "tenant": tenant,
                "r": data,
                "charts": month_charts(data),
                "failure_tables": [
                    (_("Template"), data.failures_by_template),
                    (_("Campaign"), data.failures_by_campaign),
                ],
                "generated_at": timezone.now(),
            },
        )
    import io

    from pypdf import PdfReader

    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    with transaction.atomic():
        report, _created = QualityReport.objects.select_for_update().get_or_create(
            tenant=tenant, kind=QualityReport.Kind.MONTHLY, period_start=first
        )
        if report.pdf:
            report.pdf.delete(save=False)
        report.pdf.save(f"quality-{tenant.slug}-{first:%Y-%m}.pdf", ContentFile(pdf), save=False)
        report.pages = pages
        report.generated_at = timezone.now()
        report.summary = {
            "accepted": data.totals.accepted,
            "delivered": data.totals.delivered,
            "delivery_rate": data.totals.delivery_rate,
            "cost": str(data.totals.cost),
            "advice": len(data.advice),
        }
        report.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="report.generated",
            obj=report,
            after={"month": f"{first:%Y-%m}", "pages": pages},
        )
    return report


def quality_report_email(*, report: QualityReport) -> list[str]:
    recipients = report_recipients(tenant=report.tenant)
    if not recipients:
        return []
    with translation.override(settings.LANGUAGE_CODE):
        context = {"report": report, "tenant": report.tenant, "site_url": settings.SITE_URL}
        subject = _("%(tenant)s: quality report for %(month)s") % {
            "tenant": report.tenant.name,
            "month": report.period_start.strftime("%Y-%m"),
        }
        body = render_to_string("reports/email/monthly.txt", context)
    message = EmailMessage(subject, body, to=recipients)
    report.pdf.open("rb")
    try:
        message.attach(report.pdf.name.rsplit("/", 1)[-1], report.pdf.read(), "application/pdf")
    finally:
        report.pdf.close()
    message.send()
    QualityReport.objects.filter(pk=report.pk).update(emailed_at=timezone.now(), emailed_to=recipients)
    return recipients


def report_settings_update(*, tenant: Tenant, actor, extra_recipients: list[str]) -> ReportSettings:
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    cleaned = []
    for address in extra_recipients:
        address = address.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ServiceError(
                "bad_email", _("“%(email)s” is not an email address.") % {"email": address}, field="extra_recipients"
            ) from None
        cleaned.append(address.lower())
    with transaction.atomic():
        row, _created = ReportSettings.objects.select_for_update().get_or_create(tenant=tenant)
        before = {"extra_recipients": row.extra_recipients}
        row.extra_recipients = sorted(set(cleaned))
        row.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="report.recipients_changed",
            obj=row,
            before=before,
            after={"extra_recipients": row.extra_recipients},
        )
    return row
