import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from messaging.models import Channel, InboundMessage, Message
from smsportal.factories.messaging import ChannelFactory, MessageFactory
from smsportal.factories.tenants import MembershipFactory
from tenants.models import Role


@pytest.fixture
def message(tenant):
    return MessageFactory(tenant=tenant, number="+8613800138000", status="delivered")


class TestMessageLog:
    def test_lists_own_messages_masked(self, member_client, message):
        MessageFactory(number="+8613911112222")  # another tenant's
        response = member_client.get(reverse("messaging:messages"))
        assert response.status_code == 200
        html = response.content.decode()
        assert "138****8000" in html and "+8613800138000" not in html and "139****2222" not in html

    def test_full_numbers_for_allowed_roles_are_audit_logged(self, member_client, message, tenant):
        response = member_client.get(reverse("messaging:messages") + "?full=1")
        assert "+8613800138000" in response.content.decode()
        assert AuditEvent.objects.filter(tenant=tenant, action="messages.viewed_full_numbers").exists()

    def test_operators_never_see_full_numbers(self, client_for, teammate, message):
        response = client_for(teammate).get(reverse("messaging:messages") + "?full=1")
        assert "+8613800138000" not in response.content.decode()

    def test_filters(self, member_client, tenant):
        MessageFactory(tenant=tenant, status="failed", failure_reason="vacant_number", number="+8613800138111")
        MessageFactory(tenant=tenant, status="delivered", number="+8613800138222")
        html = member_client.get(reverse("messaging:messages"), {"status": "failed"}).content.decode()
        assert "138****8111" in html and "138****8222" not in html
        assert member_client.get(reverse("messaging:messages"), {"date_from": "nope"}).status_code == 200

    def test_outsider_sees_none(self, outsider_client, message):
        html = outsider_client.get(reverse("messaging:messages")).content.decode()
        assert "138****8000" not in html


class TestMessageDetail:
    def test_timeline(self, member_client, message):
        response = member_client.get(reverse("messaging:message", args=[message.pk]))
        assert response.status_code == 200
        assert "138****8000" in response.content.decode()

    def test_htmx_returns_the_timeline_only(self, member_client, message):
        response = member_client.get(reverse("messaging:message", args=[message.pk]), headers={"HX-Request": "true"})
        assert response.status_code == 200 and b'id="timeline"' in response.content and b"<html" not in response.content

    def test_outsider_gets_404(self, outsider_client, message):
        assert outsider_client.get(reverse("messaging:message", args=[message.pk])).status_code == 404


class TestSendTest:
    def test_send_goes_through_the_pipeline(self, member_client, code_template, tenant):
        url = reverse("messaging:send_test")
        page = member_client.get(url, {"template": code_template.pk})
        assert page.status_code == 200 and b"var_code" in page.content
        response = member_client.post(
            url, {"template": code_template.pk, "number": "13800138000", "var_code": "654321"}
        )
        message = Message.objects.for_tenant(tenant).get()
        assert response.status_code == 302 and response.url == reverse("messaging:message", args=[message.pk])
        assert message.status == "queued" and "654321" in message.body and message.client_ref == "portal-test"

    def test_bad_variable_shows_on_the_form(self, member_client, code_template):
        response = member_client.post(
            reverse("messaging:send_test"), {"template": code_template.pk, "number": "13800138000", "var_code": "abc"}
        )
        assert response.status_code == 200 and b"error" in response.content
        assert not Message.objects.exists()

    def test_viewer_may_not_send(self, client_for, tenant, code_template):
        viewer = MembershipFactory(tenant=tenant, role=Role.VIEWER)
        assert client_for(viewer).get(reverse("messaging:send_test")).status_code == 403

    def test_outsider_cannot_use_anothers_template(self, outsider_client, code_template):
        response = outsider_client.post(
            reverse("messaging:send_test"), {"template": code_template.pk, "number": "13800138000", "var_code": "1234"}
        )
        assert response.status_code == 200 and not Message.objects.exists()


class TestInbox:
    def test_lists_own_replies(self, client_for, member, outsider, tenant):
        InboundMessage.objects.create(tenant=tenant, number="+8613800138000", text="好的，收到")
        assert "好的，收到" in client_for(member).get(reverse("messaging:inbox")).content.decode()
        assert "好的，收到" not in client_for(outsider).get(reverse("messaging:inbox")).content.decode()


class TestStaffChannels:
    def test_non_staff_get_404(self, member_client):
        for name in ("messaging_staff:channels", "messaging_staff:channel_create", "messaging_staff:routing"):
            assert member_client.get(reverse(name)).status_code == 404
        channel = ChannelFactory()
        assert member_client.get(reverse("messaging_staff:channel", args=[channel.pk])).status_code == 404
        assert member_client.post(reverse("messaging_staff:channel_toggle", args=[channel.pk])).status_code == 404

    def test_list_and_routing(self, staff_client):
        ChannelFactory(name="mobile-a", carriers=["mobile"])
        assert b"mobile-a" in staff_client.get(reverse("messaging_staff:channels")).content
        assert b"mobile-a" in staff_client.get(reverse("messaging_staff:routing")).content

    def test_create_with_secret_then_edit_keeps_it_masked(self, staff_client, tenant):
        data = {
            "name": "http-a",
            "adapter": "simulated",
            "rate_limit": 100,
            "batch_size": 50,
            "cost_per_message": "0.03",
            "weight": 10,
            "receipt_timeout_seconds": 300,
            "enabled": "on",
            "carriers": ["mobile", "unicom"],
            "message_classes": ["verification"],
            "provinces_text": "广东省，北京市",
            "settings_json": '{"url": "http://127.0.0.1:9/x", "auth_token": "s3cr3t-value-123"}',
            "pinned": [tenant.pk],
        }
        response = staff_client.post(reverse("messaging_staff:channel_create"), data)
        channel = Channel.objects.get(name="http-a")
        assert response.status_code == 302
        assert channel.provinces == ["广东省", "北京市"] and channel.settings["auth_token"] == "s3cr3t-value-123"
        assert list(channel.pinned_tenants.all()) == [tenant]
        page = staff_client.get(reverse("messaging_staff:channel", args=[channel.pk])).content.decode()
        assert "s3cr3t-value-123" not in page and "s3****23" in page
        data["settings_json"] = '{"url": "http://127.0.0.1:9/y", "auth_token": "s3****23"}'
        staff_client.post(reverse("messaging_staff:channel", args=[channel.pk]), data)
        channel.refresh_from_db()
        assert channel.settings == {"url": "http://127.0.0.1:9/y", "auth_token": "s3cr3t-value-123"}
        assert AuditEvent.objects.filter(action="channel.saved").count() == 2
        assert all("s3cr3t" not in str(e.after) for e in AuditEvent.objects.filter(action="channel.saved"))

    def test_bad_settings_json_is_a_form_error(self, staff_client):
        response = staff_client.post(
            reverse("messaging_staff:channel_create"),
            {
                "name": "x",
                "adapter": "simulated",
                "rate_limit": 1,
                "batch_size": 1,
                "cost_per_message": "0",
                "weight": 1,
                "receipt_timeout_seconds": 1,
                "carriers": ["mobile"],
                "message_classes": ["alert"],
                "settings_json": "{oops",
            },
        )
        assert response.status_code == 200 and not Channel.objects.filter(name="x").exists()

    def test_disable_moves_traffic(self, staff_client, tenant, member, code_template):
        from messaging.lanes import lane_pass
        from messaging.services import message_accept_batch

        first = ChannelFactory(name="first", weight=1000000)
        second = ChannelFactory(name="second", weight=1)
        staff_client.post(reverse("messaging_staff:channel_toggle", args=[first.pk]))
        assert not Channel.objects.get(pk=first.pk).enabled
        [result] = message_accept_batch(
            tenant=tenant,
            actor=member.user,
            template_id=code_template.pk,
            recipients=[{"number": "13800138000", "variables": {"code": "123456"}}],
        )
        lane_pass("urgent")
        assert Message.objects.get(pk=result.message_id).channel == second

    def test_breaker_reset(self, staff_client):
        channel = ChannelFactory(breaker_state="open", consecutive_errors=9)
        staff_client.post(reverse("messaging_staff:channel_breaker_reset", args=[channel.pk]))
        channel.refresh_from_db()
        assert channel.breaker_state == "closed" and channel.consecutive_errors == 0
