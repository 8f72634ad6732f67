"""Writes for consent, suppression, unsubscribe replies, complaints and compliance settings.

Each public service is one transaction and records an audit event inside it. Numbers are
normalised here (smsportal.numbers) and stored as E.164; audit events carry them masked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance import gates
from compliance.audit import audit_record
from compliance.models import (
    RETENTION_MINIMUM_DAYS,
    Complaint,
    ComplaintSource,
    ComplaintStatus,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    PlatformComplianceSettings,
    PlatformSuppression,
    Purpose,
    Suppression,
    SuppressionReason,
    SuppressionScope,
    TenantComplianceSettings,
)
from compliance.optout import is_opt_out
from smsportal.errors import Conflict, Unprocessable
from smsportal.numbers import InvalidNumber, mask, normalize

CAP_FIELDS = (
    "code_per_minute",
    "code_per_hour",
    "code_per_day",
    "marketing_per_template_day",
    "notification_per_template_day",
)


def actor_label(actor) -> str:
    label = getattr(actor, "audit_label", "")
    if label:
        return str(label)[:200]
    if getattr(actor, "is_authenticated", False) and getattr(actor, "email", ""):
        return actor.email[:200]
    return "system"


def actor_user(actor):
    if getattr(actor, "is_api_client", False) or not getattr(actor, "is_authenticated", False):
        return None
    return actor if getattr(actor, "pk", None) else None


def normalize_number(raw: str, *, field_name: str = "number"):
    try:
        return normalize(raw)
    except InvalidNumber as error:
        raise Unprocessable("invalid_number", error.message, field=field_name) from None


def _check_choice(value: str, choices, *, code: str, field_name: str, message: str) -> str:
    if value not in choices.values:
        raise Unprocessable(code, message, field=field_name)
    return value


def _check_purpose(purpose: str) -> str:
    return _check_choice(
        purpose,
        Purpose,
        code="unknown_purpose",
        field_name="purpose",
        message=_("Unknown purpose “%(value)s”: use marketing or notification.") % {"value": purpose},
    )


def _check_when(when: datetime | None, *, field_name: str = "occurred_at") -> datetime:
    now = timezone.now()
    if when is None:
        return now
    if timezone.is_naive(when):
        raise Unprocessable("invalid_time", _("The time needs a time zone."), field=field_name)
    if when > now + timedelta(minutes=5):
        raise Unprocessable("time_in_future", _("This time is in the future."), field=field_name)
    return when


# --- Consent --------------------------------------------------------------------------


def consent_record(
    *,
    tenant,
    actor,
    number: str,
    purpose: str,
    source: str,
    occurred_at: datetime | None = None,
    evidence_text: str = "",
    evidence_url: str = "",
    evidence_file=None,
    ip_address: str | None = None,
) -> ConsentRecord:
    """Record that the person at `number` agreed to receive messages for `purpose`."""
    parsed = normalize_number(number)
    _check_purpose(purpose)
    _check_choice(
        source,
        ConsentSource,
        code="unknown_source",
        field_name="source",
        message=_("Unknown consent source “%(value)s”.") % {"value": source},
    )
    when = _check_when(occurred_at)
    if not (evidence_text or evidence_url or evidence_file):
        raise Unprocessable(
            "evidence_required", _("Give the evidence of consent: a text, a link or a file."), field="evidence_text"
        )
    with transaction.atomic():
        record = ConsentRecord.objects.create(
            tenant=tenant,
            number=parsed.e164,
            carrier=parsed.carrier,
            province=parsed.province,
            purpose=purpose,
            action=ConsentAction.GRANT,
            occurred_at=when,
            source=source,
            evidence_text=evidence_text,
            evidence_url=evidence_url,
            evidence_file=evidence_file or "",
            recorded_by=actor_user(actor),
            recorded_by_label=actor_label(actor),
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="consent.granted",
            obj=record,
            after={"number": mask(parsed.e164), "purpose": purpose, "source": source},
            ip_address=ip_address,
        )
    return record


def consent_revoke(
    *,
    tenant,
    actor,
    number: str,
    purpose: str,
    source: str = ConsentSource.MANUAL,
    occurred_at: datetime | None = None,
    evidence_text: str = "",
    ip_address: str | None = None,
) -> ConsentRecord:
    """Append a revocation. Refused (409 `no_consent`) when there is no consent in force."""
    parsed = normalize_number(number)
    _check_purpose(purpose)
    when = _check_when(occurred_at)
    with transaction.atomic():
        # Serialise facts about this number so two revocations cannot both see "granted".
        _lock_number(tenant, parsed.e164)
        latest = gates.latest_consent_actions(tenant=tenant, numbers=[parsed.e164], purpose=purpose)
        if latest.get(parsed.e164) != ConsentAction.GRANT:
            raise Conflict(
                "no_consent",
                _("There is no consent in force for this number and purpose to revoke."),
                field="number",
            )
        record = _append_revocation(
            tenant=tenant,
            actor=actor,
            parsed=parsed,
            purpose=purpose,
            source=source,
            when=when,
            evidence_text=evidence_text,
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="consent.revoked",
            obj=record,
            after={"number": mask(parsed.e164), "purpose": purpose, "source": source},
            ip_address=ip_address,
        )
    return record


def _lock_number(tenant, e164: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [tenant.pk, e164])


def _append_revocation(*, tenant, actor, parsed, purpose, source, when, evidence_text) -> ConsentRecord:
    return ConsentRecord.objects.create(
        tenant=tenant,
        number=parsed.e164,
        carrier=parsed.carrier,
        province=parsed.province,
        purpose=purpose,
        action=ConsentAction.REVOKE,
        occurred_at=when,
        source=source,
        evidence_text=evidence_text,
        recorded_by=actor_user(actor),
        recorded_by_label=actor_label(actor),
    )


# --- Suppression ----------------------------------------------------------------------


@dataclass
class BulkResult:
    added: list[str] = field(default_factory=list)  # E.164 numbers changed
    unchanged: list[str] = field(default_factory=list)  # already in that state
    errors: dict[str, str] = field(default_factory=dict)  # raw input → reason message

    @property
    def count(self) -> int:
        return len(self.added)


def _parse_many(raw_numbers: list[str]) -> tuple[dict[str, object], dict[str, str]]:
    parsed: dict[str, object] = {}
    errors: dict[str, str] = {}
    for raw in raw_numbers:
        raw = (raw or "").strip()
        if not raw:
            continue
        try:
            number = normalize(raw)
        except InvalidNumber as error:
            errors[raw] = error.message
        else:
            parsed.setdefault(number.e164, number)
    return parsed, errors


def _check_reason_scope(reason: str, scope: str) -> None:
    _check_choice(
        reason,
        SuppressionReason,
        code="unknown_reason",
        field_name="reason",
        message=_("Unknown suppression reason “%(value)s”.") % {"value": reason},
    )
    _check_choice(
        scope,
        SuppressionScope,
        code="unknown_scope",
        field_name="scope",
        message=_("Unknown scope “%(value)s”: use marketing or all.") % {"value": scope},
    )


def _suppress_many(
    *, model, base_filter: dict, numbers: list[str], reason: str, scope: str, note: str, actor, extra: dict
) -> tuple[list[str], list[str]]:
    """Insert active suppressions for `numbers`; a wider scope replaces a narrower one.
    Returns (added, unchanged). Two queries and one multi-row INSERT, whatever the count."""
    active = dict(
        model.objects.filter(**base_filter, number__in=numbers, removed_at__isnull=True).values_list("number", "scope")
    )
    now = timezone.now()
    widen = [n for n, s in active.items() if s == SuppressionScope.MARKETING and scope == SuppressionScope.ALL]
    if widen:
        model.objects.filter(**base_filter, number__in=widen, removed_at__isnull=True).update(
            removed_at=now, removed_by=actor_user(actor), removed_by_label=actor_label(actor)
        )
    to_add = [n for n in numbers if n not in active or n in widen]
    model.objects.bulk_create(
        [
            model(
                **extra,
                number=n,
                reason=reason,
                scope=scope,
                note=note[:500],
                added_by=actor_user(actor),
                added_by_label=actor_label(actor),
            )
            for n in to_add
        ],
        batch_size=2000,
        # A concurrent add of the same number (a reply racing a manual add) must not fail the batch.
        ignore_conflicts=True,
    )
    unchanged = [n for n in numbers if n not in to_add]
    return to_add, unchanged


def suppression_add_bulk(
    *,
    tenant,
    actor,
    numbers: list[str],
    reason: str = SuppressionReason.MANUAL,
    scope: str = SuppressionScope.MARKETING,
    note: str = "",
    ip_address: str | None = None,
) -> BulkResult:
    _check_reason_scope(reason, scope)
    parsed, errors = _parse_many(numbers)
    result = BulkResult(errors=errors)
    if not parsed:
        return result
    with transaction.atomic():
        result.added, result.unchanged = _suppress_many(
            model=Suppression,
            base_filter={"tenant": tenant},
            numbers=list(parsed),
            reason=reason,
            scope=scope,
            note=note,
            actor=actor,
            extra={"tenant": tenant},
        )
        if result.added:
            audit_record(
                tenant=tenant,
                actor=actor,
                action="suppression.added",
                after={
                    "count": len(result.added),
                    "numbers": [mask(n) for n in result.added[:50]],
                    "reason": reason,
                    "scope": scope,
                },
                ip_address=ip_address,
            )
    return result


def suppression_add(*, tenant, actor, number: str, reason: str, scope: str, note: str = "", ip_address=None):
    parsed = normalize_number(number)
    suppression_add_bulk(
        tenant=tenant, actor=actor, numbers=[parsed.e164], reason=reason, scope=scope, note=note, ip_address=ip_address
    )
    return Suppression.objects.for_tenant(tenant).get(number=parsed.e164, removed_at__isnull=True)


def _unsuppress_many(*, model, base_filter: dict, numbers: list[str], actor) -> list[str]:
    queryset = model.objects.filter(**base_filter, number__in=numbers, removed_at__isnull=True)
    removed = list(queryset.values_list("number", flat=True))
    queryset.update(removed_at=timezone.now(), removed_by=actor_user(actor), removed_by_label=actor_label(actor))
    return removed


def suppression_remove_bulk(
    *, tenant, actor, numbers: list[str], note: str = "", ip_address: str | None = None
) -> BulkResult:
    parsed, errors = _parse_many(numbers)
    result = BulkResult(errors=errors)
    if not parsed:
        return result
    with transaction.atomic():
        result.added = _unsuppress_many(
            model=Suppression, base_filter={"tenant": tenant}, numbers=list(parsed), actor=actor
        )
        result.unchanged = [n for n in parsed if n not in result.added]
        if result.added:
            audit_record(
                tenant=tenant,
                actor=actor,
                action="suppression.removed",
                before={"count": len(result.added), "numbers": [mask(n) for n in result.added[:50]]},
                after={"note": note[:300]},
                ip_address=ip_address,
            )
    return result


def platform_suppression_add_bulk(
    *,
    actor,
    numbers: list[str],
    reason: str = SuppressionReason.COMPLAINT,
    scope: str = SuppressionScope.ALL,
    note: str = "",
    ip_address: str | None = None,
) -> BulkResult:
    _check_reason_scope(reason, scope)
    parsed, errors = _parse_many(numbers)
    result = BulkResult(errors=errors)
    if not parsed:
        return result
    with transaction.atomic():
        result.added, result.unchanged = _suppress_many(
            model=PlatformSuppression,
            base_filter={},
            numbers=list(parsed),
            reason=reason,
            scope=scope,
            note=note,
            actor=actor,
            extra={},
        )
        if result.added:
            audit_record(
                tenant=None,
                actor=actor,
                action="platform_suppression.added",
                after={"count": len(result.added), "numbers": [mask(n) for n in result.added[:50]], "scope": scope},
                ip_address=ip_address,
            )
    return result


def platform_suppression_remove_bulk(
    *, actor, numbers: list[str], note: str = "", ip_address: str | None = None
) -> BulkResult:
    parsed, errors = _parse_many(numbers)
    result = BulkResult(errors=errors)
    if not parsed:
        return result
    with transaction.atomic():
        result.added = _unsuppress_many(model=PlatformSuppression, base_filter={}, numbers=list(parsed), actor=actor)
        result.unchanged = [n for n in parsed if n not in result.added]
        if result.added:
            audit_record(
                tenant=None,
                actor=actor,
                action="platform_suppression.removed",
                before={"count": len(result.added), "numbers": [mask(n) for n in result.added[:50]]},
                after={"note": note[:300]},
                ip_address=ip_address,
            )
    return result


# --- Unsubscribe replies --------------------------------------------------------------


def inbound_reply_handle(*, tenant, number: str, text: str, received_at, channel_label: str = "") -> bool:
    """Called by messaging for every stored inbound reply. An opt-out reply revokes the
    marketing consent in force (if any) and suppresses the number for marketing, at once.
    Returns True when the reply was an opt-out."""
    if not is_opt_out(text):
        return False
    try:
        parsed = normalize(number)
    except InvalidNumber:
        return False  # nothing we could ever send to; nothing to suppress
    evidence = _("Reply “%(text)s” received %(when)s") % {
        "text": (text or "")[:200],
        "when": timezone.localtime(received_at).strftime("%Y-%m-%d %H:%M:%S"),
    }
    if channel_label:
        evidence += f" ({channel_label})"
    label = _("unsubscribe reply")
    with transaction.atomic():
        _lock_number(tenant, parsed.e164)
        latest = gates.latest_consent_actions(tenant=tenant, numbers=[parsed.e164], purpose=Purpose.MARKETING)
        revoked = None
        if latest.get(parsed.e164) == ConsentAction.GRANT:
            revoked = ConsentRecord.objects.create(
                tenant=tenant,
                number=parsed.e164,
                carrier=parsed.carrier,
                province=parsed.province,
                purpose=Purpose.MARKETING,
                action=ConsentAction.REVOKE,
                occurred_at=received_at,
                source=ConsentSource.REPLY,
                evidence_text=evidence,
                recorded_by_label=label,
            )
        added, _unchanged = _suppress_many(
            model=Suppression,
            base_filter={"tenant": tenant},
            numbers=[parsed.e164],
            reason=SuppressionReason.UNSUBSCRIBE,
            scope=SuppressionScope.MARKETING,
            note=evidence,
            actor=None,
            extra={"tenant": tenant},
        )
        audit_record(
            tenant=tenant,
            actor=None,
            actor_label=label,
            action="consent.unsubscribe_reply",
            obj=revoked,
            after={"number": mask(parsed.e164), "consent_revoked": revoked is not None, "suppressed": bool(added)},
        )
    return True


# --- Complaints -----------------------------------------------------------------------


def complaint_record(
    *,
    tenant,
    actor,
    source: str,
    number: str,
    text: str,
    received_at: datetime | None = None,
    message_id: int | None = None,
    ip_address: str | None = None,
) -> Complaint:
    """Record a complaint, suppress the number for marketing, and re-check the tenant's rate."""
    parsed = normalize_number(number)
    _check_choice(
        source,
        ComplaintSource,
        code="unknown_source",
        field_name="source",
        message=_("Unknown complaint source “%(value)s”.") % {"value": source},
    )
    if not (text or "").strip():
        raise Unprocessable("text_required", _("Describe the complaint."), field="text")
    when = _check_when(received_at, field_name="received_at")
    if message_id is not None:
        from compliance.selectors import message_model

        Message = message_model()
        if Message is not None and not Message.objects.for_tenant(tenant).filter(pk=message_id).exists():
            raise Unprocessable(
                "unknown_message", _("This enterprise sent no message with that id."), field="message_id"
            )
    platform = PlatformComplianceSettings.load()
    with transaction.atomic():
        complaint = Complaint.objects.create(
            tenant=tenant,
            source=source,
            number=parsed.e164,
            message_id=message_id,
            text=text.strip(),
            received_at=when,
            acknowledge_due=when + timedelta(hours=platform.acknowledge_hours),
            resolve_due=when + timedelta(hours=platform.resolve_hours),
            recorded_by=actor_user(actor),
            recorded_by_label=actor_label(actor),
        )
        _suppress_many(
            model=Suppression,
            base_filter={"tenant": tenant},
            numbers=[parsed.e164],
            reason=SuppressionReason.COMPLAINT,
            scope=SuppressionScope.MARKETING,
            note=_("Complaint #%(id)s") % {"id": complaint.pk},
            actor=actor,
            extra={"tenant": tenant},
        )
        audit_record(
            tenant=tenant,
            actor=actor,
            action="complaint.recorded",
            obj=complaint,
            after={"number": mask(parsed.e164), "source": source},
            ip_address=ip_address,
        )
        marketing_pause_check(tenant=tenant)
    return complaint


_NEXT_STATUS = {
    "acknowledge": ({ComplaintStatus.RECEIVED}, ComplaintStatus.ACKNOWLEDGED, "acknowledged_at"),
    "investigate": (
        {ComplaintStatus.RECEIVED, ComplaintStatus.ACKNOWLEDGED},
        ComplaintStatus.INVESTIGATING,
        "investigating_at",
    ),
    "resolve": (
        {ComplaintStatus.RECEIVED, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.INVESTIGATING},
        ComplaintStatus.RESOLVED,
        "resolved_at",
    ),
}


def complaint_advance(
    *, tenant, actor, complaint_id: int, step: str, note: str = "", ip_address: str | None = None
) -> Complaint:
    """Move a complaint along acknowledge → investigate → resolve (a resolution needs a note)."""
    if step not in _NEXT_STATUS:
        raise Unprocessable("unknown_step", _("Unknown step."), field="step")
    allowed_from, new_status, stamp = _NEXT_STATUS[step]
    if step == "resolve" and not note.strip():
        raise Unprocessable("note_required", _("Say how the complaint was resolved."), field="note")
    with transaction.atomic():
        complaint = Complaint.objects.for_tenant(tenant).select_for_update().filter(pk=complaint_id).first()
        if complaint is None:
            from smsportal.errors import NotFound

            raise NotFound("not_found", _("No such complaint."))
        if complaint.status not in allowed_from:
            raise Conflict(
                "invalid_transition",
                _("This complaint is already “%(status)s”.") % {"status": complaint.get_status_display()},
            )
        before = {"status": complaint.status}
        now = timezone.now()
        complaint.status = new_status
        setattr(complaint, stamp, now)
        if step in ("investigate", "resolve") and complaint.acknowledged_at is None:
            complaint.acknowledged_at = now
        if step == "resolve":
            complaint.resolution_note = note.strip()
        complaint.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action=f"complaint.{new_status}",
            obj=complaint,
            before=before,
            after={"status": new_status, "note": note[:300]},
            ip_address=ip_address,
        )
    return complaint


def marketing_pause_check(*, tenant) -> bool:
    """Pause the tenant's marketing when its complaint rate is above the platform threshold.
    Returns True when marketing is (now) paused. Never un-pauses: staff resume by hand."""
    marketing_pause_evaluate(tenant_ids=[tenant.pk], trigger="complaint")
    return gates.marketing_paused(tenant=tenant)


def _pause_reason(rate, platform) -> str:
    return _("%(rate)s complaints per 10,000 delivered marketing messages in %(days)s days (limit %(limit)s).") % {
        "rate": rate.per_10k,
        "days": platform.complaint_rate_window_days,
        "limit": platform.complaint_rate_threshold,
    }


def marketing_pause_evaluate(
    *, tenant_ids: list[int] | None = None, trigger: str, now: datetime | None = None
) -> list[int]:
    """Pause marketing for every tenant (of `tenant_ids`, or all) whose complaint rate is above
    the platform threshold and is not paused yet; returns the ids of the tenants paused now.

    Set-based, whatever the number of tenants: only tenants with a complaint in the window can
    be above a threshold (which is never negative), so one grouped query finds them, two more
    give their rates, and one UPDATE … FROM unnest(…) pauses them (it skips rows paused
    meanwhile, so a tenant is paused — and audited and told — once). Never un-pauses: a
    pause is lifted by staff (`marketing_resume`), after they have looked at the cause.
    Runs in the caller's transaction when there is one; the owners and admins of each newly
    paused tenant are emailed after commit."""
    from django.db import connection

    from compliance.models import AuditEvent
    from compliance.selectors import complaint_rates

    platform = PlatformComplianceSettings.load()
    now = now or timezone.now()
    since = now - timedelta(days=platform.complaint_rate_window_days)
    complaints = Complaint.objects.filter(received_at__gte=since)
    if tenant_ids is not None:
        complaints = complaints.filter(tenant_id__in=list(tenant_ids))
    candidates = set(complaints.values_list("tenant_id", flat=True).distinct())
    candidates -= set(
        TenantComplianceSettings.objects.filter(tenant_id__in=list(candidates), marketing_paused=True).values_list(
            "tenant_id", flat=True
        )
    )
    if not candidates:
        return []
    rates = complaint_rates(tenant_ids=sorted(candidates), now=now)
    over = {
        tenant_id: rate
        for tenant_id, rate in rates.items()
        if rate.delivered >= platform.complaint_rate_min_delivered
        and rate.per_10k is not None
        and rate.per_10k > platform.complaint_rate_threshold
    }
    if not over:
        return []
    ids = sorted(over)
    with transaction.atomic():
        TenantComplianceSettings.objects.bulk_create(
            [TenantComplianceSettings(tenant_id=tenant_id) for tenant_id in ids], ignore_conflicts=True
        )
        table = TenantComplianceSettings._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {table} s
                       SET marketing_paused = true, marketing_paused_at = %s,
                           marketing_paused_reason = v.reason, updated_at = %s
                      FROM unnest(%s::bigint[], %s::text[]) AS v(tenant_id, reason)
                     WHERE s.tenant_id = v.tenant_id AND NOT s.marketing_paused
                 RETURNING s.id, s.tenant_id""",  # noqa: S608 (our table name; values are bound)
                [now, now, ids, [_pause_reason(over[tenant_id], platform)[:300] for tenant_id in ids]],
            )
            paused = sorted(cursor.fetchall(), key=lambda row: row[1])
        AuditEvent.objects.bulk_create(
            [
                AuditEvent(
                    tenant_id=tenant_id,
                    actor_label="system",
                    action="marketing.paused",
                    object_type=TenantComplianceSettings._meta.label,
                    object_id=str(row_id),
                    after={
                        "complaints": over[tenant_id].complaints,
                        "delivered": over[tenant_id].delivered,
                        "per_10k": str(over[tenant_id].per_10k),
                        "threshold": str(platform.complaint_rate_threshold),
                        "trigger": trigger,
                    },
                )
                for row_id, tenant_id in paused
            ]
        )
    paused_ids = [tenant_id for _row_id, tenant_id in paused]
    if paused_ids:
        transaction.on_commit(lambda: marketing_paused_notify(tenant_ids=paused_ids))
    return paused_ids


def marketing_paused_notify(*, tenant_ids: list[int]) -> int:
    """The notice: email the owners and admins of each tenant whose marketing was just paused
    (the complaints page shows the same notice). Returns the emails sent."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.urls import reverse
    from django.utils import translation

    from tenants.models import Membership, Role

    rows = TenantComplianceSettings.objects.filter(tenant_id__in=tenant_ids, marketing_paused=True).select_related(
        "tenant"
    )
    recipients: dict[int, list[str]] = {}
    for tenant_id, email in Membership.objects.filter(
        tenant_id__in=tenant_ids, role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
    ).values_list("tenant_id", "user__email"):
        recipients.setdefault(tenant_id, []).append(email)
    link = settings.SITE_URL.rstrip("/") + reverse("compliance:complaints")
    sent = 0
    with translation.override(settings.LANGUAGE_CODE):
        for row in rows:
            if not recipients.get(row.tenant_id):
                continue
            send_mail(
                _("[%(tenant)s] Your marketing messages are paused") % {"tenant": row.tenant.name},
                _(
                    "Marketing messages of %(tenant)s are paused because of the complaint rate: %(reason)s\n\n"
                    "Verification codes, notifications and alerts keep flowing. Look into the complaints, fix "
                    "the cause, then ask support to resume marketing:"
                )
                % {"tenant": row.tenant.name, "reason": row.marketing_paused_reason}
                + "\n\n"
                + link,
                None,
                recipients[row.tenant_id],
            )
            sent += 1
    return sent


def marketing_resume(*, tenant, actor, note: str, ip_address: str | None = None) -> TenantComplianceSettings:
    if not note.strip():
        raise Unprocessable("note_required", _("Say why marketing may resume."), field="note")
    with transaction.atomic():
        settings_row = tenant_settings_for_update(tenant)
        if not settings_row.marketing_paused:
            raise Conflict("not_paused", _("Marketing is not paused."))
        before = {
            "paused_at": settings_row.marketing_paused_at.isoformat() if settings_row.marketing_paused_at else None,
            "reason": settings_row.marketing_paused_reason,
        }
        settings_row.marketing_paused = False
        settings_row.marketing_paused_at = None
        settings_row.marketing_paused_reason = ""
        settings_row.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="marketing.resumed",
            obj=settings_row,
            before=before,
            after={"note": note[:300]},
            ip_address=ip_address,
        )
    return settings_row


def complaint_overdue_notify(*, now: datetime | None = None) -> int:
    """Email each tenant's owners and admins about complaints whose acknowledgement or
    resolution deadline has passed; each deadline is reported once. Returns emails sent."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.db.models import Q
    from django.urls import reverse
    from django.utils import translation

    from tenants.models import Membership, Role

    now = now or timezone.now()
    ack_late = Q(acknowledged_at__isnull=True, acknowledge_due__lt=now, acknowledge_overdue_notified_at__isnull=True)
    resolve_late = Q(resolve_due__lt=now, resolve_overdue_notified_at__isnull=True)
    late = list(
        Complaint.objects.exclude(status=ComplaintStatus.RESOLVED)
        .filter(ack_late | resolve_late)
        .select_related("tenant")
        .order_by("tenant_id", "received_at")
    )
    by_tenant: dict[int, list[Complaint]] = {}
    for complaint in late:
        by_tenant.setdefault(complaint.tenant_id, []).append(complaint)
    recipients: dict[int, list[str]] = {}
    for tenant_id, email in Membership.objects.filter(
        tenant_id__in=list(by_tenant), role__in=[Role.OWNER, Role.ADMIN], user__is_active=True
    ).values_list("tenant_id", "user__email"):
        recipients.setdefault(tenant_id, []).append(email)
    sent = 0
    link = settings.SITE_URL.rstrip("/") + reverse("compliance:complaints")
    with translation.override(settings.LANGUAGE_CODE):
        for tenant_id, complaints in by_tenant.items():
            tenant = complaints[0].tenant
            lines = [
                _("%(when)s · %(source)s · %(number)s · %(state)s")
                % {
                    "when": timezone.localtime(c.received_at).strftime("%Y-%m-%d %H:%M"),
                    "source": c.get_source_display(),
                    "number": mask(c.number),
                    "state": _("not acknowledged in time") if c.acknowledged_at is None else _("not resolved in time"),
                }
                for c in complaints
            ]
            if recipients.get(tenant_id):
                send_mail(
                    _("[%(tenant)s] %(n)s complaints are past their deadline")
                    % {"tenant": tenant.name, "n": len(lines)},
                    _("These complaints need handling now:") + "\n\n" + "\n".join(lines) + "\n\n" + link,
                    None,
                    recipients[tenant_id],
                )
                sent += 1
    ids = [c.pk for c in late]
    Complaint.objects.filter(pk__in=ids).filter(ack_late).update(acknowledge_overdue_notified_at=now)
    Complaint.objects.filter(pk__in=ids).filter(resolve_late).update(resolve_overdue_notified_at=now)
    return sent


# --- Settings -------------------------------------------------------------------------


def tenant_settings_for_update(tenant) -> TenantComplianceSettings:
    TenantComplianceSettings.objects.get_or_create(tenant=tenant)
    return TenantComplianceSettings.objects.select_for_update().get(tenant=tenant)


def tenant_compliance_settings_update(
    *, tenant, actor, retention_days: int, caps: dict | None = None, by_staff: bool = False, ip_address=None
) -> TenantComplianceSettings:
    """Tenants may keep records longer than 180 days and may tighten (never loosen) the
    platform's frequency caps; staff may set any cap for a tenant."""
    if retention_days is None or retention_days < RETENTION_MINIMUM_DAYS:
        raise Unprocessable(
            "retention_too_short",
            _("Sending records must be kept at least %(days)s days (six months).") % {"days": RETENTION_MINIMUM_DAYS},
            field="retention_days",
        )
    caps = {k: v for k, v in (caps or {}).items() if k in CAP_FIELDS}
    platform = PlatformComplianceSettings.load()
    errors = {}
    for name, value in caps.items():
        if value is None:
            continue
        if value < 0:
            errors[name] = [_("Must be zero or more.")]
        elif not by_staff and value > getattr(platform, name):
            errors[name] = [
                _("At most %(limit)s (the platform limit); ask support for more.") % {"limit": getattr(platform, name)}
            ]
    if errors:
        raise Unprocessable("invalid_caps", _("Some limits are not allowed."), fields=errors)
    with transaction.atomic():
        row = tenant_settings_for_update(tenant)
        before = {"retention_days": row.retention_days, **{k: getattr(row, k) for k in caps}}
        row.retention_days = retention_days
        for name, value in caps.items():
            setattr(row, name, value)
        row.save()
        audit_record(
            tenant=tenant,
            actor=actor,
            action="compliance.settings_changed",
            obj=row,
            before=before,
            after={"retention_days": retention_days, **caps},
            ip_address=ip_address,
        )
    return row


RATE_SETTINGS = ("complaint_rate_threshold", "complaint_rate_min_delivered", "complaint_rate_window_days")


def platform_compliance_settings_update(
    *, actor, ip_address=None, **values
) -> tuple[PlatformComplianceSettings, list[int]]:
    """Save the platform defaults. When a complaint-rate setting changes, every tenant is
    re-evaluated at once (set-based): a tenant the new setting puts above the threshold is
    paused now, not at its next complaint. Loosening a setting never lifts a pause (staff
    resume each tenant by hand). Returns the row and the ids of the tenants paused."""
    errors = {}
    threshold = values.get("complaint_rate_threshold")
    if threshold is not None and threshold < 0:
        errors["complaint_rate_threshold"] = [_("Must be zero or more.")]
    window = values.get("complaint_rate_window_days")
    if window is not None and window < 1:
        errors["complaint_rate_window_days"] = [_("At least one day.")]
    if errors:
        raise Unprocessable("invalid_settings", _("Some settings are not allowed."), fields=errors)
    with transaction.atomic():
        PlatformComplianceSettings.load()
        row = PlatformComplianceSettings.objects.select_for_update().get(pk=1)
        names = [f.name for f in row._meta.fields if f.name not in ("id", "updated_at")]
        before = {n: str(getattr(row, n)) for n in names}
        for name, value in values.items():
            if name in names:
                setattr(row, name, value)
        row.save()
        row.refresh_from_db()
        after = {n: str(getattr(row, n)) for n in names}
        audit_record(
            tenant=None,
            actor=actor,
            action="compliance.platform_settings_changed",
            obj=row,
            before=before,
            after=after,
            ip_address=ip_address,
        )
        paused = []
        if any(before[name] != after[name] for name in RATE_SETTINGS):
            paused = marketing_pause_evaluate(trigger="settings")
    return row, paused
