"""A person sends a test message from the portal and watches its timeline reach "delivered",
with the real urgent django-q2 cluster running as its own process."""

import pytest

from messaging.tests.processes import start, stop
from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, ready_to_send
from smsportal.factories.tenants import DEFAULT_PASSWORD


@pytest.mark.browser
def test_send_a_test_message_and_watch_it_arrive(page, member):
    template = ready_to_send(member.tenant, kind=MessageClass.VERIFICATION)
    ChannelFactory(
        name="移动直连一号", settings={"seed": 11, "failure_scale": 0, "lost_rate": 0, "latency_median_ms": 400}
    )
    urgent = start(["qcluster"], Q_CLUSTER_NAME="urgent")
    try:
        from django_q.tasks import async_task

        async_task("messaging.tasks.lane_run", "urgent", cluster="urgent")  # the lane's loop, as in production
        page.goto("/accounts/login/")
        page.fill("input[name=login]", member.user.email)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state()

        page.goto("/messaging/messages/")
        page.get_by_role("link", name="发送测试短信").first.click()
        page.select_option("#pick-template", str(template.pk))
        page.wait_for_selector("input[name=var_code]")
        page.fill("input[name=number]", "138 0013 8000")
        page.fill("input[name=var_code]", "246810")
        page.get_by_role("button", name="发送").click()
        page.wait_for_url("**/messaging/messages/*/")
        assert "138****8000" in page.content()

        page.wait_for_selector("#timeline [data-status=delivered]", timeout=90000)
        timeline = page.locator("#timeline").inner_text()
        assert "移动直连一号" in timeline and "DELIVRD" in timeline
    finally:
        stop(urgent)
