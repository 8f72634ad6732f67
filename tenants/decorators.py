"""`@tenant_view("permission")`: the single gate for portal pages inside a tenant."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from tenants.roles import role_allows


def tenant_view(permission: str):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if request.tenant is None:
                return redirect("tenants:create")
            if not request.tenant.is_active:
                return render(request, "tenants/suspended.html", {"tenant": request.tenant}, status=403)
            if not role_allows(request.membership.role, permission):
                raise PermissionDenied(_("Your role does not allow this."))
            return view(request, *args, **kwargs)

        wrapper.tenant_permission = permission
        return wrapper

    return decorator


def staff_view(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            # Same answer as a missing page: the staff area's existence is not advertised.
            from django.http import Http404

            raise Http404
        return view(request, *args, **kwargs)

    wrapper.staff_only = True
    return wrapper
