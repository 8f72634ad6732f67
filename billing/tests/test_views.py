from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from billing import services
from billing.models import Account, LedgerEntry, PricePlan
from smsportal.factories import MembershipFactory
from smsportal.factories.billing import fund
from tenants.models import Role

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def january(tenant, staff):
    fund(tenant, "200", reference="CMB-0001", actor=staff)
    LedgerEntry.objects.filter(tenant=tenant).update(occurred_at=datetime(2026, 1, 3, tzinfo=SH))
    services.ledger_capture_batch(items=[(tenant.pk, 5, 2, "notification", datetime(2026, 1, 10, tzinfo=SH))])
    return services.statement_generate(tenant=tenant, year=2026, month=1)


PAGES = [
    ("billing:overview", {}),
    ("billing:ledger", {}),
    ("billing:prices", {}),
    ("billing:statements", {}),
    ("billing:statement", {"year": 2026, "month": 1}),
    ("billing:statement_pdf", {"year": 2026, "month": 1}),
    ("billing:charges_csv", {"year": 2026, "month": 1}),
]


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_owner_sees_every_page(member_client, january, name, kwargs):
    response = member_client.get(reverse(name, kwargs=kwargs))
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "kwargs"), PAGES)
def test_operator_and_viewer_are_refused(client_for, tenant, january, name, kwargs):
    for role in (Role.OPERATOR, Role.VIEWER):
        response = client_for(MembershipFactory(tenant=tenant, role=role)).get(reverse(name, kwargs=kwargs))
        assert response.status_code == 403


def test_finance_sees_balance_and_statement(client_for, tenant, january):
    client = client_for(MembershipFactory(tenant=tenant, role=Role.FINANCE))
    page = client.get(reverse("billing:overview")).content.decode()
    assert "¥199.7400" in page
    page = client.get(reverse("billing:statement", kwargs={"year": 2026, "month": 1})).content.decode()
    assert "CMB-0001" in page
    pdf = client.get(reverse("billing:statement_pdf", kwargs={"year": 2026, "month": 1}))
    assert pdf["Content-Type"] == "application/pdf"
    assert bytes(pdf.content).startswith(b"%PDF")
    csv_text = b"".join(
        client.get(reverse("billing:charges_csv", kwargs={"year": 2026, "month": 1})).streaming_content
    ).decode("utf-8-sig")
    assert "0.2600" in csv_text


def test_outsider_gets_404_for_another_tenants_statement(outsider_client, january):
    for name in ("billing:statement", "billing:statement_pdf"):
        assert outsider_client.get(reverse(name, kwargs={"year": 2026, "month": 1})).status_code == 404
    # The outsider's own CSV for the month is empty: no rows of another tenant leak.
    csv_text = b"".join(
        outsider_client.get(reverse("billing:charges_csv", kwargs={"year": 2026, "month": 1})).streaming_content
    ).decode("utf-8-sig")
    assert len(csv_text.strip().splitlines()) == 1


def test_outsider_overview_shows_only_its_own_money(outsider_client, january):
    page = outsider_client.get(reverse("billing:overview")).content.decode()
    assert "¥199.7400" not in page
    assert "CMB-0001" not in page


def test_bad_month_is_404(member_client):
    assert member_client.get(reverse("billing:statement", kwargs={"year": 2026, "month": 13})).status_code == 404


def test_threshold_and_low_balance_banner(member_client, tenant, staff):
    fund(tenant, "5", actor=staff)
    response = member_client.post(reverse("billing:overview"), {"threshold": "10"})
    assert response.status_code == 302
    assert Account.objects.get(tenant=tenant).low_balance_threshold == Decimal("10.0000")
    page = member_client.get(reverse("billing:prices")).content.decode()
    assert "low-balance" in page  # base.html shows the banner on every page of the tenant
    from django.template import Context, Template
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.tenant = tenant
    request.membership = tenant and MembershipFactory(tenant=tenant, role=Role.FINANCE)
    html = Template("{% load billing_tags %}{% low_balance_banner %}").render(Context({"request": request}))
    assert "low-balance" in html
    assert member_client.post(reverse("billing:overview"), {"threshold": "-1"}).status_code == 200


def test_ledger_filters(member_client, tenant, staff):
    fund(tenant, "5", reference="REF-A", actor=staff)
    services.account_adjust(tenant=tenant, actor=staff, amount="1", reason="补偿")
    page = member_client.get(reverse("billing:ledger"), {"kind": "adjustment"}).content.decode()
    assert "补偿" in page and "REF-A" not in page
    page = member_client.get(reverse("billing:ledger"), {"since": "2000-01-01", "until": "2000-02-01"}).content
    assert "REF-A" not in page.decode()


# --- Staff ---------------------------------------------------------------------------------------


def test_staff_pages_are_404_for_tenant_members(member_client, tenant):
    for url in (
        reverse("billing_staff:accounts"),
        reverse("billing_staff:plans"),
        reverse("billing_staff:account", kwargs={"tenant_id": tenant.pk}),
    ):
        assert member_client.get(url).status_code == 404


def test_staff_records_top_up_and_refuses_bad_input(staff_client, tenant):
    url = reverse("billing_staff:account", kwargs={"tenant_id": tenant.pk})
    assert staff_client.get(url).status_code == 200
    ok = staff_client.post(url, {"action": "top_up", "top_up-amount": "1000", "top_up-reference": "BOC-77"})
    assert ok.status_code == 302
    for amount in ("0", "-5"):
        bad = staff_client.post(url, {"action": "top_up", "top_up-amount": amount, "top_up-reference": "X"})
        assert bad.status_code == 400
    duplicate = staff_client.post(url, {"action": "top_up", "top_up-amount": "1", "top_up-reference": "BOC-77"})
    assert duplicate.status_code == 400
    no_reason = staff_client.post(url, {"action": "adjust", "adjust-amount": "5", "adjust-reason": ""})
    assert no_reason.status_code == 400
    assert "原因" in no_reason.content.decode() or "reason" in no_reason.content.decode()
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 1
    refund = staff_client.post(url, {"action": "refund", "refund-amount": "3", "refund-reason": "投诉补偿"})
    assert refund.status_code == 302
    credit = staff_client.post(url, {"action": "credit", "credit-credit_limit": "50"})
    assert credit.status_code == 302
    assert Account.objects.get(tenant=tenant).credit_limit == Decimal("50")
    assert Account.objects.get(tenant=tenant).balance == Decimal("1003")


def test_staff_regenerates_a_statement_and_assigns_plans(staff_client, tenant, january):
    url = reverse("billing_staff:account", kwargs={"tenant_id": tenant.pk})
    response = staff_client.post(url, {"action": "statement", "statement-month": "2026-01", "statement-email": "on"})
    assert response.status_code == 302
    assert january.__class__.objects.get(pk=january.pk).revision == 2
    plan = PricePlan.objects.get(is_default=True)
    refused = staff_client.post(url, {"action": "assign", "assign-plan": plan.pk, "assign-starts_on": "2026-01-01"})
    assert refused.status_code == 400
    pdf = staff_client.get(
        reverse("billing_staff:statement_pdf", kwargs={"tenant_id": tenant.pk, "year": 2026, "month": 1})
    )
    assert pdf.status_code == 200


def test_staff_creates_plans_and_tier_errors_are_shown(staff_client):
    url = reverse("billing_staff:plans")
    assert staff_client.get(url).status_code == 200
    base = {"rich_message_price": "0.3", "monthly_fee": "0", "monthly_minimum": "0"}
    gap = staff_client.post(url, {**base, "name": "缺口", "tiers": "1-100 0.1\n102- 0.09"})
    assert gap.status_code == 400
    overlap = staff_client.post(url, {**base, "name": "重叠", "tiers": "1-100 0.1\n100- 0.09"})
    assert overlap.status_code == 400
    garbage = staff_client.post(url, {**base, "name": "乱码", "tiers": "cheap"})
    assert garbage.status_code == 400
    ok = staff_client.post(
        url, {**base, "name": "大客户", "tiers": "1-1000000 0.1\n1000001- 0.08", "tiers_marketing": "1- 0.15"}
    )
    assert ok.status_code == 302
    plan = PricePlan.objects.get(name="大客户")
    assert plan.tiers.count() == 3
    assert not PricePlan.objects.filter(name__in=["缺口", "重叠", "乱码"]).exists()


def test_staff_ledger_check_button(staff_client, tenant):
    fund(tenant, "1")
    response = staff_client.post(reverse("billing_staff:check"), follow=True)
    assert response.status_code == 200


def test_plan_assignment_from_next_month(staff, tenant):
    plan = PricePlan.objects.get(is_default=True)
    assignment = services.plan_assign(tenant=tenant, actor=staff, plan=plan, starts_on=date(2099, 1, 1))
    assert assignment.starts_on == date(2099, 1, 1)
