import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.events import emit_status_changes
from messaging.models import InboundMessage, Message
from messaging.webhooks.listeners import on_inbound_received, on_status_changes
from messaging.webhooks.models import WebhookEvent
from smsportal.factories import TenantFactory
from smsportal.factories.webhooks import endpoint_for

pytestmark = pytest.mark.django_db


def _message(tenant, status, **extra):
    return Message.objects.create(
        tenant=tenant,
        number="+8613800138000",
        carrier="mobile",
        message_class="verification",
        lane="urgent",
        body="【华美】验证码 123456",
        status=status,
        client_ref="order-42",
        done_at=timezone.now(),
        **extra,
    )


def test_status_changes_become_outbox_rows_with_one_insert(tenant):
    endpoint_for(tenant, "https://hooks.example.com/", events=["message.delivered", "message.failed"])
    quiet = TenantFactory()  # no endpoint: nothing queued, nothing queried for its messages
    delivered = [_message(tenant, "delivered") for _ in range(5)]
    failed = _message(tenant, "failed", failure_reason="vacant_number", raw_status="UNDELIV")
    expired = _message(tenant, "expired")  # not subscribed
    other = _message(quiet, "delivered")

    changes = {
        tenant.id: [(m.id, "delivered", "") for m in delivered]
        + [(failed.id, "failed", "vacant_number"), (expired.id, "expired", "expired")],
        quiet.id: [(other.id, "delivered", "")],
    }
    with CaptureQueriesContext(connection) as queries:
        on_status_changes(changes)
    statements = [
        " ".join(q["sql"].split())
        for q in queries.captured_queries
        if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT"))
    ]
    assert len([sql for sql in statements if sql.startswith("INSERT INTO webhooks_webhookevent")]) == 1
    # subscriptions, messages, endpoints, staging table, COPY, one INSERT … SELECT, staging cleared
    assert len(statements) == 7

    events = WebhookEvent.objects.filter(tenant=tenant)
    assert events.count() == 6
    failed_event = events.get(message_id=failed.id)
    assert failed_event.event_type == "message.failed"
    assert failed_event.payload["failure_reason"] == "vacant_number"
    assert failed_event.payload["raw_status"] == "UNDELIV"
    assert failed_event.payload["client_ref"] == "order-42"
    assert not WebhookEvent.objects.filter(tenant=quiet).exists()

    emit_status_changes(changes)  # registered with messaging.events; a repeated emission queues nothing new
    assert WebhookEvent.objects.filter(tenant=tenant).count() == 6


def test_a_message_id_of_another_tenant_is_ignored(tenant, outsider):
    endpoint_for(tenant, "https://hooks.example.com/")
    foreign = _message(outsider.tenant, "delivered")
    emit_status_changes({tenant.id: [(foreign.id, "delivered", "")]})
    assert not WebhookEvent.objects.exists()


def test_inbound_replies_are_queued(tenant):
    endpoint_for(tenant, "https://hooks.example.com/", events=["inbound.received"])
    inbound = InboundMessage.objects.create(tenant=tenant, number="+8613800138000", text="TD")
    assert on_inbound_received([inbound.id]) == 1
    event = WebhookEvent.objects.get(tenant=tenant)
    assert event.event_type == "inbound.received" and event.payload["text"] == "TD"


@pytest.mark.skipif(
    bool(settings.REDIS_URL), reason="reads the ORM broker's queue table; with REDIS_URL tasks queue in Redis"
)
def test_queued_events_start_a_delivery_run_on_the_bulk_lane(tenant, django_capture_on_commit_callbacks):
    from django.core.cache import cache
    from django_q.models import OrmQ

    cache.delete("webhooks:kick")
    endpoint_for(tenant, "https://hooks.example.com/")
    message = _message(tenant, "delivered")
    with django_capture_on_commit_callbacks(execute=True):
        on_status_changes({tenant.id: [(message.id, "delivered", "")]})
    [queued] = OrmQ.objects.all()
    assert queued.key == "bulk" and queued.task["func"] == "messaging.webhooks.tasks.deliver_webhooks"


def test_prune_keeps_pending_and_recent_events(tenant):
    from datetime import timedelta

    from messaging.webhooks.tasks import prune_webhook_events
    from smsportal.factories.webhooks import WebhookEventFactory

    old = timezone.now() - timedelta(days=40)
    WebhookEventFactory(tenant=tenant, status="delivered", created_at=old, payload={"n": 1})
    kept_pending = WebhookEventFactory(tenant=tenant, status="pending", created_at=old, payload={"n": 2})
    kept_recent = WebhookEventFactory(tenant=tenant, status="failed", payload={"n": 3})
    prune_webhook_events()
    assert set(WebhookEvent.objects.values_list("id", flat=True)) == {kept_pending.id, kept_recent.id}


def test_inbound_sweep_queues_replies_stored_by_any_path_once(tenant):
    from messaging.webhooks.listeners import inbound_sweep

    endpoint_for(tenant, "https://hooks.example.com/", events=["inbound.received"])
    InboundMessage.objects.create(tenant=tenant, number="+8613800138000", text="before the first sweep")
    assert inbound_sweep() == 0  # the first sweep only marks where it starts
    first = InboundMessage.objects.create(tenant=tenant, number="+8613800138000", text="R")
    on_inbound_received([first.id])  # the HTTP callback already queued this one
    second = InboundMessage.objects.create(tenant=tenant, number="+8613800138001", text="好的")
    inbound_sweep()
    inbound_sweep()
    texts = sorted(e.payload["text"] for e in WebhookEvent.objects.filter(tenant=tenant))
    assert texts == ["R", "好的"]
    assert second.id in [e.payload["inbound_id"] for e in WebhookEvent.objects.all()]
