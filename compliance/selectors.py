"""Reads for the compliance pages, the API and the gates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from compliance.models import (
    AuditEvent,
    Complaint,
    ConsentRecord,
    PlatformComplianceSettings,
    PlatformSuppression,
    Suppression,
    TenantComplianceSettings,
)
from smsportal.enums import MessageClass, MessageStatus


def message_model():
    """messaging.Message once that app has it; None before (compliance must not depend on it)."""
    try:
        return apps.get_model("messaging", "Message")
    except LookupError:
        return None


def delivered_marketing_counts(*, tenant_ids: list[int] | None, since: datetime) -> dict[int, int]:
    """tenant id → delivered marketing messages since `since`, in one grouped query."""
    Message = message_model()
    if Message is None:
        return {}
    queryset = Message.objects.filter(
        message_class=MessageClass.MARKETING, status=MessageStatus.DELIVERED, done_at__gte=since
    )
    if tenant_ids is not None:
        queryset = queryset.filter(tenant_id__in=tenant_ids)
    return dict(queryset.values_list("tenant_id").annotate(n=Count("id")).values_list("tenant_id", "n"))


@dataclass(frozen=True)
class ComplaintRate:
    tenant_id: int
    complaints: int
    delivered: int

    @property
    def per_10k(self) -> Decimal | None:
        if not self.delivered:
            return None
        return (Decimal(self.complaints) * 10000 / Decimal(self.delivered)).quantize(Decimal("0.01"))


def complaint_rates(*, tenant_ids: list[int] | None = None, now: datetime | None = None) -> dict[int, ComplaintRate]:
    """Complaints per 10,000 delivered marketing messages over the platform's window, per tenant.
    Two grouped queries whatever the number of tenants."""
    from tenants.models import Tenant

    platform = PlatformComplianceSettings.load()
    since = (now or timezone.now()) - timedelta(days=platform.complaint_rate_window_days)
    complaints = Complaint.objects.filter(received_at__gte=since)
    if tenant_ids is not None:
        complaints = complaints.filter(tenant_id__in=tenant_ids)
    complaint_counts = dict(complaints.values_list("tenant_id").annotate(n=Count("id")).values_list("tenant_id", "n"))
    delivered = delivered_marketing_counts(tenant_ids=tenant_ids, since=since)
    ids = tenant_ids if tenant_ids is not None else list(Tenant.objects.values_list("pk", flat=True))
    return {
        tid: ComplaintRate(tenant_id=tid, complaints=complaint_counts.get(tid, 0), delivered=delivered.get(tid, 0))
        for tid in ids
    }


def tenant_settings(*, tenant) -> TenantComplianceSettings:
    row = TenantComplianceSettings.objects.filter(tenant=tenant).first()
    return row or TenantComplianceSettings(tenant=tenant)


@dataclass(frozen=True)
class Caps:
    code_per_minute: int
    code_per_hour: int
    code_per_day: int
    marketing_per_template_day: int
    notification_per_template_day: int


_CAP_FIELDS = tuple(Caps.__dataclass_fields__)
# One query on every send: the tenant's own cap where set, else the platform's.
# Column names come from the dataclass; the tenant id is a parameter.
EFFECTIVE_CAPS_SQL = (
    "SELECT "  # noqa: S608
    + ", ".join(f"coalesce(t.{name}, p.{name})" for name in _CAP_FIELDS)
    + " FROM compliance_platformcompliancesettings p"
    " LEFT JOIN compliance_tenantcompliancesettings t ON t.tenant_id = %s WHERE p.id = 1"
)


def cap_sql(name: str) -> str:
    """A scalar subquery of the tenant's effective cap `name` (one %s: the tenant id), for
    statements that apply the caps themselves. A missing platform row reads as its defaults."""
    default = int(PlatformComplianceSettings._meta.get_field(name).default)
    if name not in _CAP_FIELDS:
        raise ValueError(name)
    return (
        f"(SELECT coalesce(t.{name}, p.{name}, {default}) FROM (VALUES (1)) AS one"  # noqa: S608
        " LEFT JOIN compliance_platformcompliancesettings p ON p.id = 1"
        " LEFT JOIN compliance_tenantcompliancesettings t ON t.tenant_id = %s)"
    )


def effective_caps(*, tenant) -> Caps:
    with connection.cursor() as cursor:
        cursor.execute(EFFECTIVE_CAPS_SQL, [tenant.pk])
        row = cursor.fetchone()
        if row is None:  # the platform row is made on first use
            PlatformComplianceSettings.load()
            cursor.execute(EFFECTIVE_CAPS_SQL, [tenant.pk])
            row = cursor.fetchone()
    return Caps(**dict(zip(_CAP_FIELDS, row, strict=True)))


# --- Lists ----------------------------------------------------------------------------


def consent_list(*, tenant, number: str | None = None, purpose: str | None = None):
    queryset = ConsentRecord.objects.for_tenant(tenant)
    if number:
        queryset = queryset.filter(number=number)
    if purpose:
        queryset = queryset.filter(purpose=purpose)
    return queryset.select_related("recorded_by")


def consent_status(*, tenant, number: str) -> dict[str, ConsentRecord | None]:
    """purpose → the latest fact (grant or revoke) for that number, or None."""
    from compliance.models import Purpose

    latest = {}
    for purpose in Purpose.values:
        latest[purpose] = ConsentRecord.objects.for_tenant(tenant).filter(number=number, purpose=purpose).first()
    return latest


def suppression_list(*, tenant, active_only: bool = True, number: str | None = None, reason: str | None = None):
    queryset = Suppression.objects.for_tenant(tenant)
    if active_only:
        queryset = queryset.filter(removed_at__isnull=True)
    if number:
        queryset = queryset.filter(number=number)
    if reason:
        queryset = queryset.filter(reason=reason)
    return queryset


def platform_suppression_list(*, active_only: bool = True, number: str | None = None):
    queryset = PlatformSuppression.objects.all()
    if active_only:
        queryset = queryset.filter(removed_at__isnull=True)
    if number:
        queryset = queryset.filter(number=number)
    return queryset


def suppression_check(*, tenant, number: str) -> dict:
    """What the API's check answers: the suppressions in force for this number."""
    own = Suppression.objects.for_tenant(tenant).filter(number=number, removed_at__isnull=True).first()
    platform = PlatformSuppression.objects.filter(number=number, removed_at__isnull=True).first()
    return {"tenant": own, "platform": platform}


def complaint_list(*, tenant=None, status: str | None = None, open_only: bool = False):
    queryset = Complaint.objects.for_tenant(tenant) if tenant is not None else Complaint.objects.all()
    if status:
        queryset = queryset.filter(status=status)
    if open_only:
        queryset = queryset.exclude(status="resolved")
    return queryset.select_related("tenant")


@dataclass
class HistoryEntry:
    at: datetime
    kind: str  # consent / revocation / suppression / unsuppression / complaint / message
    title: str
    detail: str
    obj: object


def number_history(*, tenant, number: str, message_limit: int = 200) -> list[HistoryEntry]:
    """Everything this tenant knows about a number, newest first."""
    from django.utils.translation import gettext as _

    entries: list[HistoryEntry] = []
    for record in consent_list(tenant=tenant, number=number):
        entries.append(
            HistoryEntry(
                at=record.occurred_at,
                kind="consent" if record.action == "grant" else "revocation",
                title=f"{record.get_action_display()} · {record.get_purpose_display()}",
                detail=record.get_source_display(),
                obj=record,
            )
        )
    for row in Suppression.objects.for_tenant(tenant).filter(number=number):
        entries.append(
            HistoryEntry(
                at=row.created_at,
                kind="suppression",
                title=_("Suppressed (%(scope)s)") % {"scope": row.get_scope_display()},
                detail=row.get_reason_display(),
                obj=row,
            )
        )
        if row.removed_at:
            entries.append(
                HistoryEntry(
                    at=row.removed_at, kind="unsuppression", title=_("Suppression removed"), detail="", obj=row
                )
            )
    for complaint in Complaint.objects.for_tenant(tenant).filter(number=number):
        entries.append(
            HistoryEntry(
                at=complaint.received_at,
                kind="complaint",
                title=_("Complaint (%(source)s)") % {"source": complaint.get_source_display()},
                detail=complaint.get_status_display(),
                obj=complaint,
            )
        )
    Message = message_model()
    if Message is not None:
        messages = Message.objects.for_tenant(tenant).filter(number=number).order_by("-id")[:message_limit]
        for message in messages:
            entries.append(
                HistoryEntry(
                    at=message.accepted_at or message.created_at,
                    kind="message",
                    title=_("Message (%(cls)s)") % {"cls": message.get_message_class_display()},
                    detail=message.get_status_display(),
                    obj=message,
                )
            )
        from messaging.models import InboundMessage

        replies = InboundMessage.objects.for_tenant(tenant).filter(number=number).order_by("-received_at")
        for reply in replies[:message_limit]:
            entries.append(
                HistoryEntry(
                    at=reply.received_at,
                    kind="reply",
                    title=_("Reply (opt-out)") if reply.is_opt_out else _("Reply"),
                    detail="",
                    obj=reply,
                )
            )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries


def audit_search(
    *,
    tenant=None,
    all_tenants: bool = False,
    action: str = "",
    actor: str = "",
    date_from=None,
    date_to=None,
):
    """Audit events, newest first. `tenant` limits to one tenant; staff pass all_tenants=True."""
    if tenant is None and not all_tenants:
        from tenants.models import TenantRequired

        raise TenantRequired("audit_search needs a tenant or all_tenants=True")
    queryset = AuditEvent.objects.all() if tenant is None else AuditEvent.objects.filter(tenant=tenant)
    if action:
        queryset = queryset.filter(action__startswith=action)
    if actor:
        queryset = queryset.filter(actor_label__icontains=actor)
    if date_from:
        queryset = queryset.filter(created_at__date__gte=date_from)
    if date_to:
        queryset = queryset.filter(created_at__date__lte=date_to)
    return queryset.select_related("tenant")
