from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import exceptions, permissions

from tenants.api_auth import ApiClient


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.user, ApiClient):
            raise exceptions.NotAuthenticated(
                _("An API key is required (Authorization: Bearer <key>)."), code="missing_api_key"
            )
        return True


class HasScope(HasApiKey):
    """The view's `required_scopes` maps HTTP methods (or "*") to the scope they need."""

    def has_permission(self, request, view):
        super().has_permission(request, view)
        needed = getattr(view, "required_scopes", {}) or {}
        scope = needed.get(request.method) or needed.get("*")
        if scope is None:
            scope = "read" if request.method in permissions.SAFE_METHODS else "manage"
        if scope not in request.user.scopes:
            raise exceptions.PermissionDenied(
                _("This API key lacks the “%(scope)s” scope.") % {"scope": scope}, code="missing_scope"
            )
        return True
