"""The webhook endpoint's REST API: config, secret rotation, events, attempts, resend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import AuditEvent
from messaging.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from messaging.webhooks.services import signing_secrets
from smsportal.factories.webhooks import WebhookEventFactory, endpoint_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/webhook"


@pytest.fixture
def api(api_for, member):
    return api_for(member)


@pytest.fixture
def reader(api_for, member):
    return api_for(member, scopes=("read",))


@pytest.fixture
def configured(tenant):
    endpoint, secret = endpoint_for(tenant, "https://hooks.example.com/sms", events=["message.delivered"])
    return endpoint, secret


def _error(response) -> dict:
    return response.json()["error"]


# --- Configuration ------------------------------------------------------------------------


def test_get_without_endpoint_is_404_with_a_stable_code(api):
    response = api.get(URL)
    assert response.status_code == 404
    assert _error(response)["code"] == "webhook_not_configured"


def test_put_creates_and_shows_the_secret_once(api, tenant):
    response = api.put(
        URL, {"url": "https://hooks.example.com/sms", "events": ["message.failed", "message.delivered"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_")
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert signing_secrets(endpoint) == [body["secret"]]
    assert body["events"] == ["message.delivered", "message.failed"] and body["enabled"] is True
    assert body["secret_hint"] == endpoint.secret_hint and body["secret"].endswith(endpoint.secret_hint.lstrip("…"))
    again = api.get(URL).json()
    assert "secret" not in again and again["url"] == "https://hooks.example.com/sms"
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.created").exists()


def test_put_replaces_and_patch_changes_only_what_is_given(api, tenant, configured):
    response = api.put(URL, {"url": "https://new.example.com/h", "events": ["message.failed"]}, format="json")
    assert response.status_code == 200 and "secret" not in response.json()
    assert response.json()["url"] == "https://new.example.com/h"
    response = api.patch(URL, {"enabled": False}, format="json")
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert (endpoint.url, endpoint.events, endpoint.is_active) == (
        "https://new.example.com/h",
        ["message.failed"],
        False,
    )
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.updated").count() == 2


def test_patch_without_endpoint_is_404(api, tenant):
    response = api.patch(URL, {"enabled": False}, format="json")
    assert response.status_code == 404 and _error(response)["code"] == "webhook_not_configured"
    assert not WebhookEndpoint.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"url": "http://hooks.example.com/", "events": ["message.failed"]}, "https_required", "url"),
        ({"url": "https://10.0.0.1/hook", "events": ["message.failed"]}, "private_url", "url"),
        ({"url": "https://localhost/hook", "events": ["message.failed"]}, "private_url", "url"),
        ({"url": "not a url", "events": ["message.failed"]}, "invalid_url", "url"),
        ({"url": "https://hooks.example.com/", "events": ["message.bogus"]}, "unknown_event", "events"),
        ({"url": "https://hooks.example.com/", "events": []}, "events_required", "events"),
        ({"url": "https://hooks.example.com/", "events": "message.failed"}, "invalid", "events"),
        ({"events": ["message.failed"]}, "invalid", "url"),
        ({"url": "https://hooks.example.com/", "events": ["message.failed"], "enabled": "maybe"}, "invalid", "enabled"),
    ],
)
def test_bad_input_is_400_with_field_errors_and_nothing_saved(api, tenant, settings, body, code, field):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # production rules, as the portal form applies them
    response = api.put(URL, body, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == code and field in error["fields"]
    assert not WebhookEndpoint.objects.filter(tenant=tenant).exists()


def test_bad_patch_leaves_the_endpoint_alone(api, configured, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    response = api.patch(URL, {"url": "http://hooks.example.com/"}, format="json")
    assert response.status_code == 400 and _error(response)["code"] == "https_required"
    assert WebhookEndpoint.objects.get(pk=configured[0].pk).url == "https://hooks.example.com/sms"


def test_bad_json_is_400(api):
    response = api.generic("PUT", URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and _error(response)["code"] == "bad_json"


# --- Secret rotation ----------------------------------------------------------------------


def test_rotate_returns_the_new_secret_once_and_both_sign(api, tenant, configured):
    endpoint, old_secret = configured
    response = api.post(f"{URL}/rotate-secret")
    assert response.status_code == 200
    body = response.json()
    new_secret = body["secret"]
    assert new_secret.startswith("whsec_") and new_secret != old_secret
    assert body["previous_secret_hint"] == endpoint.secret_hint
    assert body["previous_secret_valid_until"] is not None
    endpoint.refresh_from_db()
    assert signing_secrets(endpoint) == [new_secret, old_secret]  # two valid during the rotation
    assert "secret" not in api.get(URL).json()
    assert AuditEvent.objects.filter(tenant=tenant, action="webhook.secret_rotated").exists()

    response = api.post(f"{URL}/rotate-secret/finish")
    assert response.status_code == 200 and response.json()["previous_secret_hint"] is None
    endpoint.refresh_from_db()
    assert signing_secrets(endpoint) == [new_secret]


def test_rotate_without_endpoint_is_404(api):
    response = api.post(f"{URL}/rotate-secret")
    assert response.status_code == 404 and _error(response)["code"] == "webhook_not_configured"


# --- Scopes -------------------------------------------------------------------------------


def test_read_scope_reads_but_cannot_change(reader, tenant, configured):
    event = WebhookEventFactory(tenant=tenant, endpoint=configured[0], status=WebhookEvent.Status.FAILED)
    assert reader.get(URL).status_code == 200
    assert reader.get(f"{URL}/events").status_code == 200
    assert reader.get(f"{URL}/events/{event.pk}").status_code == 200
    assert reader.get(f"{URL}/attempts").status_code == 200
    for method, path in [
        ("put", URL),
        ("patch", URL),
        ("post", f"{URL}/rotate-secret"),
        ("post", f"{URL}/rotate-secret/finish"),
        ("post", f"{URL}/test"),
        ("post", f"{URL}/events/{event.pk}/resend"),
    ]:
        response = getattr(reader, method)(path, {"enabled": False}, format="json")
        assert response.status_code == 403, (method, path)
        assert _error(response)["code"] == "missing_scope"
    endpoint = WebhookEndpoint.objects.get(tenant=tenant)
    assert endpoint.is_active and endpoint.secret_hint == configured[0].secret_hint
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED


def test_send_only_key_cannot_read(api_for, member, configured):
    response = api_for(member, scopes=("send",)).get(URL)
    assert response.status_code == 403 and _error(response)["code"] == "missing_scope"


def test_no_key_is_refused(client):
    response = client.get(URL)
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] in ("missing_api_key", "not_authenticated")


# --- Events, attempts, resend -------------------------------------------------------------


@pytest.fixture
def history(tenant, configured):
    """Three events (one failed, one delivered, one pending), with their attempts."""
    endpoint = configured[0]
    now = timezone.now()
    failed = WebhookEventFactory(
        tenant=tenant, endpoint=endpoint, status=WebhookEvent.Status.FAILED, attempts=2, message_id=11
    )
    delivered = WebhookEventFactory(
        tenant=tenant, endpoint=endpoint, status=WebhookEvent.Status.DELIVERED, attempts=1, message_id=12
    )
    pending = WebhookEventFactory(tenant=tenant, endpoint=endpoint, event_type="message.failed", message_id=13)

    def attempt(event, number, outcome, code, ago):
        return WebhookAttempt.objects.create(
            tenant=tenant,
            event=event,
            number=number,
            attempted_at=now - timedelta(minutes=ago),
            url=endpoint.url,
            outcome=outcome,
            status_code=code,
            duration_ms=12,
        )

    attempt(failed, 1, WebhookAttempt.Outcome.HTTP_ERROR, 500, 30)
    attempt(failed, 2, WebhookAttempt.Outcome.NETWORK_ERROR, None, 20)
    attempt(delivered, 1, WebhookAttempt.Outcome.DELIVERED, 200, 10)
    return failed, delivered, pending


def test_events_list_filters_and_cursor_pagination(api, history):
    failed, delivered, pending = history
    page = api.get(f"{URL}/events", {"page_size": 2}).json()
    assert [e["id"] for e in page["results"]] == [pending.pk, delivered.pk]
    assert page["next"]
    rest = api.get(page["next"]).json()
    assert [e["id"] for e in rest["results"]] == [failed.pk] and rest["next"] is None
    only_failed = api.get(f"{URL}/events", {"status": "failed"}).json()["results"]
    assert [e["event_id"] for e in only_failed] == [str(failed.event_id)]
    by_type = api.get(f"{URL}/events", {"event_type": "message.failed"}).json()["results"]
    assert [e["id"] for e in by_type] == [pending.pk]
    by_message = api.get(f"{URL}/events", {"message_id": 12}).json()["results"]
    assert [e["id"] for e in by_message] == [delivered.pk]
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert api.get(f"{URL}/events", {"created_after": future}).json()["results"] == []


def test_bad_event_filters_are_400(api, history):
    response = api.get(f"{URL}/events", {"status": "lost", "message_id": "x"})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_filter" and set(error["fields"]) == {"status", "message_id"}


def test_event_detail_lists_its_attempts(api, history):
    failed = history[0]
    body = api.get(f"{URL}/events/{failed.pk}").json()
    assert body["event_id"] == str(failed.event_id) and body["status"] == "failed"
    assert [(a["number"], a["outcome"], a["status_code"]) for a in body["attempt_log"]] == [
        (1, "http_error", 500),
        (2, "network_error", None),
    ]


def test_attempts_list_filters(api, history):
    failed, delivered, _pending = history
    everything = api.get(f"{URL}/attempts").json()["results"]
    assert len(everything) == 3 and everything[0]["event"] == delivered.pk  # newest first
    assert everything[0]["event_id"] == str(delivered.event_id)
    of_failed = api.get(f"{URL}/attempts", {"event": failed.pk}).json()["results"]
    assert [a["number"] for a in of_failed] == [2, 1]
    errors = api.get(f"{URL}/attempts", {"status_code": 500}).json()["results"]
    assert [(a["event"], a["status_code"]) for a in errors] == [(failed.pk, 500)]
    network = api.get(f"{URL}/attempts", {"outcome": "network_error"}).json()["results"]
    assert [a["number"] for a in network] == [2]
    since = (timezone.now() - timedelta(minutes=15)).isoformat()
    assert [a["event"] for a in api.get(f"{URL}/attempts", {"attempted_after": since}).json()["results"]] == [
        delivered.pk
    ]
    page = api.get(f"{URL}/attempts", {"page_size": 1}).json()
    assert len(page["results"]) == 1 and page["next"]


def test_bad_attempt_filters_are_400(api, history):
    response = api.get(f"{URL}/attempts", {"status_code": "abc", "outcome": "maybe", "attempted_after": "soon"})
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_filter"
    assert set(error["fields"]) == {"status_code", "outcome", "attempted_after"}


def test_resend_queues_the_same_event_again(api, history):
    failed = history[0]
    response = api.post(f"{URL}/events/{failed.pk}/resend")
    assert response.status_code == 202
    assert response.json()["event_id"] == str(failed.event_id) and response.json()["status"] == "pending"
    failed.refresh_from_db()
    assert failed.status == WebhookEvent.Status.PENDING and failed.resent_at is not None
    assert failed.give_up_at > timezone.now() + timedelta(hours=23)


def test_resend_unknown_event_is_404(api, history):
    response = api.post(f"{URL}/events/999999999/resend")
    assert response.status_code == 404 and _error(response)["code"] == "webhook_event_not_found"


def test_test_event_is_queued(api, tenant, configured):
    response = api.post(f"{URL}/test")
    assert response.status_code == 202 and response.json()["event_type"] == "webhook.test"
    assert WebhookEvent.objects.filter(tenant=tenant, event_type="webhook.test", status="pending").exists()


def test_test_event_without_endpoint_is_404(api):
    response = api.post(f"{URL}/test")
    assert response.status_code == 404 and _error(response)["code"] == "webhook_not_configured"


# --- Outsiders ----------------------------------------------------------------------------


def test_outsider_sees_and_touches_nothing_of_another_tenant(api_for, outsider, tenant, history):
    failed = history[0]
    other = api_for(outsider)
    response = other.get(URL)
    assert response.status_code == 404  # they have no endpoint; ours is not shown
    assert "hooks.example.com" not in response.content.decode()
    assert other.get(f"{URL}/events").json()["results"] == []
    assert other.get(f"{URL}/attempts").json()["results"] == []
    assert other.get(f"{URL}/attempts", {"event": failed.pk}).json()["results"] == []
    assert other.get(f"{URL}/events/{failed.pk}").status_code == 404
    response = other.post(f"{URL}/events/{failed.pk}/resend")
    assert response.status_code == 404 and _error(response)["code"] == "webhook_event_not_found"
    failed.refresh_from_db()
    assert failed.status == WebhookEvent.Status.FAILED and failed.resent_at is None
    assert other.post(f"{URL}/rotate-secret").status_code == 404
    # Creating their own endpoint leaves ours alone.
    assert (
        other.put(URL, {"url": "https://other.example.com/", "events": ["message.failed"]}, format="json").status_code
        == 201
    )
    assert WebhookEndpoint.objects.get(tenant=tenant).url == "https://hooks.example.com/sms"
