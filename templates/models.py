"""Signatures, tenant verification, message templates (stable identity + immutable versions),
rich frames, and review cases (the staff queue).

State lives here; every transition is made by `templates.services`.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from smsportal.enums import MessageClass
from tenants.models import TenantOwned


def _upload_path(instance, filename: str) -> str:
    # Random-free but unguessable enough is not the point: files are private (MEDIA_ROOT is never
    # served); the tenant id in the path keeps them apart on disk.
    from uuid import uuid4

    suffix = filename.rsplit(".", 1)[-1].lower()[:5] if "." in filename else "bin"
    return f"templates/{instance.tenant_id}/{instance.__class__.__name__.lower()}/{uuid4().hex}.{suffix}"


class TenantVerification(TenantOwned):
    """The enterprise's real-name verification (company name, USCC, business licence)."""

    class Status(models.TextChoices):
        UNSUBMITTED = "unsubmitted", _("Not submitted")
        PENDING_REVIEW = "pending_review", _("Pending review")
        VERIFIED = "verified", _("Verified")
        REFUSED = "refused", _("Refused")

    company_name = models.CharField(_("company name"), max_length=120, blank=True)
    credit_code = models.CharField(_("unified social credit code"), max_length=18, blank=True)
    licence = models.FileField(_("business licence"), upload_to=_upload_path, blank=True, max_length=200)
    licence_name = models.CharField(max_length=200, blank=True)
    licence_content_type = models.CharField(max_length=60, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNSUBMITTED)
    marketing_allowed = models.BooleanField(_("verified for marketing"), default=False)
    registered_domains = models.TextField(
        _("registered domains"),
        blank=True,
        help_text=_("One per line, e.g. example.com. Links in templates must use them."),
    )
    extra_sensitive_words = models.TextField(
        _("additional sensitive words"), blank=True, help_text=_("One per line; added to the platform list.")
    )
    refusal_reason = models.CharField(max_length=500, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="tenant_verification_one_per_tenant")]

    def __str__(self) -> str:
        return f"{self.company_name or self.tenant_id} ({self.status})"

    @property
    def is_verified(self) -> bool:
        return self.status == self.Status.VERIFIED

    @property
    def domains(self) -> list[str]:
        return [line.strip().lower() for line in self.registered_domains.splitlines() if line.strip()]

    @property
    def sensitive_words(self) -> list[str]:
        return [line.strip() for line in self.extra_sensitive_words.splitlines() if line.strip()]


class Signature(TenantOwned):
    """The 【name】 the platform puts in front of every message."""

    class Kind(models.TextChoices):
        COMPANY = "company", _("Company name")
        APP = "app", _("App")
        WEBSITE = "website", _("Website")
        TRADEMARK = "trademark", _("Trademark")
        PUBLIC_ACCOUNT = "public_account", _("Public account")
        GOVERNMENT = "government", _("Government / institution")

    class Status(models.TextChoices):
        PENDING_REVIEW = "pending_review", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    name = models.CharField(_("signature"), max_length=12)
    kind = models.CharField(_("type"), max_length=16, choices=Kind.choices)
    third_party = models.BooleanField(
        _("belongs to a third party"), default=False, help_text=_("A letter of authorisation is then required.")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING_REVIEW)
    rejection_reason = models.CharField(max_length=500, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="signature_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"【{self.name}】"

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class SignatureDocument(TenantOwned):
    class Kind(models.TextChoices):
        PROOF = "proof", _("Proof document")
        AUTHORISATION = "authorisation", _("Letter of authorisation")

    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.PROOF)
    file = models.FileField(upload_to=_upload_path, max_length=200)
    original_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["tenant", "signature"])]
        ordering = ["created_at", "id"]


class MessageTemplate(TenantOwned):
    """The stable identity that messages reference; its text lives in versions."""

    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(_("kind"), max_length=16, choices=MessageClass.choices)
    signature = models.ForeignKey(Signature, on_delete=models.PROTECT, related_name="templates")
    is_rich = models.BooleanField(_("rich (MMS) template"), default=False)
    approved_version = models.ForeignKey(
        "TemplateVersion", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="template_unique_name")]
        indexes = [models.Index(fields=["tenant", "kind"])]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(TenantOwned):
    """One text of a template. Immutable once it leaves `draft`."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SUBMITTED = "submitted", _("Submitted (automatic checks)")
        PENDING_REVIEW = "pending_review", _("Pending review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SUPERSEDED = "superseded", _("Superseded")

    OPEN_STATUSES = (Status.DRAFT, Status.SUBMITTED, Status.PENDING_REVIEW)

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    body = models.TextField(_("body"))
    # [{"name": "code", "type": "code", "max_length": 6, "example": "385721"}, ...]
    variables = models.JSONField(default=list, blank=True)
    title = models.CharField(_("title"), max_length=40, blank=True)  # rich templates
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    findings = models.JSONField(default=list, blank=True)  # last rule-engine run
    checked_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rejection_reason = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "template", "number"], name="template_version_unique_number"),
            # At most one version being worked on at a time per template.
            models.UniqueConstraint(
                fields=["tenant", "template"],
                condition=Q(status__in=["draft", "submitted", "pending_review"]),
                name="template_version_one_open",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"])]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"{self.template_id} v{self.number} ({self.status})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT

    @property
    def block_findings(self) -> list[dict]:
        return [f for f in self.findings or [] if f.get("severity") == "block"]


class TemplateFrame(TenantOwned):
    """One frame of a rich (图文/MMS) template version: text or an image, in order."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")

    version = models.ForeignKey(TemplateVersion, on_delete=models.CASCADE, related_name="frames")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    text = models.TextField(blank=True)
    image = models.FileField(upload_to=_upload_path, blank=True, max_length=200)
    content_type = models.CharField(max_length=60, blank=True)
    size = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version", "position"], name="template_frame_unique_position")
        ]
        ordering = ["position"]


class ReviewCase(TenantOwned):
    """One item in the staff review queue: a signature, a template version or a verification."""

    class Subject(models.TextChoices):
        SIGNATURE = "signature", _("Signature")
        TEMPLATE = "template", _("Template")
        VERIFICATION = "verification", _("Enterprise verification")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    subject = models.CharField(max_length=16, choices=Subject.choices)
    signature = models.ForeignKey(Signature, on_delete=models.CASCADE, null=True, blank=True, related_name="cases")
    template_version = models.ForeignKey(
        TemplateVersion, on_delete=models.CASCADE, null=True, blank=True, related_name="cases"
    )
    verification = models.ForeignKey(
        TenantVerification, on_delete=models.CASCADE, null=True, blank=True, related_name="cases"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    queued_at = models.DateTimeField()
    due_at = models.DateTimeField()  # 2 working hours after queued_at
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason_code = models.CharField(max_length=40, blank=True)
    reason_text = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(subject="signature", signature__isnull=False)
                    | Q(subject="template", template_version__isnull=False)
                    | Q(subject="verification", verification__isnull=False)
                ),
                name="review_case_has_subject",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "status"]), models.Index(fields=["status", "queued_at"])]
        ordering = ["queued_at", "id"]

    def __str__(self) -> str:
        return f"{self.subject} case {self.pk} ({self.status})"


class PlatformSensitiveWord(models.Model):
    """Words refused for every tenant, added by platform staff on top of the built-in list."""

    word = models.CharField(_("word"), max_length=40, unique=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["word"]

    def __str__(self) -> str:
        return self.word
