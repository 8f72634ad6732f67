"""What the SMPP connector keeps: which SMSC message id is which part of which message (for
receipts and crash recovery), messages that need an operator's review after a drop, and each
channel's bind status for the channels page."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from messaging.models import Channel, Message
from tenants.models import TenantOwned


class SmppPart(models.Model):
    """One accepted submit_sm: the SMSC's message id → our message and part."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    smsc_message_id = models.CharField(max_length=65)
    tenant_id = models.BigIntegerField()
    message_id = models.BigIntegerField()
    part_index = models.PositiveSmallIntegerField(default=0)
    parts = models.PositiveSmallIntegerField(default=1)
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "smsc_message_id"], name="smpp_part_smsc_id"),
            models.Index(fields=["message_id"], name="smpp_part_message"),
        ]

    def __str__(self) -> str:
        return f"{self.smsc_message_id} → message {self.message_id} part {self.part_index + 1}/{self.parts}"


class SmppReview(TenantOwned):
    """A message that was in flight when its connection dropped, on a channel that cannot
    recognise a resubmission: it is not resent (that could deliver it twice); its receipt or
    its expiry settles it, and an operator can see why it is uncertain."""

    class Reason(models.TextChoices):
        DROPPED_IN_FLIGHT = "dropped_in_flight", _("In flight when the connection dropped")
        PARTLY_SENT = "partly_sent", _("Only some parts were accepted")
        CONNECTOR_CRASHED = "connector_crashed", _("The connector stopped while sending")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    detail = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="smpp_review_tenant"),
            models.Index(fields=["channel", "resolved_at"], name="smpp_review_open"),
        ]
        constraints = [models.UniqueConstraint(fields=["tenant", "message"], name="smpp_review_once")]

    def __str__(self) -> str:
        return f"review message {self.message_id}: {self.reason}"


class SmppBindStatus(models.Model):
    """Each SMPP channel's binds as the connector last saw them (refreshed every few seconds)."""

    class State(models.TextChoices):
        BOUND = "bound", _("Bound")
        PARTIAL = "partial", _("Partly bound")
        DOWN = "down", _("Down")
        REFUSED = "refused", _("Bind refused")
        STOPPED = "stopped", _("Connector stopped")

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="+", primary_key=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.DOWN)
    binds_bound = models.PositiveSmallIntegerField(default=0)
    binds_total = models.PositiveSmallIntegerField(default=0)
    window_in_use = models.PositiveIntegerField(default=0)
    window_size = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    submitted_per_second = models.FloatField(default=0)
    receipts_per_second = models.FloatField(default=0)
    submitted_total = models.BigIntegerField(default=0)
    last_error = models.CharField(max_length=300, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    connections = models.JSONField(default=list, blank=True)
    connector = models.CharField(max_length=100, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.state}"
