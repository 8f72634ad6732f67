"""The journey: a tenant writes a marketing template, sees the missing-unsubscribe finding,
applies the one-click fix, submits; a reviewer approves; the tenant sees it approved."""

import re

import pytest
from playwright.sync_api import expect

from templates.models import MessageTemplate


def _use_session(context, client, live_server):
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


@pytest.mark.browser
def test_marketing_template_fix_submit_approve(page, browser, live_server, member, signature, verified, client_for):
    from django.test import Client

    _use_session(page.context, client_for(member), live_server)
    page.goto("/templates/new/")
    page.fill("#id_name", "会员日活动")
    page.select_option("#id_kind", "marketing")
    page.select_option("#id_signature", str(signature.pk))
    page.fill("#id_body", "尊敬的会员，本周六会员日全场满200减30")

    finding = page.locator('#check-box li[data-rule="marketing.unsubscribe"]')
    expect(finding).to_be_visible()
    expect(page.locator('[data-testid="encoding"]')).to_have_text("UCS-2")
    expect(page.locator('[data-testid="segments"]')).to_have_text("1")
    expect(page.locator('[data-testid="price"]')).to_have_text("¥0.13")

    finding.locator("button").click()  # the one-click fix
    expect(page.locator("#id_body")).to_have_value(re.compile("拒收请回复R$"))
    expect(page.locator('#check-box li[data-rule="marketing.unsubscribe"]')).to_have_count(0)

    page.locator('[data-testid="save"]').click()
    page.wait_for_url(re.compile(r"/templates/\d+/$"))
    page.locator('[data-testid="submit"]').click()
    expect(page.locator('[data-testid="version-status"]')).to_contain_text("待审核")

    template = MessageTemplate.objects.get(tenant=member.tenant, name="会员日活动")
    assert template.versions.get().body.endswith("拒收请回复R")

    # The reviewer, in a browser of their own.
    from smsportal.factories import UserFactory

    reviewer = UserFactory(is_staff=True)
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(reviewer, generate_totp_secret())
    staff_client = Client()
    staff_client.force_login(reviewer)
    staff_context = browser.new_context(locale="zh-CN", base_url=live_server.url)
    try:
        _use_session(staff_context, staff_client, live_server)
        staff_page = staff_context.new_page()
        staff_page.goto("/staff/templates/")
        row = staff_page.locator("tr", has_text="会员日活动")
        expect(row).to_be_visible()
        row.locator('button[data-testid^="approve-"]').click()
        expect(staff_page.locator("tr", has_text="会员日活动")).to_have_count(0)
    finally:
        staff_context.close()

    page.reload()
    expect(page.locator('[data-testid="in-force"]')).to_contain_text("v1")
    expect(page.locator('[data-testid="version-status"]')).to_contain_text("已通过")
