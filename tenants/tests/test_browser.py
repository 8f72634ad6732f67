"""End to end in headless chromium: a newcomer signs up, verifies the email, logs in, creates
a tenant, invites a colleague and creates an API key that works; staff sign in with TOTP."""

import json
import re
import time
import urllib.request

import pytest
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

from smsportal.factories import TenantFactory, UserFactory
from smsportal.factories.tenants import DEFAULT_PASSWORD
from tenants.models import Invitation, Membership, Role, Tenant

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("transactional_db")]

PASSWORD = "lantern-orbit-4471"


def _link(body: str, path_start: str) -> str:
    match = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S+)", body)
    assert match, body
    return match.group(1)


def _submit(page, field_name: str) -> None:
    """Submits the form that holds `field_name` (the top bar has forms of its own)."""
    page.locator(f"form:has([name={field_name}]) [type=submit]").first.click()


def test_sign_up_create_tenant_invite_and_api_key(page, live_server, mailoutbox):
    page.goto("/")
    assert "短信准时到达" in page.content()
    page.goto("/accounts/signup/")
    page.fill("[name=email]", "founder@kuaida.example.cn")
    page.fill("[name=password1]", PASSWORD)
    page.fill("[name=password2]", PASSWORD)
    _submit(page, "password2")
    page.wait_for_url("**/accounts/confirm-email/")

    assert len(mailoutbox) == 1
    page.goto(_link(mailoutbox[0].body, "/accounts/confirm-email/"))
    page.locator("main form [type=submit]").click()
    page.wait_for_url("**/accounts/login/**")

    page.fill("[name=login]", "founder@kuaida.example.cn")
    page.fill("[name=password]", PASSWORD)
    _submit(page, "password")
    page.wait_for_url("**/tenant/new/")

    page.fill("[name=name]", "快达物流")
    page.fill("[name=slug]", "kuaida")
    page.fill("[name=contact_name]", "王强")
    page.fill("[name=contact_email]", "it@kuaida.example.cn")
    assert page.input_value("[name=timezone]") == "Asia/Shanghai"
    _submit(page, "slug")
    page.wait_for_url(live_server.url + "/")
    assert "快达物流" in page.locator("h1").inner_text()
    tenant = Tenant.objects.get(slug="kuaida")
    assert Membership.objects.get(tenant=tenant).role == Role.OWNER

    page.goto("/tenant/members/invite/")
    page.fill("[name=email]", "colleague@kuaida.example.cn")
    page.select_option("[name=role]", Role.OPERATOR)
    _submit(page, "email")
    page.wait_for_url("**/tenant/members/")
    assert "colleague@kuaida.example.cn" in page.content()
    invitation_mail = mailoutbox[-1]
    assert invitation_mail.to == ["colleague@kuaida.example.cn"]
    assert "快达物流" in invitation_mail.subject
    assert "/tenant/invitations/" in invitation_mail.body
    assert Invitation.objects.get(tenant=tenant).role == Role.OPERATOR

    page.goto("/tenant/api-keys/")
    page.fill("[name=name]", "订单系统")
    _submit(page, "scopes")
    secret = page.locator("#new-secret").inner_text().strip()
    assert secret.startswith("sk_")
    request = urllib.request.Request(f"{live_server.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert json.load(response)["tenant"]["slug"] == "kuaida"

    page.reload()
    assert "订单系统" in page.content()
    assert secret not in page.content()


def test_staff_sign_in_with_totp_and_see_tenants(page):
    secret = generate_totp_secret()
    staff = UserFactory(email="ops@smsportal.example.cn", is_staff=True)
    TOTP.activate(staff, secret)
    tenant = TenantFactory(name="华美零售集团")

    page.goto("/accounts/login/")
    page.fill("[name=login]", staff.email)
    page.fill("[name=password]", DEFAULT_PASSWORD)
    _submit(page, "password")
    page.wait_for_url("**/accounts/2fa/authenticate/")
    page.fill("[name=code]", format_hotp_value(hotp_value(secret, int(time.time()) // 30)))
    _submit(page, "code")
    page.wait_for_url("**/staff/tenants/")
    assert tenant.name in page.content()
    assert tenant.slug in page.content()
