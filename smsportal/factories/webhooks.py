"""Factories for tenant status webhooks. Endpoints go through the service (the secret is
sealed and only returned once)."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from messaging.webhooks.models import WebhookEndpoint, WebhookEvent
from messaging.webhooks.services import webhook_endpoint_save
from smsportal.factories.tenants import TenantFactory

ALL_EVENTS = ["message.delivered", "message.failed", "message.expired", "message.rejected", "inbound.received"]


def endpoint_for(tenant, url: str, events=None, is_active: bool = True) -> tuple[WebhookEndpoint, str]:
    """(endpoint, raw secret)."""
    endpoint, secret = webhook_endpoint_save(
        tenant=tenant, actor=None, url=url, events=list(events or ALL_EVENTS), is_active=is_active
    )
    return endpoint, secret


class WebhookEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookEvent

    tenant = factory.SubFactory(TenantFactory)
    endpoint = factory.LazyAttribute(lambda o: endpoint_for(o.tenant, "http://127.0.0.1:9/hook")[0])
    event_type = "message.delivered"
    payload = factory.LazyFunction(lambda: {"message_id": 1, "status": "delivered"})
    next_attempt_at = factory.LazyFunction(timezone.now)
    give_up_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))
