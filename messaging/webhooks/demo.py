"""Demo data for tenant status webhooks: 华美零售 has an endpoint with a short history of
deliveries (one clean, one that needed retries, one that gave up), so the portal page and
the attempt log have something to show. Idempotent.

Called from messaging.demo.seed(ctx) (after the messaging demo data exists)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from messaging.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
from messaging.webhooks.services import stable_event_id, webhook_endpoint_save

DEMO_URL = "https://hooks.huamei.example.cn/sms/status"


def seed(ctx) -> None:
    tenant = ctx.tenants.get("huamei-retail")
    if tenant is None or WebhookEndpoint.objects.filter(tenant=tenant).exists():
        return
    owner = ctx.users.get("owner@huamei.example.cn")
    endpoint, _secret = webhook_endpoint_save(
        tenant=tenant,
        actor=owner,
        url=DEMO_URL,
        events=["message.delivered", "message.failed", "message.expired", "inbound.received"],
        # Off: the demo host does not exist, so live deliveries would only pile up failures.
        is_active=False,
    )
    now = timezone.now()
    history = [
        # (minutes ago, type, payload, [(status code, error, response)], final status)
        (
            95,
            "message.delivered",
            {"message_id": 0, "client_ref": "order-20261125-0012", "number": "+8613800138000", "status": "delivered"},
            [(200, "", '{"ok":true}')],
            WebhookEvent.Status.DELIVERED,
        ),
        (
            60,
            "message.failed",
            {
                "message_id": 0,
                "client_ref": "order-20261125-0031",
                "number": "+8613900139000",
                "status": "failed",
                "failure_reason": "vacant_number",
                "raw_status": "MK:0001",
            },
            [(503, "", "Service Unavailable"), (None, "TimeoutError: timed out", ""), (200, "", "ok")],
            WebhookEvent.Status.DELIVERED,
        ),
        (
            26 * 60,
            "inbound.received",
            {"inbound_id": 0, "number": "+8613700137000", "text": "退订", "is_opt_out": True},
            [(500, "", "Internal Server Error")] * 3,
            WebhookEvent.Status.FAILED,
        ),
    ]
    for index, (minutes_ago, event_type, payload, attempts, status) in enumerate(history):
        created = now - timedelta(minutes=minutes_ago)
        event = WebhookEvent.objects.create(
            tenant=tenant,
            endpoint=endpoint,
            event_id=stable_event_id(tenant.id, event_type, f"demo:{index}"),
            event_type=event_type,
            payload=payload,
            status=status,
            attempts=len(attempts),
            next_attempt_at=created,
            give_up_at=created + timedelta(hours=24),
            created_at=created,
            last_attempt_at=created + timedelta(seconds=30 * (len(attempts) - 1)),
            last_status_code=attempts[-1][0],
            delivered_at=created + timedelta(seconds=30 * (len(attempts) - 1))
            if status == WebhookEvent.Status.DELIVERED
            else None,
        )
        WebhookAttempt.objects.bulk_create(
            [
                WebhookAttempt(
                    tenant=tenant,
                    event=event,
                    number=number,
                    attempted_at=created + timedelta(seconds=30 * (number - 1)),
                    url=DEMO_URL,
                    outcome=(
                        WebhookAttempt.Outcome.DELIVERED
                        if code and 200 <= code < 300
                        else WebhookAttempt.Outcome.HTTP_ERROR
                        if code
                        else WebhookAttempt.Outcome.NETWORK_ERROR
                    ),
                    status_code=code,
                    duration_ms=5000 if error else 180 + 40 * number,
                    response_excerpt=response,
                    error=error,
                )
                for number, (code, error, response) in enumerate(attempts, start=1)
            ]
        )
