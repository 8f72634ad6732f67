from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from billing.models import RICH, LedgerKind
from smsportal.enums import MessageClass

register = template.Library()


@register.filter
def class_label(value: str) -> str:
    if value == RICH:
        return _("Rich message (图文/MMS)")
    if not value:
        return _("All classes")
    try:
        return str(MessageClass(value).label)
    except ValueError:
        return value


@register.filter
def kind_label(value: str) -> str:
    try:
        return str(LedgerKind(value).label)
    except ValueError:
        return value


@register.filter
def yuan(value) -> str:
    """¥1,234.5600 → shown with its 4 places, sign before the currency symbol."""
    if value in (None, ""):
        return "—"
    from decimal import Decimal

    amount = Decimal(str(value))
    sign = "−" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.4f}"


@register.inclusion_tag("billing/_low_balance_banner.html", takes_context=True)
def low_balance_banner(context):
    """A warning strip for the portal layout when the tenant's balance is below its threshold.
    Place `{% load billing_tags %}{% low_balance_banner %}` in base.html (one query)."""
    request = context.get("request")
    tenant = getattr(request, "tenant", None)
    membership = getattr(request, "membership", None)
    if tenant is None or membership is None:
        return {"show": False}
    from billing.models import Account
    from tenants.roles import role_allows

    if not (role_allows(membership.role, "billing.view") or role_allows(membership.role, "messages.send")):
        return {"show": False}
    account = Account.objects.for_tenant(tenant).only("balance", "low_balance_threshold").first()
    if account is None or not account.is_low:
        return {"show": False}
    return {
        "show": True,
        "account": account,
        "can_view": role_allows(membership.role, "billing.view"),
    }
