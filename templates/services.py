"""Writes: tenant verification, signatures, templates and versions, and the review workflow.

Template version states:
    draft → submitted (automatic checks) → pending_review → approved | rejected
                     ↘ draft (any block finding: returned with the findings)
    pending_review → draft (withdrawn by the tenant)
    approved → superseded (a newer version was approved)
Approved, rejected and superseded versions are never edited: editing creates a new draft.
Only platform staff decide; every transition is audit-logged in the same transaction.
"""

from __future__ import annotations

import re
import unicodedata

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.utils.translation import override as language_override

from compliance.audit import audit_record
from compliance.rules import CheckInput, check
from compliance.rules.variables import VARIABLE_TYPES
from smsportal.enums import MessageClass
from smsportal.errors import Conflict, Forbidden, NotFound, ServiceError
from templates.models import (
    MessageTemplate,
    PlatformSensitiveWord,
    ReviewCase,
    Signature,
    SignatureDocument,
    TemplateFrame,
    TemplateVersion,
    TenantVerification,
)
from templates.uploads import (
    DOCUMENT_MAX_BYTES,
    DOCUMENT_TYPES,
    FRAME_IMAGE_MAX_BYTES,
    FRAME_TYPES,
    RICH_TOTAL_MAX_BYTES,
    check_upload,
)
from templates.worktime import review_due
from tenants.models import Membership, Role

# Common reasons a reviewer picks from (plus free text).
REJECTION_REASONS: dict[str, str] = {
    "signature_mismatch": gettext_lazy("The signature does not match the enterprise or its documents"),
    "documents_missing": gettext_lazy("Proof documents are missing, unreadable or expired"),
    "marketing_as_notification": gettext_lazy("Marketing content submitted as a notification or code"),
    "missing_unsubscribe": gettext_lazy("Missing or unclear unsubscribe instruction"),
    "sensitive_content": gettext_lazy("Sensitive or prohibited content"),
    "unregistered_link": gettext_lazy("Link to an unregistered or unverifiable domain"),
    "variable_misuse": gettext_lazy("Variables are too open (could carry arbitrary content)"),
    "restricted_industry": gettext_lazy("Restricted industry"),
    "vague_content": gettext_lazy("Content is vague; the purpose is not clear"),
    "other": gettext_lazy("Other (see the note)"),
}

# Names too generic to identify a sender.
VAGUE_SIGNATURES = frozenset(
    {"客服通知", "温馨提示", "系统通知", "系统消息", "通知", "提醒", "客服", "验证码", "短信通知", "官方通知",
     "重要通知", "服务通知", "会员服务", "消息提醒", "安全中心", "平台通知", "温馨提醒", "友情提示"}
)  # fmt: skip
SIGNATURE_PATTERN = re.compile(r"^[\u4e00-\u9fffA-Za-z0-9]{2,12}$")
BRACKETS = re.compile(r"[【】\[\]〖〗()（）<>《》]")


# --- helpers ---------------------------------------------------------------------------------


def _require_staff(actor) -> None:
    if not (getattr(actor, "is_authenticated", False) and getattr(actor, "is_staff", False)):
        raise Forbidden("not_reviewer", _("Only platform reviewers can decide on reviews."))


def _open_case(*, tenant, subject: str, **target) -> ReviewCase:
    now = timezone.now()
    ReviewCase.objects.for_tenant(tenant).filter(status=ReviewCase.Status.PENDING, **target).update(
        status=ReviewCase.Status.WITHDRAWN, decided_at=now
    )
    return ReviewCase.objects.create(tenant=tenant, subject=subject, queued_at=now, due_at=review_due(now), **target)


def _version_snapshot(version: TemplateVersion) -> dict:
    return {"status": version.status, "number": version.number, "body": version.body, "variables": version.variables}


def verification_of(tenant) -> TenantVerification | None:
    return TenantVerification.objects.for_tenant(tenant).first()


def check_input(*, tenant, kind: str, body: str, variables: list, signature_name: str = "") -> CheckInput:
    """The rule engine's input for this tenant (verification flags, domains, extra words)."""
    verification = verification_of(tenant)
    return CheckInput(
        kind=kind,
        body=body,
        signature=signature_name,
        variables=list(variables or []),
        registered_domains=tuple(verification.domains) if verification else (),
        tenant_verified=bool(verification and verification.is_verified),
        marketing_allowed=bool(verification and verification.is_verified and verification.marketing_allowed),
        tenant_sensitive_words=tuple(verification.sensitive_words) if verification else (),
        platform_sensitive_words=platform_sensitive_words(),
    )


def platform_sensitive_words() -> tuple[str, ...]:
    """The built-in list plus the words staff added."""
    from compliance.rules.wordlists import PLATFORM_SENSITIVE_WORDS

    added = PlatformSensitiveWord.objects.values_list("word", flat=True)
    return (*PLATFORM_SENSITIVE_WORDS, *added)


def run_checks(*, tenant, kind: str, body: str, variables: list, signature_name: str = "") -> list[dict]:
    data = check_input(tenant=tenant, kind=kind, body=body, variables=variables, signature_name=signature_name)
    return [finding.as_dict() for finding in check(data)]


def _notify_decision(*, tenant, subject_label: str, approved: bool, reason: str, link_path: str, extra_to=()):
    recipients = set(
        Membership.objects.for_tenant(tenant)
        .filter(role__in=[Role.OWNER, Role.ADMIN])
        .values_list("user__email", flat=True)
    )
    recipients.update(e for e in extra_to if e)
    if tenant.contact_email:
        recipients.add(tenant.contact_email)
    if not recipients:
        return
    with language_override(settings.LANGUAGE_CODE):
        context = {
            "tenant": tenant,
            "subject_label": subject_label,
            "approved": approved,
            "reason": reason,
            "link": settings.SITE_URL.rstrip("/") + link_path,
        }
        body = render_to_string("templates/email/decision.txt", context)
        title = (_("Approved: %(what)s") if approved else _("Not approved: %(what)s")) % {"what": subject_label}
    transaction.on_commit(lambda: send_mail(title, body, None, sorted(recipients)))


def _reason_text(reason_code: str, reason_text: str) -> str:
    label = str(REJECTION_REASONS.get(reason_code, ""))
    return f"{label}：{reason_text}" if reason_text and label else (label or reason_text)


# --- tenant verification -----------------------------------------------------------------------


def _clean_credit_code(raw: str) -> str:
    from stdnum.cn import uscc
    from stdnum.exceptions import ValidationError

    code = unicodedata.normalize("NFKC", raw or "").strip().upper().replace(" ", "")
    if len(code) != 18:
        raise ServiceError(
            "invalid_credit_code", _("A unified social credit code has 18 characters."), field="credit_code"
        )
    try:
        return uscc.validate(code)
    except ValidationError:
        raise ServiceError(
            "invalid_credit_code",
            _("This unified social credit code is not valid (check the characters and the check digit)."),
            field="credit_code",
        )


def _clean_domains(raw: str) -> str:
    domains = []
    for line in (raw or "").replace(",", "\n").splitlines():
        domain = line.strip().lower().removeprefix("https://").removeprefix("http://").split("/")[0]
        if not domain:
            continue
        if not re.match(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}$", domain):
            raise ServiceError(
                "invalid_domain",
                _("“%(domain)s” is not a domain name.") % {"domain": domain},
                field="registered_domains",
            )
        domains.append(domain)
    return "\n".join(dict.fromkeys(domains))


@transaction.atomic
def verification_submit(
    *, tenant, actor, company_name: str, credit_code: str, licence=None, registered_domains: str = ""
) -> TenantVerification:
    company_name = (company_name or "").strip()
    if not 2 <= len(company_name) <= 120:
        raise ServiceError("invalid_company_name", _("Enter the company's registered name."), field="company_name")
    code = _clean_credit_code(credit_code)
    domains = _clean_domains(registered_domains)
    verification = TenantVerification.objects.for_tenant(tenant).select_for_update().first()
    if verification is None:
        verification = TenantVerification(tenant=tenant)
    if verification.status == TenantVerification.Status.PENDING_REVIEW:
        raise Conflict("verification_pending", _("Your verification is already waiting for review."))
    before = {"status": verification.status, "company_name": verification.company_name} if verification.pk else None
    if licence is not None:
        checked = check_upload(licence, allowed=DOCUMENT_TYPES, max_bytes=DOCUMENT_MAX_BYTES, field="licence")
        verification.licence.save(licence.name, licence, save=False)
        verification.licence_name = licence.name[:200]
        verification.licence_content_type = checked.content_type
    elif not verification.licence:
        raise ServiceError("file_required", _("Upload the business licence."), field="licence")
    verification.company_name = company_name
    verification.credit_code = code
    verification.registered_domains = domains
    verification.status = TenantVerification.Status.PENDING_REVIEW
    verification.submitted_at = timezone.now()
    verification.refusal_reason = ""
    verification.save()
    case = _open_case(tenant=tenant, subject=ReviewCase.Subject.VERIFICATION, verification=verification)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="verification.submitted",
        obj=verification,
        before=before,
        after={"status": verification.status, "company_name": company_name, "credit_code": code, "case": case.pk},
    )
    return verification


@transaction.atomic
def verification_update_domains(*, tenant, actor, registered_domains: str) -> TenantVerification:
    """Domains can change without a new review: links are still checked against them per template."""
    verification, _created = TenantVerification.objects.for_tenant(tenant).get_or_create(tenant=tenant)
    before = {"registered_domains": verification.registered_domains}
    verification.registered_domains = _clean_domains(registered_domains)
    verification.save(update_fields=["registered_domains", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="verification.domains_changed",
        obj=verification,
        before=before,
        after={"registered_domains": verification.registered_domains},
    )
    return verification


# --- signatures ------------------------------------------------------------------------------


def clean_signature_name(raw: str) -> str:
    name = unicodedata.normalize("NFKC", raw or "").strip()
    if BRACKETS.search(name):
        raise ServiceError(
            "signature_brackets",
            _("Type the signature without brackets: the platform adds 【】 when sending (e.g. 华美零售)."),
            field="name",
        )
    if not SIGNATURE_PATTERN.match(name):
        raise ServiceError(
            "invalid_signature",
            _("A signature has 2–12 Chinese characters, letters or digits, without spaces or symbols."),
            field="name",
        )
    if name in VAGUE_SIGNATURES:
        raise ServiceError(
            "vague_signature",
            _("“%(name)s” does not identify your enterprise; use your company, brand, app or site name.")
            % {"name": name},
            field="name",
        )
    return name


def _attach_documents(*, tenant, signature, proofs, authorisation) -> None:
    for upload in proofs or []:
        checked = check_upload(upload, allowed=DOCUMENT_TYPES, max_bytes=DOCUMENT_MAX_BYTES, field="proofs")
        document = SignatureDocument(
            tenant=tenant,
            signature=signature,
            kind=SignatureDocument.Kind.PROOF,
            original_name=upload.name[:200],
            content_type=checked.content_type,
            size=checked.size,
        )
        document.file.save(upload.name, upload, save=False)
        document.save()
    if authorisation is not None:
        checked = check_upload(
            authorisation, allowed=DOCUMENT_TYPES, max_bytes=DOCUMENT_MAX_BYTES, field="authorisation"
        )
        document = SignatureDocument(
            tenant=tenant,
            signature=signature,
            kind=SignatureDocument.Kind.AUTHORISATION,
            original_name=authorisation.name[:200],
            content_type=checked.content_type,
            size=checked.size,
        )
        document.file.save(authorisation.name, authorisation, save=False)
        document.save()


def _signature_prerequisites(*, tenant, signature: Signature) -> None:
    if signature.kind == Signature.Kind.COMPANY:
        verification = verification_of(tenant)
        if not (verification and verification.is_verified):
            raise ServiceError(
                "tenant_not_verified",
                _("A company-name signature needs a verified enterprise: complete the enterprise verification first."),
                field="kind",
            )
    documents = SignatureDocument.objects.for_tenant(tenant).filter(signature=signature)
    if not documents.filter(kind=SignatureDocument.Kind.PROOF).exists():
        raise ServiceError("proof_required", _("Upload at least one proof document."), field="proofs")
    if signature.third_party and not documents.filter(kind=SignatureDocument.Kind.AUTHORISATION).exists():
        raise ServiceError(
            "authorisation_required",
            _("A third party's signature needs a letter of authorisation."),
            field="authorisation",
        )


@transaction.atomic
def signature_apply(
    *, tenant, actor, name: str, kind: str, third_party: bool = False, proofs=(), authorisation=None
) -> Signature:
    name = clean_signature_name(name)
    if kind not in Signature.Kind.values:
        raise ServiceError("invalid_kind", _("Choose the signature's type."), field="kind")
    if Signature.objects.for_tenant(tenant).filter(name=name).exists():
        raise Conflict("signature_exists", _("You already have this signature."), field="name")
    signature = Signature.objects.create(
        tenant=tenant,
        name=name,
        kind=kind,
        third_party=bool(third_party),
        status=Signature.Status.PENDING_REVIEW,
        submitted_at=timezone.now(),
        created_by=actor if getattr(actor, "pk", None) and not getattr(actor, "is_api_client", False) else None,
    )
    _attach_documents(tenant=tenant, signature=signature, proofs=proofs, authorisation=authorisation)
    _signature_prerequisites(tenant=tenant, signature=signature)
    case = _open_case(tenant=tenant, subject=ReviewCase.Subject.SIGNATURE, signature=signature)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="signature.submitted",
        obj=signature,
        after={"name": name, "kind": kind, "third_party": signature.third_party, "case": case.pk},
    )
    return signature


@transaction.atomic
def signature_resubmit(*, tenant, actor, signature: Signature, proofs=(), authorisation=None) -> Signature:
    """A rejected signature goes back to review, usually with new documents."""
    signature = Signature.objects.for_tenant(tenant).select_for_update().get(pk=signature.pk)
    if signature.status != Signature.Status.REJECTED:
        raise Conflict("signature_not_rejected", _("Only a rejected signature can be resubmitted."))
    _attach_documents(tenant=tenant, signature=signature, proofs=proofs, authorisation=authorisation)
    _signature_prerequisites(tenant=tenant, signature=signature)
    signature.status = Signature.Status.PENDING_REVIEW
    signature.submitted_at = timezone.now()
    signature.save(update_fields=["status", "submitted_at", "updated_at"])
    case = _open_case(tenant=tenant, subject=ReviewCase.Subject.SIGNATURE, signature=signature)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="signature.resubmitted",
        obj=signature,
        before={"status": Signature.Status.REJECTED},
        after={"status": signature.status, "case": case.pk},
    )
    return signature


@transaction.atomic
def signature_delete(*, tenant, actor, signature: Signature) -> None:
    signature = Signature.objects.for_tenant(tenant).select_for_update().get(pk=signature.pk)
    if MessageTemplate.objects.for_tenant(tenant).filter(signature=signature).exists():
        raise Conflict("signature_in_use", _("Templates use this signature; delete or move them first."))
    audit_record(tenant=tenant, actor=actor, action="signature.deleted", obj=signature, before={"name": signature.name})
    signature.delete()


# --- templates and versions ----------------------------------------------------------------


def _clean_variables(variables) -> list[dict]:
    """Shape only (name/type/max_length/example as plain values); the rule engine judges content."""
    if variables in (None, ""):
        return []
    if not isinstance(variables, list) or not all(isinstance(v, dict) for v in variables):
        raise ServiceError("invalid_variables", _("Variables must be a list of declarations."), field="variables")
    cleaned = []
    for spec in variables:
        vtype = str(spec.get("type") or "text")
        max_length = spec.get("max_length")
        if max_length in (None, ""):
            max_length = VARIABLE_TYPES[vtype].default_max_length if vtype in VARIABLE_TYPES else 20
        try:
            max_length = int(max_length)
        except (TypeError, ValueError):
            raise ServiceError(
                "invalid_variables", _("A variable's maximum length must be a number."), field="variables"
            )
        cleaned.append(
            {
                "name": str(spec.get("name") or "").strip(),
                "type": vtype,
                "max_length": max_length,
                "example": str(spec.get("example") or "").strip(),
            }
        )
    return cleaned


def _signature_for(*, tenant, signature_id) -> Signature:
    try:
        return Signature.objects.for_tenant(tenant).get(pk=int(signature_id))
    except (Signature.DoesNotExist, TypeError, ValueError):
        raise ServiceError("signature_not_found", _("Choose one of your signatures."), field="signature")


def _rich_body(frames: list[TemplateFrame]) -> str:
    return "\n".join(frame.text for frame in frames if frame.kind == TemplateFrame.Kind.TEXT and frame.text)


@transaction.atomic
def template_create(
    *,
    tenant,
    actor,
    name: str,
    kind: str,
    signature_id,
    body: str = "",
    variables=None,
    is_rich: bool = False,
    title: str = "",
) -> MessageTemplate:
    name = (name or "").strip()
    if not 1 <= len(name) <= 80:
        raise ServiceError("invalid_name", _("Give the template a name (at most 80 characters)."), field="name")
    if kind not in MessageClass.values:
        raise ServiceError("invalid_kind", _("Choose the template's kind."), field="kind")
    signature = _signature_for(tenant=tenant, signature_id=signature_id)
    if signature.status == Signature.Status.REJECTED:
        raise ServiceError("signature_rejected", _("This signature was rejected."), field="signature")
    if MessageTemplate.objects.for_tenant(tenant).filter(name=name).exists():
        raise Conflict("template_exists", _("A template with this name exists."), field="name")
    if not is_rich and not (body or "").strip():
        raise ServiceError("body_required", _("Write the message text."), field="body")
    user = actor if getattr(actor, "pk", None) and not getattr(actor, "is_api_client", False) else None
    template = MessageTemplate.objects.create(
        tenant=tenant, name=name, kind=kind, signature=signature, is_rich=bool(is_rich), created_by=user
    )
    version = TemplateVersion.objects.create(
        tenant=tenant,
        template=template,
        number=1,
        body=(body or "").strip(),
        variables=_clean_variables(variables),
        title=(title or "").strip()[:40],
        created_by=user,
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="template.created",
        obj=template,
        after={"name": name, "kind": kind, "signature": signature.name, "version": _version_snapshot(version)},
    )
    return template


@transaction.atomic
def template_edit(
    *, tenant, actor, template: MessageTemplate, body=None, variables=None, title=None, signature_id=None
) -> TemplateVersion:
    """Change the template's text. Edits the open draft, or starts a new draft from the latest
    version; an approved version is never touched (it stays in force until a newer one is approved)."""
    template = MessageTemplate.objects.for_tenant(tenant).select_for_update().get(pk=template.pk)
    versions = TemplateVersion.objects.for_tenant(tenant).filter(template=template)
    open_version = versions.filter(status__in=TemplateVersion.OPEN_STATUSES).first()
    if open_version is not None and open_version.status != TemplateVersion.Status.DRAFT:
        raise Conflict(
            "version_under_review",
            _("Version %(n)s is under review; withdraw it before editing.") % {"n": open_version.number},
        )
    latest = versions.order_by("-number").first()
    user = actor if getattr(actor, "pk", None) and not getattr(actor, "is_api_client", False) else None
    if open_version is None:
        draft = TemplateVersion.objects.create(
            tenant=tenant,
            template=template,
            number=latest.number + 1,
            body=latest.body,
            variables=latest.variables,
            title=latest.title,
            created_by=user,
        )
        for frame in TemplateFrame.objects.for_tenant(tenant).filter(version=latest):
            TemplateFrame.objects.create(
                tenant=tenant,
                version=draft,
                position=frame.position,
                kind=frame.kind,
                text=frame.text,
                image=frame.image.name,  # same stored file: frames are immutable once approved
                content_type=frame.content_type,
                size=frame.size,
            )
        action, before = "template.version_created", {"from_version": latest.number}
    else:
        draft, action, before = open_version, "template.draft_edited", _version_snapshot(open_version)
    if body is not None and not template.is_rich:
        if not body.strip():
            raise ServiceError("body_required", _("Write the message text."), field="body")
        draft.body = body.strip()
    if variables is not None:
        draft.variables = _clean_variables(variables)
    if title is not None:
        draft.title = title.strip()[:40]
    if signature_id is not None and str(signature_id) != str(template.signature_id):
        signature = _signature_for(tenant=tenant, signature_id=signature_id)
        if signature.status == Signature.Status.REJECTED:
            raise ServiceError("signature_rejected", _("This signature was rejected."), field="signature")
        template.signature = signature
        template.save(update_fields=["signature", "updated_at"])
    draft.findings = []
    draft.checked_at = None
    draft.save()
    audit_record(tenant=tenant, actor=actor, action=action, obj=draft, before=before, after=_version_snapshot(draft))
    return draft


def _draft_for_frames(*, tenant, actor, template: MessageTemplate) -> TemplateVersion:
    if not template.is_rich:
        raise ServiceError("not_rich", _("Only rich templates have frames."))
    return template_edit(tenant=tenant, actor=actor, template=template)


def _refresh_rich_body(version: TemplateVersion) -> None:
    frames = list(TemplateFrame.objects.for_tenant(version.tenant).filter(version=version).order_by("position"))
    version.body = _rich_body(frames)
    version.save(update_fields=["body", "updated_at"])


@transaction.atomic
def frame_add(*, tenant, actor, template: MessageTemplate, kind: str, text: str = "", image=None) -> TemplateFrame:
    draft = _draft_for_frames(tenant=tenant, actor=actor, template=template)
    frames = TemplateFrame.objects.for_tenant(tenant).filter(version=draft)
    if frames.count() >= 10:
        raise ServiceError("too_many_frames", _("A rich template has at most 10 frames."))
    position = (frames.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    frame = TemplateFrame(tenant=tenant, version=draft, position=position, kind=kind)
    if kind == TemplateFrame.Kind.TEXT:
        text = (text or "").strip()
        if not text:
            raise ServiceError("text_required", _("Write the frame's text."), field="text")
        frame.text = text
    elif kind == TemplateFrame.Kind.IMAGE:
        checked = check_upload(image, allowed=FRAME_TYPES, max_bytes=FRAME_IMAGE_MAX_BYTES, field="image")
        total = sum(frames.values_list("size", flat=True)) + len((draft.title or "").encode())
        if total + checked.size > RICH_TOTAL_MAX_BYTES:
            raise ServiceError("rich_too_large", _("The frames together may not exceed 1.9 MB."), field="image")
        frame.content_type, frame.size = checked.content_type, checked.size
        frame.image.save(image.name, image, save=False)
    else:
        raise ServiceError("invalid_kind", _("A frame is text or an image."), field="kind")
    frame.save()
    _refresh_rich_body(draft)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="template.frame_added",
        obj=draft,
        after={"position": position, "kind": kind, "size": frame.size},
    )
    return frame


@transaction.atomic
def frame_remove(*, tenant, actor, template: MessageTemplate, position: int) -> None:
    draft = _draft_for_frames(tenant=tenant, actor=actor, template=template)
    frames = TemplateFrame.objects.for_tenant(tenant).filter(version=draft)
    deleted, _rows = frames.filter(position=position).delete()
    if not deleted:
        raise ServiceError("frame_not_found", _("No such frame."))
    for index, frame in enumerate(frames.order_by("position"), start=1):
        if frame.position != index:
            frame.position = index
            frame.save(update_fields=["position", "updated_at"])
    _refresh_rich_body(draft)
    audit_record(tenant=tenant, actor=actor, action="template.frame_removed", obj=draft, before={"position": position})


@transaction.atomic
def frame_move(*, tenant, actor, template: MessageTemplate, position: int, up: bool) -> None:
    draft = _draft_for_frames(tenant=tenant, actor=actor, template=template)
    frames = {f.position: f for f in TemplateFrame.objects.for_tenant(tenant).filter(version=draft)}
    other = position - 1 if up else position + 1
    if position not in frames or other not in frames:
        return
    first, second = frames[position], frames[other]
    first.position = 0  # park it: (version, position) is unique
    first.save(update_fields=["position"])
    second.position = position
    second.save(update_fields=["position"])
    first.position = other
    first.save(update_fields=["position"])
    _refresh_rich_body(draft)
    audit_record(
        tenant=tenant, actor=actor, action="template.frame_moved", obj=draft, after={"from": position, "to": other}
    )


def _rich_problems(version: TemplateVersion) -> list[dict]:
    frames = list(TemplateFrame.objects.for_tenant(version.tenant).filter(version=version))
    problems = []
    if not version.title:
        problems.append(("rich.title", "图文模板须有标题。", "A rich template needs a title."))
    if not frames:
        problems.append(("rich.frames", "图文模板至少需要一帧。", "A rich template needs at least one frame."))
    if sum(f.size for f in frames) > RICH_TOTAL_MAX_BYTES:
        problems.append(("rich.size", "图文总大小超过 1.9 MB。", "The frames exceed 1.9 MB in total."))
    return [
        {
            "rule": rule,
            "severity": "block",
            "message": {"zh": zh, "en": en},
            "detail": {"zh": "", "en": ""},
            "spans": [],
            "fix": None,
        }
        for rule, zh, en in problems
    ]


@transaction.atomic
def template_submit(*, tenant, actor, template: MessageTemplate) -> TemplateVersion:
    """draft → submitted → (checks) → pending_review, or back to draft with the findings."""
    template = MessageTemplate.objects.for_tenant(tenant).select_related("signature").get(pk=template.pk)
    draft = (
        TemplateVersion.objects.for_tenant(tenant)
        .select_for_update()
        .filter(template=template, status=TemplateVersion.Status.DRAFT)
        .first()
    )
    if draft is None:
        raise Conflict("no_draft", _("There is no draft to submit; edit the template first."))
    if template.signature.status == Signature.Status.REJECTED:
        raise Conflict("signature_rejected", _("The template's signature was rejected; choose another signature."))
    draft.status = TemplateVersion.Status.SUBMITTED
    draft.submitted_at = timezone.now()
    draft.save(update_fields=["status", "submitted_at", "updated_at"])
    audit_record(tenant=tenant, actor=actor, action="template.submitted", obj=draft, after=_version_snapshot(draft))
    findings = run_checks(
        tenant=tenant,
        kind=template.kind,
        body=draft.body,
        variables=draft.variables,
        signature_name=template.signature.name,
    )
    if template.is_rich:
        findings = _rich_problems(draft) + findings
    draft.findings = findings
    draft.checked_at = timezone.now()
    if any(f["severity"] == "block" for f in findings):
        draft.status = TemplateVersion.Status.DRAFT
        draft.save(update_fields=["status", "findings", "checked_at", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            action="template.returned",
            obj=draft,
            before={"status": TemplateVersion.Status.SUBMITTED},
            after={"status": draft.status, "blocks": [f["rule"] for f in findings if f["severity"] == "block"]},
        )
        return draft
    draft.status = TemplateVersion.Status.PENDING_REVIEW
    draft.save(update_fields=["status", "findings", "checked_at", "updated_at"])
    case = _open_case(tenant=tenant, subject=ReviewCase.Subject.TEMPLATE, template_version=draft)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="template.queued_for_review",
        obj=draft,
        before={"status": TemplateVersion.Status.SUBMITTED},
        after={"status": draft.status, "case": case.pk, "warnings": [f["rule"] for f in findings]},
    )
    return draft


@transaction.atomic
def template_withdraw(*, tenant, actor, template: MessageTemplate) -> TemplateVersion:
    """pending_review → draft, so the tenant can change it before a reviewer decides."""
    version = (
        TemplateVersion.objects.for_tenant(tenant)
        .select_for_update()
        .filter(template=template, status=TemplateVersion.Status.PENDING_REVIEW)
        .first()
    )
    if version is None:
        raise Conflict("not_under_review", _("No version of this template is waiting for review."))
    version.status = TemplateVersion.Status.DRAFT
    version.save(update_fields=["status", "updated_at"])
    ReviewCase.objects.for_tenant(tenant).filter(template_version=version, status=ReviewCase.Status.PENDING).update(
        status=ReviewCase.Status.WITHDRAWN, decided_at=timezone.now()
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="template.withdrawn",
        obj=version,
        before={"status": TemplateVersion.Status.PENDING_REVIEW},
        after={"status": version.status},
    )
    return version


@transaction.atomic
def template_delete(*, tenant, actor, template: MessageTemplate) -> None:
    template = MessageTemplate.objects.for_tenant(tenant).select_for_update().get(pk=template.pk)
    if template.approved_version_id is not None:
        raise Conflict("template_in_use", _("An approved template cannot be deleted: messages may refer to it."))
    audit_record(tenant=tenant, actor=actor, action="template.deleted", obj=template, before={"name": template.name})
    ReviewCase.objects.for_tenant(tenant).filter(template_version__template=template).delete()
    try:
        with transaction.atomic():
            TemplateVersion.objects.for_tenant(tenant).filter(template=template).delete()
            template.delete()
    except IntegrityError:
        raise Conflict("template_in_use", _("Messages refer to this template; it cannot be deleted."))


# --- review decisions (platform staff only) ------------------------------------------------


def _locked_case(case_id) -> ReviewCase:
    case = ReviewCase.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise NotFound("review_case_not_found", _("No such review case."))
    if case.status != ReviewCase.Status.PENDING:
        raise Conflict("already_decided", _("This case has already been decided or withdrawn."))
    return case


@transaction.atomic
def review_approve(
    *, actor, case_id, marketing_allowed: bool = True, ip_address: str | None = None, notify: bool = True
) -> ReviewCase:
    _require_staff(actor)
    case = _locked_case(case_id)
    now = timezone.now()
    tenant = case.tenant
    if case.subject == ReviewCase.Subject.TEMPLATE:
        version = TemplateVersion.objects.select_for_update().get(pk=case.template_version_id)
        template = MessageTemplate.objects.select_for_update().select_related("signature").get(pk=version.template_id)
        if version.status != TemplateVersion.Status.PENDING_REVIEW:
            raise Conflict("not_pending", _("This version is not waiting for review."))
        if not template.signature.is_approved:
            raise Conflict(
                "signature_not_approved",
                _("Approve the template's signature 【%(s)s】 first.") % {"s": template.signature.name},
            )
        previous = template.approved_version_id
        if previous:
            TemplateVersion.objects.filter(pk=previous).update(status=TemplateVersion.Status.SUPERSEDED, updated_at=now)
        version.status = TemplateVersion.Status.APPROVED
        version.decided_at, version.decided_by, version.rejection_reason = now, actor, ""
        version.save(update_fields=["status", "decided_at", "decided_by", "rejection_reason", "updated_at"])
        template.approved_version = version
        template.save(update_fields=["approved_version", "updated_at"])
        obj, action = version, "template.approved"
        before = {"status": TemplateVersion.Status.PENDING_REVIEW, "approved_version": previous}
        after = {"status": version.status, "approved_version": version.pk, "number": version.number}
        label = _("template “%(name)s” version %(n)s") % {"name": template.name, "n": version.number}
        link = reverse("templates:detail", args=[template.pk])
        extra_to = [version.created_by.email] if version.created_by_id else []
    elif case.subject == ReviewCase.Subject.SIGNATURE:
        signature = Signature.objects.select_for_update().get(pk=case.signature_id)
        signature.status, signature.decided_at, signature.decided_by = Signature.Status.APPROVED, now, actor
        signature.rejection_reason = ""
        signature.save(update_fields=["status", "decided_at", "decided_by", "rejection_reason", "updated_at"])
        obj, action = signature, "signature.approved"
        before, after = {"status": Signature.Status.PENDING_REVIEW}, {"status": signature.status}
        label = _("signature 【%(name)s】") % {"name": signature.name}
        link = reverse("templates:signatures")
        extra_to = [signature.created_by.email] if signature.created_by_id else []
    else:
        verification = TenantVerification.objects.select_for_update().get(pk=case.verification_id)
        verification.status = TenantVerification.Status.VERIFIED
        verification.marketing_allowed = bool(marketing_allowed)
        verification.decided_at, verification.decided_by, verification.refusal_reason = now, actor, ""
        verification.save()
        obj, action = verification, "verification.verified"
        before = {"status": TenantVerification.Status.PENDING_REVIEW}
        after = {"status": verification.status, "marketing_allowed": verification.marketing_allowed}
        label = _("enterprise verification")
        link = reverse("templates:verification")
        extra_to = []
    case.status, case.decided_at, case.decided_by = ReviewCase.Status.APPROVED, now, actor
    case.save(update_fields=["status", "decided_at", "decided_by", "updated_at"])
    audit_record(
        tenant=tenant, actor=actor, action=action, obj=obj, before=before, after=after | {"case": case.pk},
        ip_address=ip_address,
    )  # fmt: skip
    if notify:
        _notify_decision(
            tenant=tenant, subject_label=str(label), approved=True, reason="", link_path=link, extra_to=extra_to
        )
    return case


@transaction.atomic
def review_reject(
    *, actor, case_id, reason_code: str, reason_text: str = "", ip_address: str | None = None, notify: bool = True
) -> ReviewCase:
    _require_staff(actor)
    reason_text = (reason_text or "").strip()[:400]
    if reason_code not in REJECTION_REASONS:
        raise ServiceError("reason_required", _("Choose a reason."), field="reason_code")
    if reason_code == "other" and not reason_text:
        raise ServiceError("reason_required", _("Describe the reason."), field="reason_text")
    case = _locked_case(case_id)
    now = timezone.now()
    tenant = case.tenant
    reason = _reason_text(reason_code, reason_text)
    if case.subject == ReviewCase.Subject.TEMPLATE:
        version = (
            TemplateVersion.objects.select_for_update().select_related("template").get(pk=case.template_version_id)
        )
        if version.status != TemplateVersion.Status.PENDING_REVIEW:
            raise Conflict("not_pending", _("This version is not waiting for review."))
        version.status = TemplateVersion.Status.REJECTED
        version.decided_at, version.decided_by, version.rejection_reason = now, actor, reason[:500]
        version.save(update_fields=["status", "decided_at", "decided_by", "rejection_reason", "updated_at"])
        obj, action, before = version, "template.rejected", {"status": TemplateVersion.Status.PENDING_REVIEW}
        after = {"status": version.status}
        label = _("template “%(name)s” version %(n)s") % {"name": version.template.name, "n": version.number}
        link = reverse("templates:detail", args=[version.template_id])
        extra_to = [version.created_by.email] if version.created_by_id else []
    elif case.subject == ReviewCase.Subject.SIGNATURE:
        signature = Signature.objects.select_for_update().get(pk=case.signature_id)
        signature.status, signature.decided_at, signature.decided_by = Signature.Status.REJECTED, now, actor
        signature.rejection_reason = reason[:500]
        signature.save(update_fields=["status", "decided_at", "decided_by", "rejection_reason", "updated_at"])
        obj, action, before = signature, "signature.rejected", {"status": Signature.Status.PENDING_REVIEW}
        after = {"status": signature.status}
        label = _("signature 【%(name)s】") % {"name": signature.name}
        link = reverse("templates:signatures")
        extra_to = [signature.created_by.email] if signature.created_by_id else []
    else:
        verification = TenantVerification.objects.select_for_update().get(pk=case.verification_id)
        verification.status = TenantVerification.Status.REFUSED
        verification.marketing_allowed = False
        verification.decided_at, verification.decided_by, verification.refusal_reason = now, actor, reason[:500]
        verification.save()
        obj, action = verification, "verification.refused"
        before, after = {"status": TenantVerification.Status.PENDING_REVIEW}, {"status": verification.status}
        label = _("enterprise verification")
        link = reverse("templates:verification")
        extra_to = []
    case.status, case.decided_at, case.decided_by = ReviewCase.Status.REJECTED, now, actor
    case.reason_code, case.reason_text = reason_code, reason_text
    case.save(update_fields=["status", "decided_at", "decided_by", "reason_code", "reason_text", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action=action,
        obj=obj,
        before=before,
        after=after | {"case": case.pk, "reason_code": reason_code, "reason": reason},
        ip_address=ip_address,
    )
    if notify:
        _notify_decision(
            tenant=tenant, subject_label=str(label), approved=False, reason=reason, link_path=link, extra_to=extra_to
        )
    return case


@transaction.atomic
def tenant_sensitive_words_set(*, tenant, actor, words: str) -> TenantVerification:
    """Staff add words refused for this tenant on top of the platform list."""
    _require_staff(actor)
    verification, _created = TenantVerification.objects.get_or_create(tenant=tenant)
    before = {"extra_sensitive_words": verification.extra_sensitive_words}
    cleaned = "\n".join(dict.fromkeys(w.strip() for w in (words or "").splitlines() if w.strip()))
    verification.extra_sensitive_words = cleaned
    verification.save(update_fields=["extra_sensitive_words", "updated_at"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="verification.sensitive_words_changed",
        obj=verification,
        before=before,
        after={"extra_sensitive_words": cleaned},
    )
    return verification


@transaction.atomic
def platform_word_add(*, actor, word: str) -> PlatformSensitiveWord:
    _require_staff(actor)
    word = unicodedata.normalize("NFKC", word or "").strip()
    if not 1 <= len(word) <= 40:
        raise ServiceError("invalid_word", _("A word has 1–40 characters."), field="word")
    item, created = PlatformSensitiveWord.objects.get_or_create(word=word, defaults={"added_by": actor})
    if created:
        audit_record(tenant=None, actor=actor, action="platform_word.added", obj=item, after={"word": word})
    return item


@transaction.atomic
def platform_word_remove(*, actor, word_id: int) -> None:
    _require_staff(actor)
    item = PlatformSensitiveWord.objects.filter(pk=int(word_id)).first() if str(word_id).isdigit() else None
    if item is None:
        raise NotFound("word_not_found", _("No such word."))
    audit_record(tenant=None, actor=actor, action="platform_word.removed", obj=item, before={"word": item.word})
    item.delete()
