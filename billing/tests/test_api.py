from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import services
from billing.models import LedgerEntry
from smsportal.factories.billing import fund
from smsportal.pdf import pdf_fonts

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def api(api_for, member):
    return api_for(member, scopes=("read",))


@pytest.fixture
def january(tenant, staff):
    fund(tenant, "100", reference="ABC-1", actor=staff)
    LedgerEntry.objects.filter(tenant=tenant).update(occurred_at=datetime(2026, 1, 2, tzinfo=SH))
    services.ledger_capture_batch(items=[(tenant.pk, 1, 1, "alert", datetime(2026, 1, 5, tzinfo=SH))])
    return services.statement_generate(tenant=tenant, year=2026, month=1)


def test_balance(api, tenant, staff):
    fund(tenant, "12.5", actor=staff)
    body = api.get("/api/v1/billing/balance").json()
    assert body["balance"] == "12.5000"
    assert body["currency"] == "CNY"
    assert body["spendable"] == "12.5000"


def test_balance_needs_the_read_scope(api_for, member):
    response = api_for(member, scopes=("send",)).get("/api/v1/billing/balance")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"


def test_ledger_filters_and_cursor_pagination(api, tenant, staff):
    for n in range(5):
        fund(tenant, "1", reference=f"R{n}", actor=staff)
    services.account_adjust(tenant=tenant, actor=staff, amount="-0.5", reason="更正")
    page = api.get("/api/v1/billing/ledger", {"page_size": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    second = api.get(page["next"]).json()
    assert {e["id"] for e in second["results"]}.isdisjoint({e["id"] for e in page["results"]})
    adjustments = api.get("/api/v1/billing/ledger", {"kind": "adjustment"}).json()["results"]
    assert [e["reason"] for e in adjustments] == ["更正"]
    assert api.get("/api/v1/billing/ledger", {"since": "2000-01-01", "until": "2000-01-02"}).json()["results"] == []
    bad = api.get("/api/v1/billing/ledger", {"kind": "bogus", "since": "yesterday"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"kind", "since"}


def test_ledger_of_another_tenant_is_invisible(api_for, outsider, tenant, staff):
    fund(tenant, "1", reference="MINE", actor=staff)
    results = api_for(outsider, scopes=("read",)).get("/api/v1/billing/ledger").json()["results"]
    assert results == []


def test_price_plan(api):
    body = api.get("/api/v1/billing/price-plan").json()
    assert body["tiers"]["all"][1] == {
        "tier": 2,
        "first_segment": 100001,
        "last_segment": 500000,
        "unit_price": "0.1100",
    }
    assert body["current_tier"] == 1
    assert "failed_messages" in body["free"]


def test_estimate_from_text_and_segments(api, tenant, staff):
    fund(tenant, "1", actor=staff)
    text = "【华美零售】" + "您的订单已发货，" * 10  # 86 UCS-2 characters → 2 segments
    body = api.post("/api/v1/billing/estimate", {"message_class": "notification", "text": text}, format="json").json()
    assert body["segments"] == 2 and body["encoding"] == "UCS-2"
    assert body["estimate"] == "0.2600"
    body = api.post(
        "/api/v1/billing/estimate", {"message_class": "marketing", "segments": 1, "count": 10}, format="json"
    ).json()
    assert body["reserve"] == "1.3000"
    assert Decimal(body["shortfall"]) == Decimal("0.3")


@pytest.mark.parametrize(
    "payload",
    [
        {"message_class": "notification"},
        {"message_class": "spam", "segments": 1},
        {"message_class": "alert", "segments": 0},
        {"message_class": "alert", "segments": 1, "count": -3},
    ],
)
def test_estimate_bad_input(api, payload):
    response = api.post("/api/v1/billing/estimate", payload, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_statements_list_detail_and_pdf(api, january):
    listing = api.get("/api/v1/billing/statements").json()["results"]
    assert [s["month"] for s in listing] == ["2026-01"]
    detail = api.get("/api/v1/billing/statements/2026/1").json()
    assert detail["charges_total"] == "0.1300"
    pdf = api.get(listing[0]["pdf_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf_fonts(pdf.content)


def test_outsider_gets_404_for_another_tenants_statement(api_for, outsider, january):
    api = api_for(outsider, scopes=("read",))
    assert api.get("/api/v1/billing/statements").json()["results"] == []
    for url in ("/api/v1/billing/statements/2026/1", "/api/v1/billing/statements/2026/1/pdf"):
        response = api.get(url)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_missing_key_is_401(client):
    assert client.get("/api/v1/billing/balance").status_code == 401
