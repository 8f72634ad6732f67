"""A marketer uploads a member list, builds a campaign, reviews it, starts it, pauses and
resumes it, and watches it complete — with the real bulk django-q2 cluster as a process
(it runs the import, the fan-out and the bulk dispatch lane)."""

import time

import pytest

from campaigns.models import Campaign
from messaging.tests.processes import start, stop
from smsportal.factories.campaigns import grant_consent, marketing_template
from smsportal.factories.messaging import ChannelFactory
from smsportal.factories.tenants import DEFAULT_PASSWORD

NUMBERS = [f"1380013{i:04d}" for i in range(8)]


def csv_file() -> bytes:
    rows = ["手机号,name,points"] + [f"{n},会员{i},{100 + i}" for i, n in enumerate(NUMBERS)] + ["12345,坏号,0"]
    return ("\n".join(rows) + "\n").encode("gbk")


@pytest.mark.browser
def test_upload_build_review_start_pause_resume_complete(page, member):
    template = marketing_template(member.tenant)
    grant_consent(member.tenant, NUMBERS)
    ChannelFactory(name="移动营销通道")
    bulk = start(["qcluster"], Q_CLUSTER_NAME="bulk")
    try:
        from django_q.tasks import async_task

        page.goto("/accounts/login/")
        page.fill("input[name=login]", member.user.email)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state()

        # 1. Upload a GBK CSV into a new list; the progress bar polls until the summary shows.
        page.goto("/campaigns/lists/")
        page.fill("input[name=new_list_name]", "双11会员")
        page.set_input_files(
            "input[name=file]", files=[{"name": "会员.csv", "mimeType": "text/csv", "buffer": csv_file()}]
        )
        page.get_by_role("button", name="上传并导入").click()
        try:
            page.wait_for_selector("[data-status=done]", timeout=90000)
        except Exception:
            from django_q.models import OrmQ, Task

            print(list(OrmQ.objects.values_list("key", "lock")), list(Task.objects.values_list("func", "result")))
            stop(bulk)
            print(bulk.stderr.read().decode()[-3000:])
            raise
        assert page.locator("td.imported").inner_text() == "8"
        assert "无效号码" in page.content()

        # 2. Build the campaign.
        page.goto("/campaigns/new/")
        page.fill("input[name=name]", "双11会员狂欢")
        page.select_option("select[name=template_id]", str(template.pk))
        page.get_by_label("双11会员 (8)").check()
        page.wait_for_selector("#audience-size [data-size='8']")
        page.fill("input[name=link_variable]", "link")
        page.fill("input[name=link_url]", "https://hm.example.cn/d11")
        page.uncheck("input[name=respect_quiet_hours]")
        page.get_by_role("button", name="保存并审阅").click()

        # 3. Review: audience, cost, compliance; then start.
        page.get_by_role("button", name="核对受众、费用与合规").click()
        page.wait_for_selector("#review-messages")
        assert page.locator("#review-messages").inner_text() == "8"
        page.get_by_role("button", name="开始发送").click()
        page.wait_for_selector("#campaign-status[data-status=running]")

        # 4. Pause, then resume.
        page.locator("#pause").click()
        page.wait_for_selector("#campaign-status[data-status=paused]")
        campaign = Campaign.objects.get(name="双11会员狂欢")
        page.locator("#resume").click()
        page.wait_for_selector("#campaign-status[data-status=running]")
        # Now the bulk lane's dispatch loop runs (in production a schedule starts one every minute).
        async_task("messaging.tasks.lane_run", "bulk", 150.0, cluster="bulk")

        # 5. Watch it complete (the live block polls by itself; the minute tick is driven here).
        from campaigns.services import campaigns_tick

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            campaigns_tick()
            campaign.refresh_from_db()
            if campaign.status == "completed":
                break
            time.sleep(1)
        if campaign.status != "completed":
            from django_q.models import OrmQ, Task

            from messaging.models import Message

            print(campaign.status, campaign.fanout_status, campaign.error_message)
            print(list(Message.objects.values_list("status", "send_at", "failure_reason", "route_reason")))
            print(list(OrmQ.objects.values_list("key", "lock")), list(Task.objects.values_list("func", "result")))
            stop(bulk)
            print(bulk.stderr.read().decode()[-3000:])
        page.wait_for_selector("#campaign-status[data-status=completed]", timeout=30000)
        page.wait_for_function("document.querySelector('#stat-delivered').innerText.trim() === '8'", timeout=60000)
    finally:
        stop(bulk)
