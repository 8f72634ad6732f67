"""The generic HTTP provider adapter against a real provider stand-in on 127.0.0.1."""

import json

import pytest
from django.urls import reverse

from messaging.adapters.base import get_adapter
from messaging.adapters.http import HttpProviderAdapter
from messaging.dispatch import lane_dispatch_batch
from messaging.models import InboundMessage, Message, ReceiptRaw
from messaging.receipts import receipts_apply_batch
from messaging.services import message_accept_batch
from messaging.watch.models import ProviderCodeMapping
from messaging.webhooks import signing
from messaging.webhooks.testing import RecordingServer, Reply
from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, MessageFactory, ready_to_send

pytestmark = pytest.mark.django_db

TOKEN = "cb-token-5f2a9d"


@pytest.fixture
def provider():
    with RecordingServer() as server:
        yield server


@pytest.fixture
def http_channel(provider):
    return ChannelFactory(
        name="http-provider",
        adapter="http",
        settings={
            "url": provider.url + "/sms/send",
            "header_name": "X-Api-Key",
            "auth_value": "prov-secret-123",
            "lookup_url": provider.url + "/sms/lookup",
            "callback_token": TOKEN,
            "timeout_seconds": 3,
        },
    )


def _messages(tenant, n):
    return [MessageFactory(tenant=tenant, body=f"【华美】验证码{i}") for i in range(n)]


def test_registered_under_http():
    assert isinstance(get_adapter("http"), HttpProviderAdapter)


def test_submit_posts_the_batch_with_the_auth_header_and_maps_each_result(tenant, provider, http_channel):
    ProviderCodeMapping.objects.create(
        channel=http_channel, scope="submit", code="E101", outcome="failed", failure_reason="vacant_number"
    )
    m = _messages(tenant, 5)
    provider.default = Reply(
        200,
        {
            "results": [
                {"id": str(m[0].id), "code": "0", "ref": "P-1"},
                {"id": str(m[1].id), "code": "THROTTLED"},
                {"id": str(m[2].id), "code": "E101"},
                {"id": str(m[3].id), "code": "E999"},
                # m[4] missing from the answer
            ]
        },
    )
    results = {r.message_id: r for r in HttpProviderAdapter().submit(http_channel, m)}

    [request] = provider.requests
    assert request.path == "/sms/send"
    assert request.headers["X-Api-Key"] == "prov-secret-123"
    sent = request.json()
    assert [item["id"] for item in sent["messages"]] == [str(x.id) for x in m]
    assert sent["messages"][0]["to"] == m[0].number and sent["messages"][0]["text"] == m[0].body
    assert sent["callback_url"].endswith(f"/api/v1/channels/{http_channel.pk}/receipts")

    assert results[m[0].id].ok and results[m[0].id].channel_ref == "P-1"
    assert not results[m[1].id].ok and results[m[1].id].retriable and results[m[1].id].reason == "throttled"
    assert not results[m[2].id].retriable and results[m[2].id].reason == "vacant_number"
    assert results[m[2].id].raw_code == "E101"
    assert results[m[3].id].retriable and results[m[3].id].reason == "channel_error"  # unknown: try elsewhere
    assert results[m[4].id].retriable and results[m[4].id].raw_code == "MISSING"


def test_whole_request_failures_are_retriable_unless_the_operator_says_otherwise(tenant, provider, http_channel):
    m = _messages(tenant, 2)
    provider.default = Reply(503, "down for maintenance")
    results = HttpProviderAdapter().submit(http_channel, m)
    assert all(not r.ok and r.retriable and r.raw_code == "HTTP_503" for r in results)

    ProviderCodeMapping.objects.create(
        channel=http_channel, scope="submit", code="HTTP_400", outcome="failed", failure_reason="content_blocked"
    )
    provider.default = Reply(400, {"error": "bad content"})
    results = HttpProviderAdapter().submit(http_channel, m)
    assert all(not r.retriable and r.reason == "content_blocked" for r in results)

    provider.default = Reply(200, "<html>not json</html>")
    assert all(r.retriable for r in HttpProviderAdapter().submit(http_channel, m))

    http_channel.settings["url"] = "http://127.0.0.1:9/closed"
    results = HttpProviderAdapter().submit(http_channel, m)
    assert all(r.retriable and r.reason == "channel_error" for r in results)


def test_lookup_asks_the_provider_which_messages_it_has(tenant, provider, http_channel):
    m = _messages(tenant, 2)
    provider.default = Reply(200, {"found": {str(m[0].id): "P-77", "999999": "P-x"}})
    assert HttpProviderAdapter().lookup(http_channel, [m[0].id, m[1].id]) == {m[0].id: "P-77"}
    assert provider.requests[0].json() == {"ids": [str(m[0].id), str(m[1].id)]}

    provider.default = Reply(502, "bad gateway")
    with pytest.raises(NotImplementedError):  # cannot answer: recovery must not re-send
        HttpProviderAdapter().lookup(http_channel, [m[0].id])

    http_channel.settings.pop("lookup_url")
    with pytest.raises(NotImplementedError):
        HttpProviderAdapter().lookup(http_channel, [m[0].id])


def _callback(client, channel, document, **headers):
    return client.post(
        reverse("api-messaging-channel-receipts", args=[channel.pk]),
        data=json.dumps(document),
        content_type="application/json",
        **headers,
    )


def test_receipt_callback_with_token_stores_mapped_raw_receipts(client, tenant, http_channel):
    ProviderCodeMapping.objects.create(
        channel=http_channel, scope="receipt", code="MK:0001", outcome="failed", failure_reason="vacant_number"
    )
    m = _messages(tenant, 3)
    document = {
        "receipts": [
            {"id": str(m[0].id), "status": "DELIVRD", "reported_at": "2026-11-25T08:00:01+00:00"},
            {"ref": "P-2", "status": "MK:0001"},
            {"id": str(m[2].id), "status": "ENROUTE"},  # not final: skipped
            {"id": str(m[2].id), "status": "ZZ:42"},  # unmapped
        ]
    }
    response = _callback(client, http_channel, document, HTTP_X_CALLBACK_TOKEN=TOKEN)
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "replies": 0, "unmapped": ["ZZ:42"]}
    rows = {(r.message_id, r.channel_ref): r for r in ReceiptRaw.objects.filter(channel=http_channel)}
    assert rows[(m[0].id, "")].delivered and rows[(m[0].id, "")].raw_status == "DELIVRD"
    assert rows[(None, "P-2")].failure_reason == "vacant_number" and not rows[(None, "P-2")].delivered
    assert rows[(m[2].id, "")].failure_reason == "unknown" and rows[(m[2].id, "")].raw_status == "ZZ:42"


def test_receipt_callback_accepts_an_hmac_signature_instead_of_the_token(client, tenant, http_channel):
    [message] = _messages(tenant, 1)
    body = json.dumps({"receipts": [{"id": str(message.id), "status": "DELIVRD"}]}).encode()
    response = client.post(
        reverse("api-messaging-channel-receipts", args=[http_channel.pk]),
        data=body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signing.signature_header(body, [TOKEN]),
    )
    assert response.status_code == 200 and ReceiptRaw.objects.filter(message_id=message.id).exists()


def test_receipt_callback_refuses_bad_credentials_and_bad_input(client, http_channel):
    assert _callback(client, http_channel, {"receipts": []}).status_code == 401
    assert _callback(client, http_channel, {"receipts": []}, HTTP_X_CALLBACK_TOKEN="wrong").status_code == 401
    body = b'{"receipts": []}'
    bad_signature = signing.signature_header(body, ["not-the-token"])
    assert (
        client.post(
            reverse("api-messaging-channel-receipts", args=[http_channel.pk]),
            data=body,
            content_type="application/json",
            HTTP_X_SIGNATURE=bad_signature,
        ).status_code
        == 401
    )
    simulated = ChannelFactory(settings={"callback_token": TOKEN})  # not an http channel
    assert _callback(client, simulated, {"receipts": []}, HTTP_X_CALLBACK_TOKEN=TOKEN).status_code == 401
    missing = reverse("api-messaging-channel-receipts", args=[999999])
    assert client.post(missing, data="{}", content_type="application/json").status_code == 401
    response = client.post(
        reverse("api-messaging-channel-receipts", args=[http_channel.pk]),
        data="{not json",
        content_type="application/json",
        HTTP_X_CALLBACK_TOKEN=TOKEN,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"
    assert client.get(reverse("api-messaging-channel-receipts", args=[http_channel.pk])).status_code == 405
    assert not ReceiptRaw.objects.exists()


def test_replies_in_the_callback_become_inbound_messages(client, tenant, http_channel):
    MessageFactory(tenant=tenant, channel=http_channel, number="+8613800138000", status="delivered")
    document = {"replies": [{"from": "+8613800138000", "text": "好的，收到"}]}
    response = _callback(client, http_channel, document, HTTP_X_CALLBACK_TOKEN=TOKEN)
    assert response.json()["replies"] == 1
    assert InboundMessage.objects.get(tenant=tenant).text == "好的，收到"


def test_end_to_end_dispatch_submit_callback_delivered(client, tenant, member, provider, http_channel):
    template = ready_to_send(tenant, kind=MessageClass.VERIFICATION)

    def answer(request):
        if request.path == "/sms/send":
            return Reply(
                200,
                {"results": [{"id": m["id"], "code": "0", "ref": "P" + m["id"]} for m in request.json()["messages"]]},
            )
        return Reply(404, "")

    provider.handler = answer
    [result] = message_accept_batch(
        tenant=tenant,
        actor=member.user,
        template_id=template.pk,
        recipients=[{"number": "13800138000", "variables": {"code": "246810"}}],
    )
    assert lane_dispatch_batch("urgent") == 1
    message = Message.objects.get(pk=result.message_id)
    assert message.status == "submitted" and message.channel == http_channel
    assert message.channel_ref == f"P{message.id}"

    response = _callback(
        client,
        http_channel,
        {"receipts": [{"ref": message.channel_ref, "status": "DELIVRD"}]},
        HTTP_X_CALLBACK_TOKEN=TOKEN,
    )
    assert response.status_code == 200
    while receipts_apply_batch():
        pass
    message.refresh_from_db()
    assert message.status == "delivered" and message.raw_status == "DELIVRD"


def test_crash_recovery_asks_the_provider_and_never_sends_twice(tenant, provider, http_channel):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.dispatch import leases_recover

    past = timezone.now() - timedelta(minutes=5)
    taken, lost = (
        MessageFactory(tenant=tenant, status="submitting", channel=http_channel, lease_until=past) for _ in range(2)
    )
    provider.default = Reply(200, {"found": {str(taken.id): "P-taken"}})
    leases_recover()
    taken.refresh_from_db()
    lost.refresh_from_db()
    assert taken.status == "submitted" and taken.channel_ref == "P-taken"
    assert lost.status == "queued"
    assert provider.requests[0].path == "/sms/lookup"
