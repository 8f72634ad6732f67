from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.utils import timezone

from billing import selectors, services
from billing.models import LedgerEntry, MonthlyUsage, Statement
from billing.views import charges_csv_response
from smsportal.errors import Conflict, Unprocessable
from smsportal.factories import MembershipFactory
from smsportal.factories.billing import PlanAssignmentFactory, fund, plan_with_tiers
from smsportal.pdf import pdf_fonts, pdf_text
from tenants.models import Role

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
JAN = datetime(2026, 1, 15, 10, tzinfo=SH)


def book_january(tenant, staff):
    """A top-up, an adjustment and 4 deliveries in January 2026, crossing the 100,000 boundary."""
    fund(tenant, "500", reference="ICBC-2026-0105", actor=staff)
    services.account_adjust(tenant=tenant, actor=staff, amount="-1.5", reason="渠道费用更正")
    LedgerEntry.objects.filter(tenant=tenant).update(occurred_at=datetime(2026, 1, 5, 9, tzinfo=SH))
    MonthlyUsage.objects.create(tenant=tenant, month=date(2026, 1, 1), delivered_segments=99_998)
    services.ledger_reserve_batch(tenant=tenant, items=[(11, 2, "marketing"), (12, 1, "verification")])
    services.ledger_capture_batch(
        items=[
            (tenant.pk, 11, 2, "marketing", JAN),
            (tenant.pk, 12, 1, "verification", JAN + timedelta(hours=1)),
            (tenant.pk, 13, 3, "notification", JAN + timedelta(hours=2)),
            (tenant.pk, 14, 1, "notification", datetime(2026, 1, 31, 23, 59, tzinfo=SH)),
        ]
    )
    # Delivered on 1 February (Shanghai) although still January in UTC: not on January's statement.
    services.ledger_capture_batch(items=[(tenant.pk, 15, 1, "alert", datetime(2026, 2, 1, 0, 5, tzinfo=SH))])


def csv_rows(tenant, first):
    response = charges_csv_response(tenant=tenant, first=first)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))[1:]


def test_statement_reconciles_with_the_csv_export(tenant, staff):
    book_january(tenant, staff)
    statement = services.statement_generate(tenant=tenant, year=2026, month=1, actor=staff)
    assert statement.messages_total == 4
    assert statement.segments_total == 7
    # segments 99,999-100,000 at 0.13, 100,001-100,005 at 0.11
    assert statement.charges_total == Decimal("0.8100")
    lines = {(line["message_class"], line["tier"]): (line["quantity"], line["amount"]) for line in statement.lines}
    assert lines == {
        ("marketing", 1): (2, "0.2600"),
        ("notification", 2): (4, "0.4400"),
        ("verification", 2): (1, "0.1100"),
    }
    assert sum(Decimal(line["amount"]) for line in statement.lines) == statement.charges_total

    rows = csv_rows(tenant, date(2026, 1, 1))
    assert [int(r[0]) for r in rows] == [11, 12, 13, 14]
    assert sum(Decimal(r[5]) for r in rows) == statement.charges_total
    assert sum(int(r[3]) for r in rows) == statement.segments_total

    assert statement.opening_balance == Decimal("0")
    assert statement.top_ups_total == Decimal("500.0000")
    assert statement.adjustments_total == Decimal("-1.5000")
    assert statement.closing_balance == Decimal("500") - Decimal("1.5") - Decimal("0.81")
    # February opens where January closed.
    feb = selectors.month_summary(tenant=tenant, first=date(2026, 2, 1))
    assert feb.opening_balance == statement.closing_balance
    assert feb.charges_total == Decimal("0.1300")


def test_statement_pdf_has_chinese_glyphs(tenant, staff):
    book_january(tenant, staff)
    statement = services.statement_generate(tenant=tenant, year=2026, month=1, actor=staff)
    pdf = bytes(statement.pdf)
    assert pdf.startswith(b"%PDF")
    fonts = " ".join(pdf_fonts(pdf))
    assert any(name in fonts for name in ("WenQuanYi", "Noto", "SourceHan", "Droid")), fonts
    text = pdf_text(pdf)
    assert tenant.name in text
    assert "对账单" in text
    assert "渠道费用更正" in text
    assert "ICBC-2026-0105" in text


def test_regenerating_bumps_the_revision(tenant, staff):
    book_january(tenant, staff)
    first = services.statement_generate(tenant=tenant, year=2026, month=1, actor=staff)
    again = services.statement_generate(tenant=tenant, year=2026, month=1, actor=staff)
    assert again.pk == first.pk
    assert again.revision == 2
    assert Statement.objects.filter(tenant=tenant).count() == 1


def test_open_month_cannot_have_a_statement(tenant):
    now = timezone.localtime(timezone.now(), SH)
    with pytest.raises(Unprocessable) as caught:
        services.statement_generate(tenant=tenant, year=now.year, month=now.month)
    assert caught.value.code == "month_not_closed"


def test_a_late_receipt_for_a_statemented_month_lands_in_the_current_month(tenant, staff):
    book_january(tenant, staff)
    statement = services.statement_generate(tenant=tenant, year=2026, month=1)
    services.ledger_capture_batch(items=[(tenant.pk, 99, 1, "alert", JAN)])
    entry = LedgerEntry.objects.get(tenant=tenant, message_id=99, kind="capture")
    assert entry.occurred_at > timezone.now() - timedelta(minutes=1)
    regenerated = services.statement_generate(tenant=tenant, year=2026, month=1)
    assert regenerated.charges_total == statement.charges_total


def test_plan_cannot_start_over_an_invoiced_month(tenant, staff):
    book_january(tenant, staff)
    services.statement_generate(tenant=tenant, year=2026, month=1)
    plan = plan_with_tiers([(1, None, "0.0500")])
    with pytest.raises(Conflict) as caught:
        services.plan_assign(tenant=tenant, actor=staff, plan=plan, starts_on=date(2026, 1, 20))
    assert caught.value.code == "month_already_invoiced"
    with pytest.raises(Conflict):
        services.plan_assign(tenant=tenant, actor=staff, plan=plan, starts_on=date(2025, 6, 1))
    assignment = services.plan_assign(tenant=tenant, actor=staff, plan=plan, starts_on=date(2026, 2, 1))
    assert assignment.plan == plan


def test_monthly_fee_and_minimum_are_booked_once(tenant, staff):
    plan = plan_with_tiers([(1, None, "0.1000")], monthly_fee=Decimal("50"), monthly_minimum=Decimal("10"))
    PlanAssignmentFactory(tenant=tenant, plan=plan, starts_on=date(2025, 1, 1))
    fund(tenant, "100", actor=staff)
    services.ledger_capture_batch(items=[(tenant.pk, 1, 10, "notification", JAN)])  # ¥1 of charges
    statement = services.statement_generate(tenant=tenant, year=2026, month=1)
    assert statement.fees_total == Decimal("59.0000")  # ¥50 fee + ¥9 to reach the ¥10 minimum
    services.statement_generate(tenant=tenant, year=2026, month=1)
    assert LedgerEntry.objects.filter(tenant=tenant, kind="fee").count() == 1
    assert selectors.ledger_check() == []


def test_monthly_run_generates_and_emails_once(tenant, staff):
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER)
    finance = MembershipFactory(tenant=tenant, role=Role.FINANCE)
    MembershipFactory(tenant=tenant, role=Role.OPERATOR)
    book_january(tenant, staff)
    type(tenant).objects.filter(pk=tenant.pk).update(created_at=datetime(2025, 12, 1, tzinfo=SH))
    made = services.statements_monthly_run(now=datetime(2026, 2, 1, 0, 30, tzinfo=SH))
    assert made >= 1
    statement = Statement.objects.get(tenant=tenant, period=date(2026, 1, 1))
    assert statement.emailed_at is not None
    sent = [m for m in mail.outbox if tenant.name in m.subject]
    assert len(sent) == 1
    assert sorted(sent[0].to) == sorted([owner.user.email, finance.user.email])
    assert sent[0].attachments[0][0] == "statement-2026-01.pdf"
    assert services.statements_monthly_run(now=datetime(2026, 2, 2, 0, 30, tzinfo=SH)) == 0
    assert len([m for m in mail.outbox if tenant.name in m.subject]) == 1
    # An email that did not go out is retried by the next run, without a new statement.
    Statement.objects.filter(pk=statement.pk).update(emailed_at=None)
    assert services.statements_monthly_run(now=datetime(2026, 2, 3, 0, 30, tzinfo=SH)) == 0
    assert len([m for m in mail.outbox if tenant.name in m.subject]) == 2
    assert Statement.objects.get(pk=statement.pk).revision == 1


def test_ensure_schedules_is_idempotent(db):
    from django_q.models import Schedule

    from billing.tasks import STATEMENTS_SCHEDULE_NAME, ensure_schedules

    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=STATEMENTS_SCHEDULE_NAME)
    assert schedule.func == "billing.tasks.statements_monthly_run"
    assert schedule.repeats == -1


def test_statements_command(tenant, staff):
    from django.core.management import CommandError, call_command

    book_january(tenant, staff)
    call_command("billing_statements", "2026-01", "--tenant", tenant.slug)
    assert Statement.objects.get(tenant=tenant, period=date(2026, 1, 1)).revision == 1
    with pytest.raises(CommandError):
        call_command("billing_statements", "January")
    with pytest.raises(CommandError):
        call_command("billing_statements", "2026-01", "--tenant", "no-such-tenant")
