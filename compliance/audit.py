"""Writing audit events. Call inside the service's transaction so the event and the change
land together or not at all."""

from __future__ import annotations

from typing import Any

from compliance.models import AuditEvent


def audit_record(
    *,
    tenant,
    actor,
    action: str,
    obj: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    ip_address: str | None = None,
    actor_label: str = "",
) -> AuditEvent:
    user = (
        actor
        if getattr(actor, "is_authenticated", False)
        and hasattr(actor, "pk")
        and not getattr(actor, "is_api_client", False)
        else None
    )
    if not actor_label:
        actor_label = str(getattr(actor, "audit_label", "") or (user.email if user else "system"))
    return AuditEvent.objects.create(
        tenant=tenant,
        actor=user,
        actor_label=actor_label[:200],
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        before=before,
        after=after,
        ip_address=ip_address,
    )
