"""Platform-staff API endpoints: a staff member's signed-in portal session, nothing else.

Staff actions reach every tenant, so they are only ever taken by a person who passed the
same gate as the staff area of the portal: a signed-in, active `is_staff` user with TOTP
two-factor turned on (staff cannot sign in without the second factor once it is on; see
`tenants.middleware.StaffMfaMiddleware`). There are deliberately no staff API keys: a
long-lived bearer token would act for staff without two-factor. Writes need the CSRF
token, like any form of the portal.

Answers: no session → 401 `not_authenticated`; a tenant's API key or a session of a user who
is not staff → 404 `not_found` (the staff area is not advertised, as in the portal);
staff without two-factor → 403 `mfa_required`.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions, permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView

from tenants.api_auth import ApiKeyAuthentication


class StaffSessionAuthentication(SessionAuthentication):
    """DRF session authentication (CSRF enforced on writes) for the staff endpoints only."""

    def authenticate_header(self, request):
        # Makes "not signed in" a 401 (DRF answers 403 when no scheme is named).
        return 'Session realm="smsportal staff"'


class IsPlatformStaff(permissions.BasePermission):
    def has_permission(self, request, view):
        user = request.user
        if user is None or not getattr(user, "is_authenticated", False):
            raise exceptions.NotAuthenticated(
                _("Sign in to the portal as platform staff (with two-factor) to use this endpoint."),
                code="not_authenticated",
            )
        if getattr(user, "is_api_client", False) or not getattr(user, "is_staff", False) or not user.is_active:
            raise exceptions.NotFound(_("Not found."), code="not_found")
        from allauth.mfa.models import Authenticator

        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            raise exceptions.PermissionDenied(
                _("Platform staff must turn on two-factor authentication first."), code="mfa_required"
            )
        return True


class StaffAPIView(GenericAPIView):
    """Base for platform-staff endpoints. The API key authenticator stays in the list only so
    that a tenant's key is recognised and answered 404 (instead of 401 'sign in')."""

    authentication_classes = [StaffSessionAuthentication, ApiKeyAuthentication]
    permission_classes = [IsPlatformStaff]

    @property
    def actor(self):
        return self.request.user


class StaffSessionAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = StaffSessionAuthentication
    name = "staffSession"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": (
                "Platform staff only: the portal session of a staff member signed in with two-factor. "
                "Writes also need the `X-CSRFToken` header (the `csrftoken` cookie's value)."
            ),
        }
