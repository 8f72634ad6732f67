import pytest
from django.db import connection
from django.test import override_settings

from messaging.idempotency import idempotency_begin, request_fingerprint
from messaging.models import Message
from smsportal.factories.messaging import MessageFactory, ready_to_send

URL = "/api/v1/messages"
BATCH = "/api/v1/messages/batch"


@pytest.fixture
def api(api_for, member):
    return api_for(member)


def send(api, template, number="13800138000", headers=None, **extra):
    body = {"template_id": template.pk, "number": number, "variables": {"code": "123456"}, **extra}
    return api.post(URL, body, format="json", headers=headers or {})


def test_send_one(api, code_template):
    response = send(api, code_template, client_ref="order-1")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "queued" and data["segments"] == 1 and data["estimated_price"]
    message = Message.objects.get(pk=data["id"])
    assert message.client_ref == "order-1" and message.number == "+8613800138000"


def test_get_one_and_outsider_gets_404(api, api_for, outsider, code_template):
    message_id = send(api, code_template).json()["id"]
    response = api.get(f"{URL}/{message_id}")
    assert response.status_code == 200 and response.json()["status"] == "queued"
    assert api_for(outsider).get(f"{URL}/{message_id}").status_code == 404


def test_list_filters_and_cursor(api, tenant, api_for, outsider):
    MessageFactory.create_batch(3, tenant=tenant, status="delivered", client_ref="a")
    MessageFactory(tenant=tenant, status="failed", number="+8613900139000")
    MessageFactory(status="delivered")  # another tenant's
    assert len(api.get(URL, {"status": "delivered"}).json()["results"]) == 3
    assert len(api.get(URL, {"number": "13900139000"}).json()["results"]) == 1
    assert len(api.get(URL, {"client_ref": "a"}).json()["results"]) == 3
    first = api.get(URL, {"page_size": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 2
    assert api.get(URL, {"status": "nope"}).status_code == 400
    assert api.get(URL, {"date_from": "yesterday"}).json()["error"]["fields"]["date_from"]
    assert api_for(outsider).get(URL).json()["results"] == []


def test_bad_input_answers_with_stable_codes(api, tenant, code_template):
    assert send(api, code_template, number="12345").json()["error"]["code"] == "invalid_number"
    response = api.post(URL, {"template_id": code_template.pk, "number": "13800138000", "variables": {}}, format="json")
    assert response.status_code == 422 and "code" in response.json()["error"]["fields"]
    response = api.post(URL, {"template_id": 999999, "number": "13800138000"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "template_not_found"
    response = api.post(URL, {"number": "13800138000"}, format="json")
    assert response.status_code == 400 and "template_id" in response.json()["error"]["fields"]
    response = api.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_json"
    response = send(api, code_template, send_at="2030-01-01T00:00:00")
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_send_at"


def test_unapproved_template_is_409(api, tenant):
    from smsportal.factories.templates import MessageTemplateFactory

    template = MessageTemplateFactory(tenant=tenant)
    response = send(api, template)
    assert response.status_code == 409 and response.json()["error"]["code"] == "template_not_approved"


def test_insufficient_balance_is_402(api_for, tenant, member):
    template = ready_to_send(tenant, balance="")
    response = send(api_for(member), template)
    assert response.status_code == 402 and response.json()["error"]["code"] == "insufficient_balance"


def test_batch_accepts_good_and_lists_bad(api, code_template):
    recipients = [
        {"number": "13800138000", "variables": {"code": "123456"}, "client_ref": "r1"},
        {"number": "not a number", "variables": {"code": "123456"}},
        {"number": "13800138002", "variables": {"code": "x"}},
    ]
    response = api.post(BATCH, {"template_id": code_template.pk, "recipients": recipients}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["accepted"] == 1 and data["rejected"] == 2
    statuses = [r["status"] for r in data["results"]]
    assert statuses == ["queued", "rejected", "invalid"]
    assert data["results"][1]["reason"] == "invalid_number"
    assert Message.objects.get(pk=data["results"][0]["id"]).client_ref == "r1"


def test_batch_over_1000_is_refused(api, code_template):
    recipients = [{"number": "13800138000", "variables": {"code": "123456"}}] * 1001
    response = api.post(BATCH, {"template_id": code_template.pk, "recipients": recipients}, format="json")
    assert response.status_code == 400 and "recipients" in response.json()["error"]["fields"]
    assert not Message.objects.exists()


class TestIdempotency:
    def test_same_key_same_body_returns_the_first_answer(self, api, code_template):
        first = send(api, code_template, headers={"Idempotency-Key": "k1"})
        again = send(api, code_template, headers={"Idempotency-Key": "k1"})
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json() and again.headers["Idempotent-Replayed"] == "true"
        assert Message.objects.count() == 1

    def test_same_key_other_body_is_422(self, api, code_template):
        send(api, code_template, headers={"Idempotency-Key": "k1"})
        response = send(api, code_template, number="13800138002", headers={"Idempotency-Key": "k1"})
        assert response.status_code == 422 and response.json()["error"]["code"] == "idempotency_key_reused"

    def test_in_flight_is_409(self, api, tenant, code_template):
        body = {"template_id": code_template.pk, "number": "13800138000", "variables": {"code": "123456"}}
        idempotency_begin(tenant=tenant, key="k2", fingerprint=request_fingerprint(URL, body))
        response = api.post(URL, body, format="json", headers={"Idempotency-Key": "k2"})
        assert response.status_code == 409 and response.json()["error"]["code"] == "idempotency_in_flight"

    def test_keys_are_per_tenant(self, api, api_for, outsider, code_template):
        send(api, code_template, headers={"Idempotency-Key": "shared"})
        other_template = ready_to_send(outsider.tenant)
        response = send(api_for(outsider), other_template, headers={"Idempotency-Key": "shared"})
        assert response.status_code == 201 and Message.objects.count() == 2

    def test_a_failed_request_frees_its_key(self, api, code_template):
        bad = send(api, code_template, number="12345", headers={"Idempotency-Key": "k3"})
        assert bad.status_code == 422
        good = send(api, code_template, headers={"Idempotency-Key": "k3"})
        assert good.status_code == 201  # the fixed request may reuse the key
        assert send(api, code_template, headers={"Idempotency-Key": "k3"}).json() == good.json()


@override_settings(MESSAGING_API_RATE_LIMITS={"default": (2, 3600)})
def test_rate_limit_429_with_retry_after(api, code_template):
    assert api.get(URL).status_code == 200
    assert api.get(URL).status_code == 200
    response = api.get(URL)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


def test_rate_limit_counters_skip_the_write_ahead_log(db):
    # Every request bumps a counter; a crash may restart a window but must not cost a flush each.
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpersistence FROM pg_class WHERE relname = 'messaging_ratewindow'")
        assert cursor.fetchone() == ("u",)


def test_scopes(api_for, member, code_template):
    reader = api_for(member, scopes=("read",))
    assert send(reader, code_template).status_code == 403
    assert reader.get(URL).status_code == 200
