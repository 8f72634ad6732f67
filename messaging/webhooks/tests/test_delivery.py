"""Delivery against a real HTTP server on 127.0.0.1."""

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.webhooks import signing
from messaging.webhooks.delivery import deliver_due, event_body, retry_delay
from messaging.webhooks.models import WebhookAttempt, WebhookEvent
from messaging.webhooks.services import (
    EventSpec,
    stable_event_id,
    webhook_event_resend,
    webhook_events_enqueue,
    webhook_rotation_finish,
    webhook_secret_rotate,
)
from messaging.webhooks.testing import RecordingServer, Reply
from smsportal.factories.webhooks import endpoint_for

pytestmark = pytest.mark.django_db


def _enqueue(tenant, subject="message:1", event_type="message.delivered", now=None):
    webhook_events_enqueue(
        specs=[EventSpec(tenant_id=tenant.id, event_type=event_type, payload={"message_id": 1}, subject=subject)],
        now=now,
    )
    return WebhookEvent.objects.get(tenant=tenant, event_id=stable_event_id(tenant.id, event_type, subject))


def test_delivery_is_signed_verifiable_and_carries_the_event_id(tenant, receiver):
    _endpoint, secret = endpoint_for(tenant, receiver.url + "/hook")
    event = _enqueue(tenant)

    report = deliver_due()

    assert report.delivered == 1
    [request] = receiver.requests
    assert request.path == "/hook"
    assert request.headers["X-Event-Id"] == str(event.event_id)
    assert signing.verify(request.headers["X-Signature"], request.body, secret)
    assert request.json()["id"] == str(event.event_id)
    assert request.json()["type"] == "message.delivered"
    assert request.json()["data"] == {"message_id": 1}
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.DELIVERED and event.attempts == 1 and event.last_status_code == 200
    attempt = WebhookAttempt.objects.get(event=event)
    assert attempt.outcome == "delivered" and attempt.status_code == 200 and attempt.response_excerpt == "ok"


def test_failures_retry_with_exponential_backoff_and_log_every_attempt(tenant, receiver):
    endpoint_for(tenant, receiver.url)
    receiver.default = Reply(503, "try later")
    start = timezone.now()
    event = _enqueue(tenant, now=start)

    clock = start
    expected_gaps = [30, 60, 120, 240]
    for gap in expected_gaps:
        assert deliver_due(now=clock).retrying == 1
        event.refresh_from_db()
        assert event.next_attempt_at == clock + timedelta(seconds=gap)
        assert deliver_due(now=clock + timedelta(seconds=gap - 1)).claimed == 0  # not due yet
        clock = event.next_attempt_at

    attempts = list(WebhookAttempt.objects.filter(event=event).order_by("number"))
    assert [a.number for a in attempts] == [1, 2, 3, 4]
    assert {a.status_code for a in attempts} == {503}
    assert attempts[0].response_excerpt == "try later"
    assert len(receiver.requests) == 4
    # The same event id and body on every attempt: receivers can deduplicate.
    assert len({r.headers["X-Event-Id"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1


def test_backoff_is_capped_at_two_hours():
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 8, 9, 20)] == [30, 60, 120, 3840, 7200, 7200]


def test_gives_up_after_24_hours(tenant, receiver):
    endpoint_for(tenant, receiver.url)
    receiver.default = Reply(500)
    start = timezone.now()
    event = _enqueue(tenant, now=start)

    clock, rounds = start, 0
    while True:
        deliver_due(now=clock)
        event.refresh_from_db()
        rounds += 1
        if event.status != WebhookEvent.Status.PENDING:
            break
        clock = event.next_attempt_at
        assert rounds < 40

    assert event.status == WebhookEvent.Status.FAILED
    assert clock <= start + timedelta(hours=24)
    assert clock + retry_delay(event.attempts) > start + timedelta(hours=24)
    assert event.attempts == rounds == len(receiver.requests)
    assert deliver_due(now=start + timedelta(hours=30)).claimed == 0


def test_network_errors_and_redirects_count_as_failed_attempts(tenant, receiver):
    endpoint, _secret = endpoint_for(tenant, "http://127.0.0.1:9/closed")
    event = _enqueue(tenant)
    deliver_due()
    attempt = WebhookAttempt.objects.get(event=event)
    assert attempt.outcome == "network_error" and attempt.status_code is None and attempt.error

    endpoint.url = receiver.url
    endpoint.save()
    receiver.replies.append(Reply(302, "", headers={"Location": "http://example.com/"}))
    deliver_due(now=timezone.now() + timedelta(minutes=1))
    second = WebhookAttempt.objects.get(event=event, number=2)
    assert second.outcome == "http_error" and second.status_code == 302
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.PENDING and event.attempts == 2


def test_same_status_change_is_queued_once(tenant, receiver):
    endpoint_for(tenant, receiver.url)
    _enqueue(tenant, subject="message:7")
    _enqueue(tenant, subject="message:7")
    _enqueue(tenant, subject="message:7", event_type="message.failed")
    assert WebhookEvent.objects.filter(tenant=tenant).count() == 2


def test_events_only_for_subscribed_active_endpoints(tenant, outsider, receiver):
    endpoint_for(tenant, receiver.url, events=["message.failed"])
    endpoint_for(outsider.tenant, receiver.url, is_active=False)
    specs = [
        EventSpec(tenant_id=tenant.id, event_type="message.delivered", payload={}, subject="m:1"),
        EventSpec(tenant_id=tenant.id, event_type="message.failed", payload={}, subject="m:2"),
        EventSpec(tenant_id=outsider.tenant_id, event_type="message.failed", payload={}, subject="m:3"),
    ]
    assert webhook_events_enqueue(specs=specs) == 1
    assert list(WebhookEvent.objects.values_list("event_type", flat=True)) == ["message.failed"]


def test_a_claimed_event_is_not_claimed_again_while_its_lease_runs(tenant, receiver):
    from messaging.webhooks.delivery import _claim

    endpoint_for(tenant, receiver.url)
    _enqueue(tenant)
    now = timezone.now()
    assert len(_claim(10, now)) == 1
    assert _claim(10, now) == []
    assert len(_claim(10, now + timedelta(minutes=3))) == 1  # the worker died: lease ran out


def test_rotation_signs_with_both_secrets_then_only_the_new_one(tenant, member, receiver):
    _endpoint, old_secret = endpoint_for(tenant, receiver.url)
    _endpoint, new_secret = webhook_secret_rotate(tenant=tenant, actor=member.user)
    assert new_secret != old_secret

    _enqueue(tenant, subject="message:1")
    deliver_due()
    header = receiver.requests[-1].headers["X-Signature"]
    body = receiver.requests[-1].body
    assert len(signing.parse_header(header)[1]) == 2
    assert signing.verify(header, body, new_secret) and signing.verify(header, body, old_secret)

    # After the grace period the old secret no longer signs.
    later = timezone.now() + timedelta(hours=25)
    _enqueue(tenant, subject="message:2", now=later)
    deliver_due(now=later)
    assert len(receiver.requests) == 2
    header = receiver.requests[-1].headers["X-Signature"]
    body = receiver.requests[-1].body
    assert len(signing.parse_header(header)[1]) == 1
    assert signing.verify(header, body, new_secret, now=signing.parse_header(header)[0])
    assert not signing.verify(header, body, old_secret, now=signing.parse_header(header)[0])

    # Finishing the rotation early drops the old secret at once.
    webhook_secret_rotate(tenant=tenant, actor=member.user)
    webhook_rotation_finish(tenant=tenant, actor=member.user)
    _enqueue(tenant, subject="message:3")
    deliver_due()
    assert len(signing.parse_header(receiver.requests[-1].headers["X-Signature"])[1]) == 1


def test_resend_delivers_again_with_the_same_event_id(tenant, member, receiver):
    endpoint_for(tenant, receiver.url)
    receiver.default = Reply(500)
    start = timezone.now()
    event = _enqueue(tenant, now=start)
    event.give_up_at = start + timedelta(seconds=10)
    event.save()
    deliver_due(now=start)
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED

    receiver.default = Reply(200)
    webhook_event_resend(tenant=tenant, actor=member.user, event_id=event.id)
    assert deliver_due().delivered == 1
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.DELIVERED and event.attempts == 2
    assert event.resent_by == member.user
    assert [r.headers["X-Event-Id"] for r in receiver.requests] == [str(event.event_id)] * 2


def test_pending_events_of_a_disabled_endpoint_wait_then_fail(tenant, receiver):
    endpoint, _secret = endpoint_for(tenant, receiver.url, is_active=True)
    start = timezone.now()
    event = _enqueue(tenant, now=start)
    endpoint.is_active = False
    endpoint.save()
    assert deliver_due(now=start).claimed == 0
    report = deliver_due(now=start + timedelta(hours=24, seconds=1))
    assert report.expired_unsent == 1
    event.refresh_from_db()
    assert event.status == WebhookEvent.Status.FAILED and receiver.requests == []


def test_body_is_stable_json(tenant, receiver):
    endpoint_for(tenant, receiver.url)
    event = _enqueue(tenant)
    assert event_body(event) == event_body(WebhookEvent.objects.get(pk=event.pk))


def test_a_failing_endpoint_costs_one_attempt_per_batch_and_holds_its_other_events(tenant, outsider, receiver):
    endpoint_for(tenant, receiver.url + "/down")
    with RecordingServer() as healthy:
        endpoint_for(outsider.tenant, healthy.url)
        receiver.default = Reply(503, "maintenance")
        start = timezone.now()
        events = [_enqueue(tenant, subject=f"message:{n}", now=start) for n in range(5)]
        _enqueue(outsider.tenant, subject="message:99", now=start)

        report = deliver_due(now=start, threads=1)

        assert len(receiver.requests) == 1 and len(healthy.requests) == 1  # the other tenant is not held up
        assert report.held == 4 and report.retrying == 1 and report.delivered == 1
        assert WebhookAttempt.objects.filter(event__tenant=tenant).count() == 1
        times = set(WebhookEvent.objects.filter(tenant=tenant).values_list("next_attempt_at", flat=True))
        assert times == {start + timedelta(seconds=30)}
        assert deliver_due(now=start + timedelta(seconds=29)).claimed == 0

        receiver.default = Reply(200)
        assert deliver_due(now=start + timedelta(seconds=30)).delivered == 5
        assert {e.status for e in WebhookEvent.objects.filter(id__in=[e.id for e in events])} == {"delivered"}


def test_a_4xx_answer_does_not_hold_the_endpoints_other_events(tenant, receiver):
    endpoint_for(tenant, receiver.url)
    receiver.default = Reply(400, "bad event")
    for n in range(3):
        _enqueue(tenant, subject=f"message:{n}")
    report = deliver_due(threads=1)
    assert report.held == 0 and len(receiver.requests) == 3


def test_the_task_runs_one_delivery_loop_at_a_time(tenant, receiver):
    from django.db import connections

    from messaging.webhooks.tasks import DELIVERY_LOCK_KEY, deliver_webhooks

    endpoint_for(tenant, receiver.url)
    _enqueue(tenant)
    other = connections.create_connection("default")  # another worker holding the loop
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [DELIVERY_LOCK_KEY])
        assert deliver_webhooks() == "another delivery loop is running"
        assert receiver.requests == []
        with other.cursor() as cursor:  # the other worker's loop ends (closing alone frees it a moment later)
            cursor.execute("SELECT pg_advisory_unlock(%s)", [DELIVERY_LOCK_KEY])
    finally:
        other.close()
    assert "delivered=1" in deliver_webhooks()
