from django.core.files.base import ContentFile

from reports.models import QualityReport


def test_stats_totals_and_dimension(member, api_for, todays_traffic):
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    response = api_for(member, scopes=("read",)).get(f"/api/v1/stats?start={today}&end={today}&dimension=carrier")
    assert response.status_code == 200
    body = response.json()
    assert body["totals"]["sent"] == 5
    assert body["totals"]["delivered"] == 3
    assert body["failures"] == {"vacant_number": 1, "expired": 1}
    assert {row["value"] for row in body["rows"]} == {"mobile", "unicom", "telecom"}


def test_stats_bad_input_is_400_with_fields(member, api_for):
    response = api_for(member).get("/api/v1/stats?start=2026-11-10&end=2026-11-01")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert "end" in response.json()["error"]["fields"]
    response = api_for(member).get("/api/v1/stats?start=x&end=2026-11-01&dimension=nope")
    assert set(response.json()["error"]["fields"]) == {"start", "dimension"}


def test_stats_needs_read_scope(member, api_for):
    response = api_for(member, scopes=("send",)).get("/api/v1/stats?start=2026-11-01&end=2026-11-01")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "missing_scope"


def test_outsider_stats_are_their_own(outsider, api_for, todays_traffic):
    from django.utils import timezone

    today = timezone.localdate().isoformat()
    assert api_for(outsider).get(f"/api/v1/stats?start={today}&end={today}").json()["totals"]["sent"] == 0


def test_report_list_and_pdf_with_outsider(member, outsider, tenant, api_for):
    report = QualityReport.objects.create(tenant=tenant, period_start="2026-10-01", pages=3)
    report.pdf.save("r.pdf", ContentFile(b"%PDF-1.7 test"))
    listing = api_for(member).get("/api/v1/reports")
    assert [item["month"] for item in listing.json()["results"]] == ["2026-10"]
    assert api_for(member).get(f"/api/v1/reports/{report.pk}/pdf").status_code == 200
    assert api_for(outsider).get("/api/v1/reports").json()["results"] == []
    assert api_for(outsider).get(f"/api/v1/reports/{report.pk}/pdf").status_code == 404
