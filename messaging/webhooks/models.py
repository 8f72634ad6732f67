"""Tenant status webhooks: one endpoint per tenant, an outbox of events, a log of attempts."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantOwned


class EventType(models.TextChoices):
    MESSAGE_DELIVERED = "message.delivered", _("Message delivered")
    MESSAGE_FAILED = "message.failed", _("Message failed")
    MESSAGE_EXPIRED = "message.expired", _("Message expired (no receipt in time)")
    MESSAGE_REJECTED = "message.rejected", _("Message rejected at acceptance")
    INBOUND_RECEIVED = "inbound.received", _("Inbound reply received")
    TEST = "webhook.test", _("Test event")


# What a tenant can subscribe to; the test event is always sent when asked for.
SUBSCRIBABLE_EVENTS = [choice for choice in EventType.choices if choice[0] != EventType.TEST]


class WebhookEndpoint(TenantOwned):
    """Where a tenant wants its events. The signing secrets are stored sealed (see crypto.py)
    and never shown again after creation or rotation."""

    url = models.URLField(_("endpoint URL"), max_length=500)
    events = ArrayField(models.CharField(max_length=40, choices=SUBSCRIBABLE_EVENTS), default=list)
    is_active = models.BooleanField(_("enabled"), default=True)
    secret_sealed = models.TextField()
    secret_hint = models.CharField(max_length=16)  # last characters, to tell secrets apart
    # During a rotation the old secret signs too, until previous_secret_valid_until.
    previous_secret_sealed = models.TextField(blank=True)
    previous_secret_hint = models.CharField(max_length=16, blank=True)
    previous_secret_valid_until = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="webhook_endpoint_one_per_tenant")]

    def __str__(self) -> str:
        return self.url


class WebhookEvent(TenantOwned):
    """One row of the outbox. `event_id` is stable across retries and resends: receivers
    deduplicate on it."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (gave up)")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="+")
    event_id = models.UUIDField(default=uuid.uuid4)
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    payload = models.JSONField()  # the "data" object of the body
    message_id = models.BigIntegerField(null=True, blank=True)  # plain id: the outbox never blocks messaging
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    give_up_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    resent_at = models.DateTimeField(null=True, blank=True)
    resent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="webhook_event_unique_id")]
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="webhook_event_tenant_recent"),
            models.Index(fields=["tenant", "status", "-created_at"], name="webhook_event_tenant_status"),
            # The delivery worker's claim: due pending events only.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_event_due"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookAttempt(TenantOwned):
    """Every POST we made, with what came back."""

    class Outcome(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        HTTP_ERROR = "http_error", _("Error response")
        NETWORK_ERROR = "network_error", _("Network error or timeout")
        REFUSED = "refused", _("Address not allowed")

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    url = models.URLField(max_length=500)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "event", "number"], name="webhook_attempt_event")]
        ordering = ["event_id", "number"]


class SweepCursor(models.Model):
    """How far a sweep has read a growing table (e.g. inbound replies), by primary key."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name}@{self.position}"
