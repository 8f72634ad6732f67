import pytest

from reports.models import QualityReport
from smsportal.enums import Carrier
from smsportal.factories import MembershipFactory
from tenants.models import Role


def test_dashboard_shows_todays_numbers(member_client, todays_traffic):
    response = member_client.get("/reports/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-kpi="sent">5<' in html
    assert 'data-kpi="delivered">3<' in html
    assert 'data-kpi="rate">60.00%<' in html  # 3 delivered of 5 finished (failed and expired count)
    assert "<svg" in html


def test_dashboard_htmx_refresh_returns_the_body_only(member_client, todays_traffic):
    response = member_client.get("/reports/?period=today", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<html" not in response.content.decode()
    assert 'data-kpi="sent">5<' in response.content.decode()


def test_dashboard_period_errors_are_shown_not_500(member_client, todays_traffic):
    response = member_client.get("/reports/?period=custom&start=2026-11-10&end=2026-11-01")
    assert response.status_code == 200
    assert "form-errors" in response.content.decode()


@pytest.mark.parametrize(
    "what", ["carrier", "province", "class", "template", "campaign", "hour", "failures", "arrival"]
)
def test_csv_exports(member_client, todays_traffic, what):
    response = member_client.get(f"/reports/?period=today&export={what}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


def test_csv_carrier_rows(member_client, todays_traffic):
    body = member_client.get("/reports/?period=today&export=carrier").content.decode("utf-8-sig")
    lines = body.strip().splitlines()
    assert len(lines) == 4  # header + mobile, unicom, telecom
    mobile = str(dict(Carrier.choices)["mobile"])
    assert any(line.startswith(f"{mobile},3,2,0,1,0.6667") for line in lines)


def test_unknown_export_is_404(member_client, todays_traffic):
    assert member_client.get("/reports/?export=secrets").status_code == 404


def test_outsider_sees_only_their_own_numbers(outsider_client, todays_traffic):
    html = outsider_client.get("/reports/").content.decode()
    assert 'data-kpi="sent">0<' in html


def test_outsider_cannot_download_anothers_report(client_for, member, outsider, tenant):
    report = QualityReport.objects.create(tenant=tenant, period_start="2026-10-01")
    report.pdf.save("x.pdf", __import__("django.core.files.base", fromlist=["ContentFile"]).ContentFile(b"%PDF-1.7"))
    assert client_for(outsider).get(f"/reports/monthly/{report.pk}/pdf/").status_code == 404
    assert client_for(member).get(f"/reports/monthly/{report.pk}/pdf/").status_code == 200


def test_viewer_cannot_generate_but_can_list(client_for, tenant):
    viewer = MembershipFactory(tenant=tenant, role=Role.VIEWER)
    client = client_for(viewer)
    assert client.get("/reports/monthly/").status_code == 200
    assert client.post("/reports/monthly/generate/", {"month": "2026-10"}).status_code == 403
    assert client.post("/reports/monthly/recipients/", {"extra_recipients": "a@example.com"}).status_code == 403


def test_admin_generates_a_report(member_client, tenant, todays_traffic):
    response = member_client.post("/reports/monthly/generate/", {"month": "2026-10"}, follow=True)
    assert response.status_code == 200
    assert QualityReport.objects.filter(tenant=tenant, period_start="2026-10-01").exists()


def test_bad_month_is_a_message_not_a_500(member_client):
    response = member_client.post("/reports/monthly/generate/", {"month": "soon"}, follow=True)
    assert response.status_code == 200
    assert not QualityReport.objects.exists()


def test_extra_recipients_validated(member_client, tenant):
    member_client.post("/reports/monthly/recipients/", {"extra_recipients": "not-an-email"})
    from reports.models import ReportSettings

    assert not ReportSettings.objects.filter(tenant=tenant, extra_recipients__len__gt=0).exists()
    member_client.post("/reports/monthly/recipients/", {"extra_recipients": "ops@example.com\nQA@example.com"})
    assert ReportSettings.objects.get(tenant=tenant).extra_recipients == ["ops@example.com", "qa@example.com"]


def test_scorecard_page(member_client, todays_traffic):
    assert member_client.get("/reports/scorecard/").status_code == 200


def test_staff_overview_is_staff_only(staff_client, client_for, member, todays_traffic):
    assert staff_client.get("/staff/reports/").status_code == 200
    assert client_for(member).get("/staff/reports/").status_code == 404
