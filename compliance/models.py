from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tenants.models import TenantOwned


class AuditEvent(models.Model):
    """Append-only record of security and compliance events (who, what, before/after, where).

    Not TenantOwned: platform events (tenant suspension, staff sign-in rules) have no tenant.
    """

    tenant = models.ForeignKey("tenants.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)  # e.g. "api key sk_ab12cd34" or "system"
    action = models.CharField(max_length=80)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"]), models.Index(fields=["action", "-created_at"])]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"


# --- Consent, suppression, complaints, settings -----------------------------------------

RETENTION_MINIMUM_DAYS = 180  # six months: the legal minimum for keeping sending records


class Purpose(models.TextChoices):
    MARKETING = "marketing", _("Marketing")
    NOTIFICATION = "notification", _("Notification")


class ConsentSource(models.TextChoices):
    WEB_FORM = "web_form", _("Web form")
    PAPER = "paper", _("Paper form")
    APP = "app", _("Mobile app")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    REPLY = "reply", _("Unsubscribe reply")
    COMPLAINT = "complaint", _("Complaint")
    MANUAL = "manual", _("Entered by hand")


class ConsentAction(models.TextChoices):
    GRANT = "grant", _("Consent given")
    REVOKE = "revoke", _("Consent revoked")


class ConsentRecord(TenantOwned):
    """One fact about a number's consent for one purpose. Append-only: a revocation is a new
    record with action=revoke, never an edit of the grant. The latest fact wins."""

    number = models.CharField(_("number"), max_length=20)
    carrier = models.CharField(max_length=16, blank=True)
    province = models.CharField(max_length=32, blank=True)
    purpose = models.CharField(_("purpose"), max_length=16, choices=Purpose.choices)
    action = models.CharField(_("action"), max_length=8, choices=ConsentAction.choices, default=ConsentAction.GRANT)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    evidence_text = models.TextField(_("evidence"), blank=True)
    evidence_url = models.URLField(_("evidence link"), max_length=500, blank=True)
    evidence_file = models.FileField(_("evidence file"), upload_to="consent-evidence/%Y/%m/", blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_by_label = models.CharField(max_length=200, blank=True)
    import_job = models.ForeignKey("ConsentImport", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["tenant", "number", "purpose", "-occurred_at"], name="consent_latest")]
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.purpose} {self.number}"


class SuppressionReason(models.TextChoices):
    UNSUBSCRIBE = "unsubscribe", _("Unsubscribe reply")
    COMPLAINT = "complaint", _("Complaint")
    MANUAL = "manual", _("Added by hand")
    CARRIER_BLACKLIST = "carrier_blacklist", _("Carrier blacklist")
    INVALID_NUMBER = "invalid_number", _("Invalid number")


class SuppressionScope(models.TextChoices):
    MARKETING = "marketing", _("Marketing only")
    ALL = "all", _("All messages")


class SuppressionBase(models.Model):
    number = models.CharField(_("number"), max_length=20)
    reason = models.CharField(_("reason"), max_length=20, choices=SuppressionReason.choices)
    scope = models.CharField(_("scope"), max_length=12, choices=SuppressionScope.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    added_by_label = models.CharField(max_length=200, blank=True)
    # Removal is a fact kept for history; only rows with removed_at NULL are in force.
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    removed_by_label = models.CharField(max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class Suppression(SuppressionBase, TenantOwned):
    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "number"], condition=models.Q(removed_at__isnull=True), name="suppression_one_active"
            )
        ]
        indexes = [models.Index(fields=["tenant", "number"], name="suppression_number")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"suppression {self.number} ({self.scope})"


class PlatformSuppression(SuppressionBase):
    """Kept by staff for every tenant (e.g. numbers that complained to the 12321 centre)."""

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["number"], condition=models.Q(removed_at__isnull=True), name="platform_suppression_one_active"
            )
        ]
        indexes = [models.Index(fields=["number"], name="platform_suppression_number")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"platform suppression {self.number} ({self.scope})"


class ComplaintSource(models.TextChoices):
    CARRIER = "carrier", _("Carrier")
    CENTRE_12321 = "12321", _("12321 reporting centre")
    CUSTOMER = "customer", _("Tenant's own customer")


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    INVESTIGATING = "investigating", _("Investigating")
    RESOLVED = "resolved", _("Resolved")


class Complaint(TenantOwned):
    source = models.CharField(_("source"), max_length=12, choices=ComplaintSource.choices)
    number = models.CharField(_("number"), max_length=20)
    message_id = models.BigIntegerField(_("message id"), null=True, blank=True)  # messaging.Message, if known
    text = models.TextField(_("complaint text"))
    received_at = models.DateTimeField(_("received at"))
    status = models.CharField(max_length=16, choices=ComplaintStatus.choices, default=ComplaintStatus.RECEIVED)
    acknowledge_due = models.DateTimeField()
    resolve_due = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    investigating_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(_("resolution note"), blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    recorded_by_label = models.CharField(max_length=200, blank=True)
    # When the tenant's admins were told a deadline had passed (each at most once).
    acknowledge_overdue_notified_at = models.DateTimeField(null=True, blank=True)
    resolve_overdue_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-received_at"], name="complaint_recent"),
            models.Index(fields=["tenant", "number"], name="complaint_number"),
        ]
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"complaint {self.pk} ({self.source})"

    @property
    def is_open(self) -> bool:
        return self.status != ComplaintStatus.RESOLVED

    def acknowledge_overdue(self, now=None) -> bool:
        now = now or timezone.now()
        return self.acknowledged_at is None and self.is_open and now > self.acknowledge_due

    def resolve_overdue(self, now=None) -> bool:
        return self.is_open and (now or timezone.now()) > self.resolve_due


class PlatformComplianceSettings(models.Model):
    """Platform defaults (one row, pk=1), edited by staff."""

    code_per_minute = models.PositiveIntegerField(_("codes per number per minute"), default=1)
    code_per_hour = models.PositiveIntegerField(_("codes per number per hour"), default=5)
    code_per_day = models.PositiveIntegerField(_("codes per number per day"), default=10)
    marketing_per_template_day = models.PositiveIntegerField(
        _("marketing messages per number per template per day"), default=1
    )
    notification_per_template_day = models.PositiveIntegerField(
        _("notifications per number per template per day"), default=10
    )
    complaint_rate_threshold = models.DecimalField(
        _("complaint rate that pauses marketing (per 10,000 delivered)"), max_digits=8, decimal_places=2, default=5
    )
    complaint_rate_min_delivered = models.PositiveIntegerField(
        _("delivered marketing messages before the rate counts"), default=1000
    )
    complaint_rate_window_days = models.PositiveIntegerField(_("complaint rate window (days)"), default=30)
    acknowledge_hours = models.PositiveIntegerField(_("hours to acknowledge a complaint"), default=24)
    resolve_hours = models.PositiveIntegerField(_("hours to resolve a complaint"), default=72)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "platform compliance settings"

    @classmethod
    def load(cls) -> PlatformComplianceSettings:
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class TenantComplianceSettings(TenantOwned):
    """Per tenant: retention, frequency-cap overrides (NULL = platform default), marketing pause."""

    retention_days = models.PositiveIntegerField(
        _("keep message content and numbers for (days)"),
        default=RETENTION_MINIMUM_DAYS,
        validators=[MinValueValidator(RETENTION_MINIMUM_DAYS)],
    )
    code_per_minute = models.PositiveIntegerField(_("codes per number per minute"), null=True, blank=True)
    code_per_hour = models.PositiveIntegerField(_("codes per number per hour"), null=True, blank=True)
    code_per_day = models.PositiveIntegerField(_("codes per number per day"), null=True, blank=True)
    marketing_per_template_day = models.PositiveIntegerField(
        _("marketing messages per number per template per day"), null=True, blank=True
    )
    notification_per_template_day = models.PositiveIntegerField(
        _("notifications per number per template per day"), null=True, blank=True
    )
    marketing_paused = models.BooleanField(default=False)
    marketing_paused_at = models.DateTimeField(null=True, blank=True)
    marketing_paused_reason = models.CharField(max_length=300, blank=True)
    last_purged_at = models.DateTimeField(null=True, blank=True)
    # Everything accepted before this instant has been anonymised; the next run starts here.
    purged_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="tenant_compliance_settings_one"),
            models.CheckConstraint(condition=models.Q(retention_days__gte=180), name="retention_at_least_180_days"),
        ]


class ConsentImport(TenantOwned):
    class Status(models.TextChoices):
        VALIDATING = "validating", _("Checking rows")
        READY = "ready", _("Ready to apply")
        APPLYING = "applying", _("Applying")
        DONE = "done", _("Applied")
        REFUSED = "refused", _("Nothing applied")
        FAILED = "failed", _("Failed")

    class Mode(models.TextChoices):
        PARTIAL = "partial", _("Apply the valid rows and report the rest")
        ALL_OR_NOTHING = "all_or_nothing", _("All or nothing")

    filename = models.CharField(max_length=200)
    content = models.BinaryField()
    purpose = models.CharField(_("default purpose"), max_length=16, choices=Purpose.choices)
    source = models.CharField(_("default source"), max_length=16, choices=ConsentSource.choices)
    evidence_text = models.TextField(_("evidence"), blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.PARTIAL)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.VALIDATING)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    unchanged_rows = models.PositiveIntegerField(default=0)
    applied_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"row", "field", "code", "message", "value"}]
    preview = models.JSONField(default=list, blank=True)  # the first valid rows, as shown before applying
    failure = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 0 if self.status == self.Status.VALIDATING else 100
        return min(100, int(self.processed_rows * 100 / self.total_rows))
