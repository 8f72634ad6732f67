from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from billing import services
from billing.models import LedgerEntry
from smsportal.factories import MembershipFactory
from smsportal.factories.billing import fund
from smsportal.factories.tenants import DEFAULT_PASSWORD
from smsportal.pdf import pdf_text
from tenants.models import Role

SH = ZoneInfo("Asia/Shanghai")


@pytest.mark.browser
def test_finance_sees_balance_opens_statement_and_downloads_pdf(page, tenant, staff):
    finance = MembershipFactory(tenant=tenant, role=Role.FINANCE)
    fund(tenant, "800", reference="ICBC-BROWSER-1", actor=staff)
    LedgerEntry.objects.filter(tenant=tenant).update(occurred_at=datetime(2026, 1, 2, 9, tzinfo=SH))
    services.ledger_capture_batch(items=[(tenant.pk, 42, 2, "verification", datetime(2026, 1, 8, tzinfo=SH))])
    services.statement_generate(tenant=tenant, year=2026, month=1)

    page.goto("/accounts/login/")
    page.fill("input[name=login]", finance.user.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_load_state()

    page.goto("/")
    page.get_by_role("link", name="费用").first.click()
    page.wait_for_url("**/billing/")
    assert page.locator("#balance").inner_text() == "¥799.7400"

    page.get_by_role("link", name="对账单").first.click()
    page.get_by_role("table").get_by_role("link", name="2026-01").click()
    page.wait_for_url("**/billing/statements/2026/1/")
    assert "ICBC-BROWSER-1" in page.content()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 PDF").click()
    pdf = download_info.value.path().read_bytes()
    assert pdf[:4] == b"%PDF"
    assert "月度对账单" in pdf_text(pdf)
