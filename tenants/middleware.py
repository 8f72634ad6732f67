from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext as _

SESSION_TENANT_KEY = "current_tenant_id"


class TenantMiddleware:
    """Resolves the current tenant from the logged-in user's memberships (never from input).

    API requests get their tenant from the API key in DRF authentication instead.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = None
        request.membership = None
        request.memberships = []
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not request.path.startswith("/api/v1/"):
            from tenants.selectors import memberships_of_user

            memberships = list(memberships_of_user(user=user))
            request.memberships = memberships
            chosen = request.session.get(SESSION_TENANT_KEY)
            current = next((m for m in memberships if m.tenant_id == chosen), None) or (
                memberships[0] if memberships else None
            )
            if current is not None:
                request.membership = current
                request.tenant = current.tenant
        return self.get_response(request)


class StaffMfaMiddleware:
    """Platform staff must have TOTP two-factor before using any page beyond account setup."""

    ALLOWED_PREFIXES = ("/accounts/", "/static/", "/i18n/", "/api/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.is_staff
            and not request.path.startswith(self.ALLOWED_PREFIXES)
        ):
            from allauth.mfa.models import Authenticator

            if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
                messages.warning(request, _("Platform staff must turn on two-factor authentication first."))
                return redirect("mfa_activate_totp")
        return self.get_response(request)
