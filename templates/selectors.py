"""Reads for signatures, templates, versions, verification and the review queue."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from smsportal.enums import MessageClass
from smsportal.errors import Conflict, NotFound
from templates.models import (
    MessageTemplate,
    ReviewCase,
    Signature,
    TemplateVersion,
    TenantVerification,
)
from templates.segments import SegmentCount, count_segments


def template_for_sending(*, tenant, template_id) -> TemplateVersion:
    """The approved version in force for sending (its signature approved too). One join,
    built without compiling a queryset: every API send starts here."""
    from smsportal.joined import fetch_joined, select_list

    try:
        template_pk = int(template_id)
    except (TypeError, ValueError):
        template_pk = None
    found = None
    if template_pk is not None and -(2**63) <= template_pk < 2**63:
        found = fetch_joined(
            f"""SELECT {select_list(MessageTemplate, "m")}, {select_list(Signature, "s")},
                       {select_list(TemplateVersion, "v")}
                  FROM templates_messagetemplate m
                  JOIN templates_signature s ON s.id = m.signature_id
                  LEFT JOIN templates_templateversion v ON v.id = m.approved_version_id
                 WHERE m.tenant_id = %s AND m.id = %s""",  # noqa: S608
            [tenant.pk, template_pk],
            [MessageTemplate, Signature, TemplateVersion],
        )
    if found is None:
        raise NotFound("template_not_found", _("No such template."), field="template_id")
    template, signature, version = found
    template.signature = signature
    template.approved_version = version
    if version is None or not template.signature.is_approved:
        raise Conflict("template_not_approved", _("This template has no approved version yet."), field="template_id")
    version.template = template  # already loaded: rendering needs template.signature
    return version


def signature_list(*, tenant) -> QuerySet[Signature]:
    return Signature.objects.for_tenant(tenant).order_by("name")


def signature_get(*, tenant, signature_id) -> Signature:
    try:
        return Signature.objects.for_tenant(tenant).get(pk=int(signature_id))
    except (Signature.DoesNotExist, TypeError, ValueError):
        raise NotFound("signature_not_found", _("No such signature."))


def template_list(*, tenant) -> QuerySet[MessageTemplate]:
    return MessageTemplate.objects.for_tenant(tenant).select_related("signature", "approved_version").order_by("name")


def template_get(*, tenant, template_id) -> MessageTemplate:
    try:
        return (
            MessageTemplate.objects.for_tenant(tenant)
            .select_related("signature", "approved_version")
            .get(pk=int(template_id))
        )
    except (MessageTemplate.DoesNotExist, TypeError, ValueError):
        raise NotFound("template_not_found", _("No such template."))


def template_versions(*, tenant, template) -> QuerySet[TemplateVersion]:
    return TemplateVersion.objects.for_tenant(tenant).filter(template=template).order_by("-number")


def template_latest_version(*, tenant, template) -> TemplateVersion | None:
    return template_versions(tenant=tenant, template=template).first()


def template_open_version(*, tenant, template) -> TemplateVersion | None:
    """The version being worked on (draft / submitted / pending review), if any."""
    return template_versions(tenant=tenant, template=template).filter(status__in=TemplateVersion.OPEN_STATUSES).first()


def verification_for(*, tenant) -> TenantVerification | None:
    return TenantVerification.objects.for_tenant(tenant).first()


def review_queue() -> QuerySet[ReviewCase]:
    """Platform-wide (staff only): the oldest waiting case first."""
    return (
        ReviewCase.objects.filter(status=ReviewCase.Status.PENDING)
        .select_related("tenant", "signature", "template_version__template__signature", "verification")
        .order_by("queued_at", "id")
    )


def review_case_get(*, case_id) -> ReviewCase:
    try:
        return ReviewCase.objects.select_related(
            "tenant", "signature", "template_version__template__signature", "verification", "decided_by"
        ).get(pk=int(case_id))
    except (ReviewCase.DoesNotExist, TypeError, ValueError):
        raise NotFound("review_case_not_found", _("No such review case."))


def tenant_past_decisions(*, tenant, exclude_id=None, limit: int = 20) -> QuerySet[ReviewCase]:
    qs = ReviewCase.objects.for_tenant(tenant).exclude(status=ReviewCase.Status.PENDING)
    if exclude_id:
        qs = qs.exclude(pk=exclude_id)
    return qs.select_related("signature", "template_version__template", "decided_by").order_by("-decided_at")[:limit]


# --- live counter ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counter:
    text: str  # what the handset shows with the examples filled in
    count: SegmentCount
    worst: SegmentCount  # every variable at its maximum length
    unit_price: Decimal | None  # per segment (per message for rich) at the tenant's current tier
    price: Decimal | None  # per message
    is_rich: bool = False


def _unit_price(*, tenant, message_class: str) -> Decimal | None:
    try:
        from billing.pricing import unit_price
    except ImportError:  # billing not installed: the counter still counts
        return None
    try:
        return unit_price(tenant=tenant, message_class=message_class)
    except (ObjectDoesNotExist, LookupError):
        return None


def message_counter(
    *, tenant, kind: str, body: str, signature_name: str, variables=None, is_rich: bool = False
) -> Counter:
    from compliance.rules.variables import VARIABLE_TYPES
    from templates.rendering import fill_body, signature_prefix

    specs = [v for v in variables or [] if isinstance(v, dict)]
    examples = {v.get("name"): v.get("example") or "" for v in specs}
    widest = {}
    for spec in specs:
        vtype = VARIABLE_TYPES.get(str(spec.get("type")))
        limit = spec.get("max_length") or (vtype.default_max_length if vtype else 20)
        widest[spec.get("name")] = "字" * int(limit if isinstance(limit, int) else 20)
    prefix = signature_prefix(signature_name) if signature_name else ""
    text = prefix + fill_body(body or "", examples)
    worst = count_segments(prefix + fill_body(body or "", widest))
    count = count_segments(text)
    if is_rich:
        from billing.models import RICH

        unit = _unit_price(tenant=tenant, message_class=RICH)
        return Counter(text, count, worst, unit, unit, True)
    unit = _unit_price(tenant=tenant, message_class=kind if kind in MessageClass.values else MessageClass.NOTIFICATION)
    price = (unit * count.segments).quantize(Decimal("0.0001")) if unit is not None else None
    return Counter(text, count, worst, unit, price)
