"""Channels, the Message table (which is also the dispatch queue), raw receipts, inbound
replies, and the bookkeeping tables of the pipeline (idempotency keys, rate-limit windows,
per-minute channel counters, the simulated carrier's pending events)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from smsportal.enums import FINAL_STATUSES, URGENT_CLASSES, Carrier, FailureReason, MessageClass, MessageStatus
from tenants.models import Tenant, TenantOwned


class Lane(models.TextChoices):
    URGENT = "urgent", _("Urgent (codes and alerts)")
    BULK = "bulk", _("Bulk (notifications and marketing)")


def lane_for(message_class: str) -> str:
    return Lane.URGENT if message_class in URGENT_CLASSES else Lane.BULK


# When a queued message is due: its send time, else its acceptance. The queue index orders by
# it within a priority (Message.Meta, msg_queue); SQL that means to use the index says it so.
DUE = "coalesce(send_at, accepted_at)"

# Lower runs first within a lane: alerts before codes, notifications before marketing.
PRIORITY_BY_CLASS = {
    MessageClass.ALERT: 0,
    MessageClass.VERIFICATION: 1,
    MessageClass.NOTIFICATION: 5,
    MessageClass.MARKETING: 9,
}


class BreakerState(models.TextChoices):
    CLOSED = "closed", _("Closed (sending)")
    OPEN = "open", _("Open (not sending)")
    HALF_OPEN = "half_open", _("Half open (probing)")


class Channel(models.Model):
    """A route to the carriers, operated by platform staff. Not tenant-owned."""

    class Adapter(models.TextChoices):
        SIMULATED = "simulated", _("Simulated carrier")
        HTTP = "http", _("Generic HTTP provider")
        SMPP = "smpp", _("SMPP 3.4")

    name = models.CharField(_("name"), max_length=100, unique=True)
    adapter = models.CharField(_("adapter"), max_length=32, choices=Adapter.choices, default=Adapter.SIMULATED)
    carriers = ArrayField(models.CharField(max_length=16, choices=Carrier.choices), verbose_name=_("carriers served"))
    provinces = ArrayField(
        models.CharField(max_length=32),
        blank=True,
        default=list,
        verbose_name=_("provinces served"),
        help_text=_("Empty means every province."),
    )
    message_classes = ArrayField(
        models.CharField(max_length=16, choices=MessageClass.choices), verbose_name=_("message classes allowed")
    )
    rate_limit = models.PositiveIntegerField(_("rate limit (messages/second)"), default=1000)
    batch_size = models.PositiveIntegerField(_("batch size"), default=500)
    cost_per_message = models.DecimalField(_("cost per message (yuan)"), max_digits=10, decimal_places=4, default=0)
    weight = models.PositiveIntegerField(_("weight"), default=100)
    receipt_timeout_seconds = models.PositiveIntegerField(_("receipt timeout (seconds)"), default=600)
    enabled = models.BooleanField(_("enabled"), default=True)
    settings = models.JSONField(_("adapter settings"), default=dict, blank=True)
    pinned_tenants = models.ManyToManyField(
        Tenant, blank=True, related_name="pinned_channels", verbose_name=_("pinned tenants")
    )
    # Circuit breaker (messaging/breaker.py); the watch sub-app reads these.
    breaker_state = models.CharField(max_length=16, choices=BreakerState.choices, default=BreakerState.CLOSED)
    breaker_opened_at = models.DateTimeField(null=True, blank=True)
    consecutive_errors = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Message(TenantOwned):
    """One message to one number. The table is the queue: dispatchers claim `queued` rows.

    The busiest table: every message is written four times (accept, claim, submitted, final),
    and each write updates every index. So no index that another covers (the composite
    indexes below all start with tenant), and no database-level foreign-key checks (one
    query per row and reference at commit): the tenant, template, version and channel are
    set by our own code from rows it has just read, tenants and channels are suspended or
    disabled, never deleted, and Django's PROTECT still guards deletes made through the ORM.
    """

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    number = models.CharField(_("number"), max_length=20)
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    province = models.CharField(_("province"), max_length=32, blank=True)
    message_class = models.CharField(_("class"), max_length=16, choices=MessageClass.choices)
    lane = models.CharField(max_length=8, choices=Lane.choices)
    priority = models.SmallIntegerField(default=5)
    # No index and no delete-time lookup on these two: every status change rewrites each index
    # entry of the row, and nothing reads messages by template alone. Messages only refer to
    # an approved version (templates.selectors.template_for_sending), and a template that has
    # ever been approved cannot be deleted (templates.services.template_delete).
    template = models.ForeignKey(
        "templates.MessageTemplate",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("template"),
        db_constraint=False,
        db_index=False,
    )
    template_version = models.ForeignKey(
        "templates.TemplateVersion",
        on_delete=models.DO_NOTHING,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    body = models.TextField(_("text"), blank=True)
    segments = models.PositiveSmallIntegerField(_("segments"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    failure_reason = models.CharField(_("failure reason"), max_length=32, choices=FailureReason.choices, blank=True)
    failure_detail = models.CharField(max_length=300, blank=True)
    raw_status = models.CharField(_("raw status"), max_length=64, blank=True)
    # Channels are disabled, never deleted; msg_channel_ref / msg_awaiting_receipt serve lookups.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False, db_constraint=False
    )
    channel_ref = models.CharField(max_length=100, blank=True)
    route_reason = models.CharField(max_length=200, blank=True)
    # Channels already tried (a retriable submit error moves the message to another one, once).
    tried_channel_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    submit_attempts = models.PositiveSmallIntegerField(default=0)
    client_ref = models.CharField(_("client reference"), max_length=100, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), default=timezone.now)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    done_at = models.DateTimeField(_("final status at"), null=True, blank=True)
    # Multipart receipts: bit i set = part i reported delivered / failed. Settled as a whole.
    parts_delivered_mask = models.BigIntegerField(default=0)
    parts_failed_mask = models.BigIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-accepted_at"], name="msg_tenant_accepted"),
            models.Index(fields=["tenant", "status", "-accepted_at"], name="msg_tenant_status"),
            models.Index(fields=["tenant", "number"], name="msg_tenant_number"),
            models.Index(fields=["tenant", "client_ref"], name="msg_tenant_clientref"),
            models.Index(fields=["tenant", "campaign_id"], name="msg_tenant_campaign"),
            # The queue: cross-tenant by nature (a lane drains every tenant); partial so it stays
            # tiny; by due time within a priority, so a claim never reads rows not yet due
            # (messaging.dispatch.DUE).
            models.Index(
                F("lane"),
                F("priority"),
                Coalesce("send_at", "accepted_at"),
                F("id"),
                name="msg_queue",
                condition=models.Q(status="queued"),
            ),
            models.Index(
                fields=["lease_until"],
                name="msg_submitting_lease",
                condition=models.Q(status="submitting"),
            ),
            models.Index(
                fields=["channel", "channel_ref"],
                name="msg_channel_ref",
                condition=~models.Q(channel_ref=""),
            ),
            models.Index(
                fields=["channel", "submitted_at"],
                name="msg_awaiting_receipt",
                condition=models.Q(status="submitted"),
            ),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"message {self.pk} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class ReceiptRaw(models.Model):
    """A delivery receipt exactly as a channel reported it; applied to messages in batches.

    tenant_id is filled when known (it is resolved from the message at apply time otherwise),
    so the row can be distributed by tenant later.
    """

    tenant_id = models.BigIntegerField(null=True, blank=True)
    # Written in bulk by every receipt; the channel id comes from the channel that reported it.
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    message_id = models.BigIntegerField(null=True, blank=True)
    channel_ref = models.CharField(max_length=100, blank=True)
    part_index = models.PositiveSmallIntegerField(null=True, blank=True)  # null: the whole message
    delivered = models.BooleanField()
    raw_status = models.CharField(max_length=64)
    failure_reason = models.CharField(max_length=32, choices=FailureReason.choices, blank=True)
    reported_at = models.DateTimeField(default=timezone.now)
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True)  # applied / duplicate / late / orphan
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["id"], name="receipt_pending", condition=models.Q(applied_at__isnull=True)),
            models.Index(fields=["message_id"], name="receipt_message"),
        ]

    def __str__(self) -> str:
        return f"receipt {self.pk} for message {self.message_id}"


class InboundMessage(TenantOwned):
    """A reply (MO) from a phone, matched to a tenant through the channel and extension."""

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    number = models.CharField(_("number"), max_length=20)
    text = models.TextField(_("text"))
    extension = models.CharField(max_length=20, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now)
    in_reply_to = models.ForeignKey(Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    is_opt_out = models.BooleanField(_("opt-out"), default=False)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-received_at"], name="inbound_tenant_received")]
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"reply from {self.number}"


class IdempotencyKey(TenantOwned):
    """An API Idempotency-Key: same key + same body → the first answer, for 24 hours."""

    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)  # null while in flight
    response = models.JSONField(null=True, blank=True)
    expires_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return self.key


class RateWindow(models.Model):
    """Fixed-window API request counters shared by every web process (one row per window).
    An UNLOGGED table (migration 0006): a crash may reset a window, never lose anything else."""

    tenant_id = models.BigIntegerField()
    bucket = models.CharField(max_length=32)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "bucket", "window_start"], name="ratewindow_unique")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}/{self.bucket}@{self.window_start}: {self.count}"


class ChannelMinute(models.Model):
    """Per-channel, per-minute counters: the health score and the sparklines read these."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    submitted = models.PositiveIntegerField(default=0)
    submit_errors = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    latency_ms_sum = models.BigIntegerField(default=0)
    latency_count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "minute"], name="channelminute_unique")]

    def __str__(self) -> str:
        return f"{self.channel_id}@{self.minute}"


class SimulatedEvent(models.Model):
    """What the simulated carrier will report, and when: receipts (and MO replies) due later.

    The lane workers move due rows into ReceiptRaw / InboundMessage; nothing ever sleeps.
    """

    class Kind(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        REPLY = "reply", _("Reply")

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.RECEIPT)
    due_at = models.DateTimeField()
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    tenant_id = models.BigIntegerField(null=True, blank=True)
    message_id = models.BigIntegerField(null=True, blank=True)
    channel_ref = models.CharField(max_length=100, blank=True)
    part_index = models.PositiveSmallIntegerField(null=True, blank=True)  # null: the whole message
    delivered = models.BooleanField(default=True)
    raw_status = models.CharField(max_length=64, blank=True)
    failure_reason = models.CharField(max_length=32, blank=True)
    number = models.CharField(max_length=20, blank=True)
    text = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["due_at"], name="simevent_due")]

    def __str__(self) -> str:
        return f"{self.kind} due {self.due_at}"


class SimulatedSubmission(models.Model):
    """The simulated carrier's own memory of what it accepted, keyed by our message id (the
    client reference) — what crash recovery asks before re-queueing a message."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    message_id = models.BigIntegerField()
    channel_ref = models.CharField(max_length=100)
    submitted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "message_id"], name="simsubmit_message"),
            models.Index(fields=["channel", "submitted_at"], name="simsubmit_time"),
        ]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.message_id}"


class SendHold(TenantOwned):
    """A campaign whose queued messages dispatchers must not take (paused or cancelled).

    The claim checks this small table, so a pause takes effect the moment it commits,
    however many messages the campaign still has queued; moving those out of the way
    happens afterwards in the background."""

    campaign_id = models.BigIntegerField(unique=True)

    def __str__(self) -> str:
        return f"hold on campaign {self.campaign_id}"
