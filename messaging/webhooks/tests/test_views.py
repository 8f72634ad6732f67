import pytest
from django.urls import reverse

from compliance.models import AuditEvent
from messaging.webhooks.models import WebhookEndpoint, WebhookEvent
from smsportal.factories.webhooks import WebhookEventFactory, endpoint_for

pytestmark = pytest.mark.django_db

SETTINGS = reverse("messaging:webhooks")


def test_create_endpoint_shows_the_secret_exactly_once(member_client, tenant):
    response = member_client.post(
        SETTINGS, {"url": "https://hooks.example.com/sms", "events": ["message.delivered", "message.failed"]}
    )
    assert response.status_code == 302
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert endpoint.events == ["message.delivered", "message.failed"]
    first = member_client.get(SETTINGS).content.decode()
    assert 'id="new-secret"' in first and "whsec_" in first
    again = member_client.get(SETTINGS).content.decode()
    assert 'id="new-secret"' not in again
    assert endpoint.secret_hint in again
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.created").exists()


def test_bad_input_is_a_form_error(member_client, tenant):
    response = member_client.post(SETTINGS, {"url": "not a url", "events": []})
    assert response.status_code == 200
    assert response.context["form"].errors.keys() >= {"url", "events"}
    response = member_client.post(SETTINGS, {"url": "https://x.example.com", "events": ["message.bogus"]})
    assert "events" in response.context["form"].errors
    assert not WebhookEndpoint.objects.filter(tenant=tenant).exists()


def test_private_addresses_refused_in_production(member_client, tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    for url in ("http://hooks.example.com/", "https://127.0.0.1/", "https://localhost/x", "https://10.0.0.1/"):
        response = member_client.post(SETTINGS, {"url": url, "events": ["message.failed"]})
        assert response.status_code == 200 and response.context["form"].errors, url
    assert not WebhookEndpoint.objects.filter(tenant=tenant).exists()


def test_rotate_shows_new_secret_and_audits(member_client, tenant):
    endpoint, _secret = endpoint_for(tenant, "https://hooks.example.com/")
    old_hint = endpoint.secret_hint
    response = member_client.post(reverse("messaging:webhook_rotate"))
    assert response.status_code == 302
    page = member_client.get(SETTINGS).content.decode()
    assert 'id="new-secret"' in page and old_hint in page  # the previous secret is named during rotation
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.secret_rotated").exists()
    member_client.post(reverse("messaging:webhook_rotation_finish"))
    endpoint.refresh_from_db()
    assert endpoint.previous_secret_sealed == ""


def test_rotate_without_endpoint_is_a_message_not_a_500(member_client):
    response = member_client.post(reverse("messaging:webhook_rotate"), follow=True)
    assert response.status_code == 200
    assert not WebhookEndpoint.objects.exists()


def test_test_event_and_event_pages(member_client, tenant):
    endpoint_for(tenant, "https://hooks.example.com/")
    member_client.post(reverse("messaging:webhook_test"))
    event = WebhookEvent.objects.get(tenant=tenant, event_type="webhook.test")
    page = member_client.get(SETTINGS).content.decode()
    assert str(event.event_id) in page
    detail = member_client.get(reverse("messaging:webhook_event", args=[event.id]))
    assert detail.status_code == 200 and str(event.event_id) in detail.content.decode()
    event.status = WebhookEvent.Status.FAILED
    event.save()
    assert member_client.post(reverse("messaging:webhook_event_resend", args=[event.id])).status_code == 302
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PENDING


def test_status_filter(member_client, tenant):
    WebhookEventFactory(tenant=tenant, status="failed", payload={"n": 1})
    WebhookEventFactory(tenant=tenant, status="delivered", payload={"n": 2})
    response = member_client.get(SETTINGS, {"status": "failed"})
    assert [e.status for e in response.context["page"]] == ["failed"]


def test_outsider_gets_404_for_another_tenants_event(outsider_client, tenant):
    event = WebhookEventFactory(tenant=tenant)
    assert outsider_client.get(reverse("messaging:webhook_event", args=[event.id])).status_code == 404
    assert outsider_client.post(reverse("messaging:webhook_event_resend", args=[event.id])).status_code == 404
    # The outsider's own pages show nothing of `tenant`.
    page = outsider_client.get(SETTINGS)
    assert page.status_code == 200 and str(event.event_id) not in page.content.decode()
    outsider_client.post(reverse("messaging:webhook_rotate"))
    outsider_client.post(reverse("messaging:webhook_test"))
    assert WebhookEvent.objects.filter(tenant=tenant).count() == 1


@pytest.mark.parametrize(
    "name,args,method",
    [
        ("messaging:webhooks", [], "get"),
        ("messaging:webhook_rotate", [], "post"),
        ("messaging:webhook_rotation_finish", [], "post"),
        ("messaging:webhook_test", [], "post"),
    ],
)
def test_operator_may_not_manage_webhooks(client_for, teammate, name, args, method):
    client = client_for(teammate)
    assert getattr(client, method)(reverse(name, args=args)).status_code == 403


def test_operator_may_not_see_or_resend_events(client_for, teammate, tenant):
    event = WebhookEventFactory(tenant=tenant)
    client = client_for(teammate)
    assert client.get(reverse("messaging:webhook_event", args=[event.id])).status_code == 403
    assert client.post(reverse("messaging:webhook_event_resend", args=[event.id])).status_code == 403


def test_anonymous_is_sent_to_login(client):
    assert client.get(SETTINGS).status_code == 302


def test_resend_all_failed_events_of_the_last_week(member_client, tenant, outsider):
    from datetime import timedelta

    from django.utils import timezone

    recent = [WebhookEventFactory(tenant=tenant, status="failed", payload={"n": n}) for n in range(3)]
    old = WebhookEventFactory(
        tenant=tenant, status="failed", created_at=timezone.now() - timedelta(days=8), payload={"n": 9}
    )
    delivered = WebhookEventFactory(tenant=tenant, status="delivered", payload={"n": 10})
    foreign = WebhookEventFactory(tenant=outsider.tenant, status="failed", payload={"n": 11})

    assert member_client.post(reverse("messaging:webhook_resend_failed")).status_code == 302
    statuses = dict(WebhookEvent.objects.values_list("id", "status"))
    assert {statuses[e.id] for e in recent} == {"pending"}
    assert statuses[old.id] == "failed" and statuses[delivered.id] == "delivered" and statuses[foreign.id] == "failed"
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.failed_resent").exists()


def test_operator_may_not_resend_all_failed(client_for, teammate, tenant):
    event = WebhookEventFactory(tenant=tenant, status="failed")
    assert client_for(teammate).post(reverse("messaging:webhook_resend_failed")).status_code == 403
    event.refresh_from_db()
    assert event.status == "failed"
