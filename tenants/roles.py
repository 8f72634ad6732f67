"""Who may do what inside a tenant: the one table every page and endpoint consults."""

from __future__ import annotations

from tenants.models import Role

_ALL = frozenset(Role.values)
_MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_SENDERS = frozenset({Role.OWNER, Role.ADMIN, Role.OPERATOR})
_MONEY = frozenset({Role.OWNER, Role.ADMIN, Role.FINANCE})

PERMISSIONS: dict[str, frozenset[str]] = {
    "tenant.view": _ALL,
    "tenant.manage": _MANAGERS,
    "members.manage": _MANAGERS,
    "apikeys.manage": _MANAGERS,
    "audit.view": _MANAGERS,
    "numbers.view_full": _MANAGERS,  # unmasked phone numbers (audit-logged)
    "templates.view": _ALL,
    "templates.edit": _SENDERS,
    "compliance.view": _ALL,
    "compliance.edit": _SENDERS,
    "contacts.view": _ALL,
    "contacts.edit": _SENDERS,
    "campaigns.view": _ALL,
    "campaigns.edit": _SENDERS,
    "messages.view": _ALL,
    "messages.send": _SENDERS,
    "webhooks.manage": _MANAGERS,
    "billing.view": _MONEY,
    "reports.view": _ALL,
    "reports.manage": _MANAGERS,
}


def role_allows(role: str | None, permission: str) -> bool:
    if role is None:
        return False
    try:
        return role in PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"unknown permission {permission!r}; add it to tenants.roles.PERMISSIONS") from None
