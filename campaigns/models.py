"""Contact lists, audiences and campaigns.

Contacts are normalised once, at import (E.164, carrier, province). A campaign's audience is
materialised into `CampaignRecipient` (unique per campaign and number): the snapshot the
review counts come from, the fan-out's progress ledger, and the owner of each recipient's
short link.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from smsportal.enums import Carrier, MessageClass
from tenants.models import TenantOwned


class ContactList(TenantOwned):
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    # Variable names the list's contacts carry (extra columns of the imported files).
    fields = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    contact_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="contactlist_unique_name")]

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwned):
    # Millions of rows arrive in one INSERT … SELECT: per-row foreign-key checks and the two
    # single-column indexes would cost more than the insert itself (measured: ~3x), and the
    # unique (tenant, list, number) index already serves every lookup. The importer and the
    # list's deletion keep the references right.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, related_name="contacts", db_constraint=False, db_index=False
    )
    number = models.CharField(_("number"), max_length=20)  # E.164
    carrier = models.CharField(_("carrier"), max_length=16, choices=Carrier.choices)
    province = models.CharField(_("province"), max_length=32, blank=True)
    attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "contact_list", "number"], name="contact_unique_number")
        ]

    def __str__(self) -> str:
        return self.number


class ContactImport(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="imports")
    file = models.FileField(upload_to="contact_imports/%Y/%m/")
    original_name = models.CharField(max_length=200)
    file_format = models.CharField(max_length=8)  # csv | xlsx
    encoding = models.CharField(max_length=16, blank=True)
    number_column = models.CharField(max_length=100, blank=True)
    columns = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)  # new contacts in the list
    duplicates = models.PositiveIntegerField(default=0)  # merged: repeated in the file or already listed
    invalid = models.PositiveIntegerField(default=0)
    carrier_counts = models.JSONField(default=dict, blank=True)
    province_counts = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name} → {self.contact_list_id}"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.size_bytes:
            return 0
        return min(99, int(self.bytes_read * 100 / self.size_bytes))

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)


class ImportRejection(TenantOwned):
    contact_import = models.ForeignKey(ContactImport, on_delete=models.CASCADE, related_name="rejections")
    row_number = models.PositiveIntegerField()
    raw_number = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=32)

    class Meta:
        ordering = ["row_number"]
        indexes = [models.Index(fields=["tenant", "contact_import", "row_number"])]


class CampaignSettings(TenantOwned):
    """Per-tenant campaign defaults: the quiet hours (messages of the listed classes are only
    sent inside the window, in the tenant's time zone)."""

    send_window_start = models.TimeField(_("send from"), default=dt.time(8, 0))
    send_window_end = models.TimeField(_("send until"), default=dt.time(21, 0))
    quiet_classes = ArrayField(
        models.CharField(max_length=16, choices=MessageClass.choices),
        default=list,
        blank=True,
        verbose_name=_("classes that respect quiet hours"),
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="campaignsettings_one_per_tenant")]


class Campaign(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class Fanout(models.TextChoices):
        NONE = "", _("Not started")
        RUNNING = "running", _("Queueing")
        DONE = "done", _("Queued")
        FAILED = "failed", _("Failed")

    name = models.CharField(_("name"), max_length=120)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    template = models.ForeignKey(
        "templates.MessageTemplate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("template"),
    )
    template_version_id = models.BigIntegerField(null=True, blank=True)  # the approved version the review used
    message_class = models.CharField(max_length=16, choices=MessageClass.choices, blank=True)
    contact_lists = models.ManyToManyField(ContactList, related_name="campaigns", blank=True)
    # {"carriers": [...], "provinces": [...], "conditions": [{"field", "op", "value"}], "consent": "any|granted"}
    audience_filter = models.JSONField(default=dict, blank=True)
    # Template variable → fixed value; variables not given here come from the contact's attributes.
    variables = models.JSONField(default=dict, blank=True)
    link_variable = models.CharField(_("short-link variable"), max_length=64, blank=True)
    link_url = models.URLField(_("link target"), max_length=500, blank=True)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)  # None: as soon as started
    respect_quiet_hours = models.BooleanField(_("respect quiet hours"), default=True)
    rate_per_minute = models.PositiveIntegerField(_("send rate cap (per minute)"), default=0)  # 0: no cap
    # Snapshot of the review (counts removed per rule, cost) and the fan-out's progress.
    review = models.JSONField(default=dict, blank=True)
    audience_size = models.PositiveIntegerField(default=0)
    fanout_status = models.CharField(max_length=16, choices=Fanout.choices, default=Fanout.NONE, blank=True)
    fanout_cursor = models.BigIntegerField(default=0)  # last CampaignRecipient id turned into a message
    queued_count = models.PositiveIntegerField(default=0)
    excluded_count = models.PositiveIntegerField(default=0)
    error_message = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in (self.Status.DRAFT, self.Status.SCHEDULED)


class CampaignRecipient(TenantOwned):
    """One number of a campaign's audience (deduplicated across lists), in number order.

    Written once by one INSERT … SELECT when the campaign is reviewed; the fan-out walks it by
    id with a cursor committed together with each chunk's messages. Like Contact, it carries
    no per-row foreign-key checks (a million rows arrive in one statement)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )
    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="recipients", db_constraint=False, db_index=False
    )
    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, null=True, related_name="+", db_constraint=False, db_index=False
    )
    number = models.CharField(max_length=20)
    clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "campaign", "number"], name="campaignrecipient_unique_number")
        ]
        # The fan-out's walk (id > cursor ORDER BY id LIMIT n): one index range per chunk,
        # whatever the planner's statistics say about a campaign reviewed a second ago.
        indexes = [models.Index(fields=["tenant", "campaign", "id"], name="campaignrecipient_walk")]


class LinkClick(TenantOwned):
    """Clicks of short links, one row per (campaign, hour) — click rate per campaign and hour."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="click_hours")
    hour = models.DateTimeField()
    clicks = models.PositiveIntegerField(default=0)
    unique_clicks = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "campaign", "hour"], name="linkclick_unique_hour")]
