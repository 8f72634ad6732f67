from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail

from messaging.models import Message
from reports import tasks
from reports.models import QualityReport
from reports.rollups import rollup_rebuild
from smsportal.factories import MembershipFactory
from smsportal.pdf import pdf_fonts, pdf_text
from tenants.models import Role

OCTOBER = datetime(2026, 10, 10, 2, 0, tzinfo=UTC)


@pytest.fixture
def october_traffic(tenant):
    rows = []
    for i in range(400):
        delivered = i % 20 != 0
        accepted = OCTOBER + timedelta(minutes=i)
        rows.append(
            Message(
                tenant=tenant,
                number=f"+86138{i:08d}",
                carrier="mobile" if i % 2 else "unicom",
                province="北京市",
                message_class="verification" if i % 3 else "marketing",
                lane="urgent",
                segments=1,
                status="delivered" if delivered else "failed",
                failure_reason="" if delivered else "vacant_number",
                accepted_at=accepted,
                submitted_at=accepted,
                done_at=accepted + timedelta(seconds=1 + i % 4),
            )
        )
    Message.objects.bulk_create(rows)
    rollup_rebuild(start=OCTOBER - timedelta(days=10), end=OCTOBER + timedelta(days=25), tenant_ids=[tenant.id])


def test_monthly_pdf_has_the_tenants_numbers_in_chinese(tenant, member, october_traffic):
    from reports.services import quality_report_generate

    report = quality_report_generate(tenant=tenant, year=2026, month=10)
    data = report.pdf.read()
    text = pdf_text(data)
    assert tenant.name in text
    assert "月度质量报告" in text or "质量报告" in text
    assert "400" in text and "380" in text  # sent and delivered
    assert "95.00%" in text  # 380 / 400
    assert "空号" in text  # the failure reason, in Chinese
    assert any("Hei" in font or "CJK" in font for font in pdf_fonts(data))
    assert report.summary["delivered"] == 380


def test_schedule_task_emails_the_pdf_to_admins(tenant, member, october_traffic):
    MembershipFactory(tenant=tenant, role=Role.VIEWER)
    admin = MembershipFactory(tenant=tenant, role=Role.ADMIN)
    done = tasks.monthly_reports(2026, 10)
    assert done >= 1
    report = QualityReport.objects.get(tenant=tenant, period_start="2026-10-01")
    assert report.emailed_at is not None
    sent = [m for m in mail.outbox if tenant.name in m.subject]
    assert len(sent) == 1
    assert set(sent[0].to) == {member.user.email, admin.user.email}
    _name, content, mimetype = sent[0].attachments[0]
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")


def test_regenerating_replaces_the_report(tenant, october_traffic):
    from reports.services import quality_report_generate

    first = quality_report_generate(tenant=tenant, year=2026, month=10)
    second = quality_report_generate(tenant=tenant, year=2026, month=10)
    assert first.pk == second.pk
    assert QualityReport.objects.filter(tenant=tenant).count() == 1


def test_future_month_is_refused(tenant):
    from reports.services import quality_report_generate
    from smsportal.errors import ServiceError

    with pytest.raises(ServiceError) as caught:
        quality_report_generate(tenant=tenant, year=2099, month=1)
    assert caught.value.code == "future_month"


def test_ensure_schedules_is_idempotent(db):
    from django_q.models import Schedule

    tasks.ensure_schedules()
    tasks.ensure_schedules()
    assert Schedule.objects.filter(name="reports.monthly_reports", schedule_type=Schedule.MONTHLY).count() == 1
    assert Decimal(1) == 1


def test_monthly_report_has_a_line_per_template_and_campaign(tenant, october_traffic):
    """A busy tenant looks for the template or campaign that delivers worst or costs most."""
    from campaigns.models import Campaign
    from reports.monthly import build
    from smsportal.factories.templates import approved_template

    code = approved_template(tenant=tenant, name="登录验证码")
    promo = approved_template(
        tenant=tenant, kind="marketing", body="双十一全场五折，回T退订", variables=[], name="双十一"
    )
    campaign = Campaign.objects.create(tenant=tenant, name="双十一会员日", template=promo)
    messages = Message.objects.filter(tenant=tenant).order_by("id")
    ids = list(messages.values_list("id", flat=True))
    Message.objects.filter(id__in=ids[:300]).update(template=code)
    Message.objects.filter(id__in=ids[300:]).update(template=promo, campaign_id=campaign.pk)
    rollup_rebuild(start=OCTOBER - timedelta(days=10), end=OCTOBER + timedelta(days=25), tenant_ids=[tenant.id])

    report = build(tenant, OCTOBER.date().replace(day=1))
    by_name = {line["name"]: line for line in report.templates}
    assert [line["name"] for line in report.templates] == ["登录验证码", "双十一"]  # busiest first
    assert (by_name["登录验证码"]["sent"], by_name["登录验证码"]["delivered"]) == (300, 285)
    assert (by_name["双十一"]["sent"], by_name["双十一"]["failed"]) == (100, 5)
    [line] = report.campaigns
    assert (line["name"], line["sent"], line["delivered"]) == ("双十一会员日", 100, 95)
    # Where the failures come from: all 20 vacant numbers, split by template and campaign.
    by_template = {line["name"]: line for line in report.failures_by_template}
    assert by_template["登录验证码"]["failed"] == 15
    assert [(str(label), count) for label, count in by_template["登录验证码"]["reasons"]] == [("空号", 15)]
    assert [(line["name"], line["failed"]) for line in report.failures_by_campaign] == [("双十一会员日", 5)]


def test_monthly_pdf_details_days_hours_and_failure_sources(tenant, october_traffic):
    from reports.services import quality_report_generate
    from smsportal.factories.templates import approved_template

    code = approved_template(tenant=tenant, name="登录验证码")
    Message.objects.filter(tenant=tenant).update(template=code)
    rollup_rebuild(start=OCTOBER - timedelta(days=10), end=OCTOBER + timedelta(days=25), tenant_ids=[tenant.id])

    text = pdf_text(quality_report_generate(tenant=tenant, year=2026, month=10).pdf.read())
    assert "按小时的送达率与到达时间" in text
    assert "10-10" in text  # the day's own line in the daily table
    # 400 messages from 10:00 Shanghai, one a minute: 60 in each of 10:00 … 15:00, 40 at 16:00.
    assert "16:00" in text and "40" in text
    assert "按模板和活动的失败原因" in text
    assert "空号 20" in text  # the template's failures, by reason
