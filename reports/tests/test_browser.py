import pytest

from reports.models import QualityReport


@pytest.mark.browser
def test_dashboard_change_period_and_download_pdf(page, live_server, member, todays_traffic, client_for):
    from reports.services import quality_report_generate

    quality_report_generate(tenant=member.tenant, year=2026, month=10)
    session_client = client_for(member)
    page.context.add_cookies(
        [{"name": "sessionid", "value": session_client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto("/reports/")
    assert page.locator('[data-kpi="sent"]').inner_text() == "5"
    page.select_option("select[name=period]", "30d")
    page.get_by_role("button", name="查看").click()
    page.wait_for_url("**/reports/?period=30d*")
    assert page.locator('[data-kpi="delivered"]').inner_text() == "3"
    page.get_by_role("link", name="月度报告").first.click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载 PDF").click()
    download = download_info.value
    path = download.path()
    assert path.read_bytes()[:4] == b"%PDF"
    assert QualityReport.objects.filter(tenant=member.tenant).count() == 1
