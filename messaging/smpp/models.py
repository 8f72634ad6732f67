"""What the SMPP connector keeps: which SMSC message id is which part of which message (for
receipts and crash recovery), messages that need an operator's review after a drop, and each
channel's bind status for the channels page."""

from __future__ import annotations

from django.conf import settings
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

    class Resolution(models.TextChoices):
        SENT = "sent", _("Confirmed sent")
        RESENT = "resent", _("Sent again")
        FAILED = "failed", _("Failed")
        SETTLED = "settled", _("Settled by its receipt or expiry")

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=32, choices=Reason.choices)
    detail = models.CharField(max_length=200, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(_("resolution"), max_length=16, choices=Resolution.choices, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("note"), max_length=300, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="smpp_review_tenant"),
            models.Index(fields=["channel", "resolved_at"], name="smpp_review_open"),
        ]
        constraints = [models.UniqueConstraint(fields=["tenant", "message"], name="smpp_review_once")]

    def __str__(self) -> str:
        return f"review message {self.message_id}: {self.reason}"


class SmppReplyPart(models.Model):
    """One part of a concatenated reply (MO: UDH or SAR TLVs), kept until its set is complete.

    Parts may come on any bind of any connector process and in any order; the set is assembled
    by whichever process stores its last part (one UPDATE … RETURNING claims it, so exactly one
    does). An incomplete set older than the channel's `reply_parts_timeout_seconds` is handed
    on as it is, gaps marked. Assembled parts stay a few minutes, so a part sent again after a
    crash (before its deliver_sm_resp) is recognised as a duplicate, then they are purged."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    source_addr = models.CharField(max_length=21)
    destination_addr = models.CharField(max_length=21)
    reference = models.PositiveIntegerField()
    total = models.PositiveSmallIntegerField()
    seq = models.PositiveSmallIntegerField()
    data_coding = models.PositiveSmallIntegerField(default=0)
    payload = models.BinaryField()  # user data after the UDH, as received
    fill_bits = models.PositiveSmallIntegerField(default=0)
    received_at = models.DateTimeField(default=timezone.now)
    assembled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "source_addr", "destination_addr", "reference", "total", "seq"],
                name="smpp_reply_part_once",
            )
        ]
        indexes = [
            models.Index(
                fields=["received_at"], name="smpp_reply_part_open", condition=models.Q(assembled_at__isnull=True)
            ),
            models.Index(
                fields=["assembled_at"], name="smpp_reply_part_done", condition=models.Q(assembled_at__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"reply part {self.seq}/{self.total} ref {self.reference} from {self.source_addr}"


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
