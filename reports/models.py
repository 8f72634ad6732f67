from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from smsportal.enums import Carrier, MessageClass
from tenants.models import TenantOwned

MONEY = {"max_digits": 16, "decimal_places": 4}


class MessageRollup(TenantOwned):
    """Counts per hour (of acceptance) × tenant, at one *grain*: the hour's total (`all`), or
    broken down by exactly one of carrier, province, channel, template, class or campaign. A
    row of grain `carrier` sets only `carrier`; the other dimension columns stay empty.

    One row per single dimension, not per combination of them: a busy tenant's combinations
    (4 carriers × 31 provinces × channels × 30 templates × classes × campaigns) approach one
    row per message, so every panel summed millions of rows. Every read is a total, a
    breakdown by one dimension, or a total filtered on one dimension — all answered by a grain.

    Failures by reason live in `failures` ({reason: count}); arrival time (accepted →
    delivered receipt) in the lat_* histogram buckets (≤1 s, ≤2 s, ≤3 s, ≤5 s, ≤10 s, ≤30 s,
    ≤60 s, more).
    """

    class Grain(models.TextChoices):
        ALL = "all", _("All messages")
        CARRIER = "carrier", _("Carrier")
        PROVINCE = "province", _("Province")
        CHANNEL = "channel", _("Channel")
        TEMPLATE = "template", _("Template")
        CLASS = "class", _("Message class")
        CAMPAIGN = "campaign", _("Campaign")

    hour = models.DateTimeField()
    grain = models.CharField(max_length=8, choices=Grain.choices, default=Grain.ALL)
    carrier = models.CharField(max_length=16, choices=Carrier.choices, blank=True)
    province = models.CharField(max_length=32, blank=True)
    channel_id = models.BigIntegerField(null=True)
    template_id = models.BigIntegerField(null=True)
    message_class = models.CharField(max_length=16, choices=MessageClass.choices, blank=True)
    campaign_id = models.BigIntegerField(null=True)
    accepted = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    submitted = models.PositiveIntegerField(default=0)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    expired = models.PositiveIntegerField(default=0)
    failures = models.JSONField(default=dict)
    segments = models.PositiveIntegerField(default=0)  # billable segments delivered
    cost = models.DecimalField(default=0, **MONEY)
    lat_1 = models.PositiveIntegerField(default=0)
    lat_2 = models.PositiveIntegerField(default=0)
    lat_3 = models.PositiveIntegerField(default=0)
    lat_5 = models.PositiveIntegerField(default=0)
    lat_10 = models.PositiveIntegerField(default=0)
    lat_30 = models.PositiveIntegerField(default=0)
    lat_60 = models.PositiveIntegerField(default=0)
    lat_more = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "grain", "hour"], name="rollup_tenant_grain_hour"),
            models.Index(fields=["grain", "hour"], name="rollup_grain_hour"),  # staff: every tenant
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id}@{self.hour:%Y-%m-%d %H}h {self.grain}"


class RollupDirtyHour(models.Model):
    """(tenant, hour) pairs whose rollups must be recomputed; filled by status listeners and
    the accept sweep, drained by `rollup_refresh`."""

    tenant_id = models.BigIntegerField()
    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant_id", "hour"], name="dirtyhour_unique")]

    def __str__(self) -> str:
        return f"{self.tenant_id}@{self.hour}"


class QualityReport(TenantOwned):
    class Kind(models.TextChoices):
        MONTHLY = "monthly", _("Monthly quality report")

    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.MONTHLY)
    period_start = models.DateField(_("month"))
    pdf = models.FileField(upload_to="reports/%Y/%m/", blank=True)
    pages = models.PositiveSmallIntegerField(default=0)
    summary = models.JSONField(default=dict)
    generated_at = models.DateTimeField(_("generated"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("emailed"), null=True, blank=True)
    emailed_to = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kind", "period_start"], name="qualityreport_unique_month")
        ]
        ordering = ["-period_start"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.period_start:%Y-%m}"


class ReportSettings(TenantOwned):
    """Extra report recipients besides the tenant's owners and admins."""

    extra_recipients = models.JSONField(_("extra recipients"), default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="reportsettings_one_per_tenant")]

    def __str__(self) -> str:
        return f"report settings of {self.tenant_id}"
