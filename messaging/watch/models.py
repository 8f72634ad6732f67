"""Round-the-clock watch: channel health snapshots, incidents, and the table that maps a
generic HTTP provider's raw codes onto our failure taxonomy. Platform-level (not tenant-owned)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from messaging.models import BreakerState, Channel
from smsportal.enums import FailureReason, MessageClass


class WatchRun(models.Model):
    """One pass of the checks. `receipt_watermark` is the highest receipt id seen, so the
    next passes read only newer receipts (by primary key) for latency percentiles."""

    taken_at = models.DateTimeField(db_index=True)
    receipt_watermark = models.BigIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"watch run {self.taken_at:%Y-%m-%d %H:%M}"


class ChannelHealthSnapshot(models.Model):
    """A channel's health over the last few minutes, as seen by one watch run (sparklines)."""

    run = models.ForeignKey(WatchRun, on_delete=models.CASCADE, related_name="snapshots")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    taken_at = models.DateTimeField()
    window_minutes = models.PositiveSmallIntegerField()
    submitted = models.PositiveIntegerField(default=0)
    submit_errors = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    delivery_rate = models.FloatField(null=True, blank=True)  # None: too few final messages to say
    error_rate = models.FloatField(null=True, blank=True)
    receipt_p50_ms = models.PositiveIntegerField(null=True, blank=True)
    receipt_p95_ms = models.PositiveIntegerField(null=True, blank=True)
    arrival_p95_ms = models.PositiveIntegerField(null=True, blank=True)
    breaker_state = models.CharField(max_length=16, choices=BreakerState.choices)

    class Meta:
        indexes = [models.Index(fields=["channel", "-taken_at"], name="watch_snapshot_channel")]
        ordering = ["-taken_at"]

    def __str__(self) -> str:
        return f"{self.channel_id}@{self.taken_at:%H:%M}"


class Incident(models.Model):
    class Kind(models.TextChoices):
        BREAKER_OPEN = "breaker_open", _("Circuit breaker open")
        LOW_DELIVERY_RATE = "low_delivery_rate", _("Delivery rate below threshold")
        SLOW_ARRIVAL = "slow_arrival", _("Arrival time above target")
        LANE_BACKLOG = "lane_backlog", _("Queue backlog older than target")

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    subject = models.CharField(max_length=100)  # e.g. "channel:3", "channel:3:verification", "class:alert"
    channel = models.ForeignKey(Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    lane = models.CharField(_("lane"), max_length=8, blank=True)
    message_class = models.CharField(max_length=16, choices=MessageClass.choices, blank=True)
    summary = models.CharField(_("summary"), max_length=300)
    details = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(_("started"))
    last_seen_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recovered_at = models.DateTimeField(_("condition cleared"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    notifications = models.JSONField(default=list, blank=True)  # what was sent where, and how it went

    class Meta:
        constraints = [
            # One open incident per (kind, subject): a check that keeps failing does not pile up.
            models.UniqueConstraint(
                fields=["kind", "subject"], condition=Q(resolved_at__isnull=True), name="incident_one_open"
            )
        ]
        indexes = [models.Index(fields=["-started_at"], name="incident_recent")]
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def time_to_acknowledge(self):
        return (self.acknowledged_at - self.started_at) if self.acknowledged_at else None


class ProviderCodeMapping(models.Model):
    """How a generic HTTP provider's raw code reads in our taxonomy. Operators edit it per
    channel; codes without a row fall back to the adapter's built-in defaults."""

    class Scope(models.TextChoices):
        SUBMIT = "submit", _("Submit response")
        RECEIPT = "receipt", _("Delivery receipt")

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted / delivered")
        PENDING = "pending", _("Not final yet (ignore)")
        RETRY = "retry", _("Retriable error (try another channel)")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField(_("applies to"), max_length=8, choices=Scope.choices)
    code = models.CharField(_("raw code"), max_length=64)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices)
    failure_reason = models.CharField(_("failure reason"), max_length=32, choices=FailureReason.choices, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "scope", "code"], name="provider_code_unique"),
        ]
        ordering = ["channel_id", "scope", "code"]

    def __str__(self) -> str:
        return f"{self.channel_id}/{self.scope}/{self.code} → {self.outcome}"
