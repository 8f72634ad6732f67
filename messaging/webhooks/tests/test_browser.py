import pytest

from messaging.webhooks import signing
from messaging.webhooks.delivery import deliver_due
from messaging.webhooks.testing import RecordingServer
from smsportal.factories.tenants import DEFAULT_PASSWORD


@pytest.mark.browser
def test_owner_configures_webhook_sends_a_test_event_and_sees_the_attempt(page, member):
    with RecordingServer() as receiver:
        page.goto("/accounts/login/")
        page.fill("input[name=login]", member.user.email)
        page.fill("input[name=password]", DEFAULT_PASSWORD)
        page.locator("form button[type=submit]").last.click()
        page.wait_for_load_state()

        page.goto("/")
        page.locator("nav a[href='/messaging/webhooks/']").first.click()  # the portal nav entry
        page.wait_for_url("**/messaging/webhooks/")
        page.fill("input[name=url]", receiver.url + "/sms-status")
        page.get_by_label("短信发送失败").check()
        page.get_by_role("button", name="创建回调").click()
        page.wait_for_url("**/messaging/webhooks/")
        secret = page.locator("#new-secret").inner_text().strip()
        assert secret.startswith("whsec_")

        page.get_by_role("button", name="发送测试事件").click()
        page.wait_for_url("**/messaging/webhooks/")
        assert deliver_due().delivered == 1

        page.get_by_role("link", name="webhook.test").click()
        page.wait_for_url("**/messaging/webhooks/events/*/")
        attempts = page.locator("table").last.inner_text()
        assert "已送达" in attempts and "200" in attempts

        [request] = receiver.requests
        assert request.path == "/sms-status"
        assert signing.verify(request.headers["X-Signature"], request.body, secret)

        page.reload()
        assert page.locator("#new-secret").count() == 0  # shown once only
