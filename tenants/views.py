from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants import selectors, services
from tenants.decorators import staff_view, tenant_view
from tenants.forms import ApiKeyForm, InvitationForm, RoleForm, SuspendForm, TenantForm, TenantSettingsForm
from tenants.middleware import SESSION_TENANT_KEY
from tenants.models import Membership, Tenant


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


@login_required
def tenant_create(request):
    form = TenantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            tenant = services.tenant_create(
                actor=request.user,
                name=data["name"],
                slug=data["slug"],
                contact_name=data["contact_name"],
                contact_email=data["contact_email"],
                contact_phone=data["contact_phone"],
                timezone_name=data["timezone"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            request.session[SESSION_TENANT_KEY] = tenant.pk
            messages.success(request, _("Enterprise “%(name)s” created.") % {"name": tenant.name})
            return redirect("home")
    return render(request, "tenants/tenant_create.html", {"form": form})


@login_required
@require_POST
def tenant_switch(request):
    try:
        tenant_id = int(request.POST.get("tenant", ""))
    except ValueError:
        tenant_id = None
    membership = next((m for m in request.memberships if m.tenant_id == tenant_id), None)
    if membership is None:
        messages.error(request, _("You are not a member of that enterprise."))
    else:
        request.session[SESSION_TENANT_KEY] = membership.tenant_id
        messages.success(request, _("Switched to %(name)s.") % {"name": membership.tenant.name})
    return redirect("home")


@tenant_view("tenant.manage")
def tenant_settings(request):
    tenant = request.tenant
    initial = {f: getattr(tenant, f) for f in ("name", "contact_name", "contact_email", "contact_phone", "timezone")}
    form = TenantSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.tenant_update(tenant=tenant, actor=request.user, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("tenants:settings")
    return render(request, "tenants/settings.html", {"form": form})


@tenant_view("tenant.view")
def member_list(request):
    tenant = request.tenant
    return render(
        request,
        "tenants/members.html",
        {
            "members": selectors.membership_list(tenant=tenant),
            "invitations": selectors.invitation_list_pending(tenant=tenant),
            "invite_form": InvitationForm(),
            "role_choices": RoleForm.base_fields["role"].choices,
        },
    )


@tenant_view("members.manage")
def member_invite(request):
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(tenant=request.tenant, actor=request.user, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]})
            return redirect("tenants:members")
    return render(request, "tenants/invite.html", {"form": form})


@tenant_view("members.manage")
@require_POST
def member_change_role(request, membership_id: int):
    get_object_or_404(Membership.objects.for_tenant(request.tenant), pk=membership_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.membership_change_role(
                tenant=request.tenant, actor=request.user, membership_id=membership_id, role=form.cleaned_data["role"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Role changed."))
    else:
        messages.error(request, _("Choose a valid role."))
    return redirect("tenants:members")


@tenant_view("members.manage")
@require_POST
def member_remove(request, membership_id: int):
    get_object_or_404(Membership.objects.for_tenant(request.tenant), pk=membership_id)
    try:
        services.membership_remove(tenant=request.tenant, actor=request.user, membership_id=membership_id)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Member removed."))
    return redirect("tenants:members")


@tenant_view("members.manage")
@require_POST
def invitation_revoke(request, invitation_id: int):
    try:
        services.invitation_revoke(tenant=request.tenant, actor=request.user, invitation_id=invitation_id)
    except ServiceError:
        from django.http import Http404

        raise Http404 from None
    messages.success(request, _("Invitation withdrawn."))
    return redirect("tenants:members")


def invitation_accept(request, token: str):
    try:
        invitation = services.invitation_get_by_token(token)
    except ServiceError as error:
        return render(request, "tenants/invitation_invalid.html", {"error": error}, status=error.status)
    if not request.user.is_authenticated:
        return render(
            request, "tenants/invitation_login.html", {"invitation": invitation, "next": request.get_full_path()}
        )
    if request.method == "POST":
        try:
            membership = services.invitation_accept(user=request.user, token=token)
        except ServiceError as error:
            return render(request, "tenants/invitation_invalid.html", {"error": error}, status=error.status)
        request.session[SESSION_TENANT_KEY] = membership.tenant_id
        messages.success(request, _("Welcome to %(name)s.") % {"name": membership.tenant.name})
        return redirect("home")
    return render(request, "tenants/invitation_accept.html", {"invitation": invitation})


@tenant_view("apikeys.manage")
def apikey_list(request):
    form = ApiKeyForm(request.POST or None)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        try:
            key, new_secret = services.apikey_create(
                tenant=request.tenant,
                actor=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("API key “%(name)s” created. Copy the secret now: it is shown only once.") % {"name": key.name},
            )
            form = ApiKeyForm()
    return render(
        request,
        "tenants/apikeys.html",
        {
            "keys": selectors.apikey_list(tenant=request.tenant),
            "form": form,
            "new_secret": new_secret,
        },
    )


@tenant_view("apikeys.manage")
@require_POST
def apikey_rename(request, key_id: int):
    try:
        services.apikey_rename(
            tenant=request.tenant, actor=request.user, key_id=key_id, name=request.POST.get("name", "")
        )
    except ServiceError as error:
        if error.status == 404:
            from django.http import Http404

            raise Http404 from None
        messages.error(request, error.message)
    else:
        messages.success(request, _("Key renamed."))
    return redirect("tenants:apikeys")


@tenant_view("apikeys.manage")
@require_POST
def apikey_revoke(request, key_id: int):
    try:
        key = services.apikey_revoke(tenant=request.tenant, actor=request.user, key_id=key_id)
    except ServiceError:
        from django.http import Http404

        raise Http404 from None
    messages.success(request, _("API key “%(name)s” revoked; it stops working immediately.") % {"name": key.name})
    return redirect("tenants:apikeys")


# --- Platform staff ---------------------------------------------------------------------


@staff_view
def staff_tenant_list(request):
    return render(
        request,
        "tenants/staff_tenants.html",
        {"tenants": selectors.tenant_list_for_staff(), "suspend_form": SuspendForm()},
    )


@staff_view
@require_POST
def staff_tenant_suspend(request, tenant_id: int):
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    form = SuspendForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason for the suspension."))
    else:
        services.tenant_suspend(tenant=tenant, actor=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, _("%(name)s suspended.") % {"name": tenant.name})
    return redirect("staff:tenants")


@staff_view
@require_POST
def staff_tenant_reactivate(request, tenant_id: int):
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    services.tenant_reactivate(tenant=tenant, actor=request.user)
    messages.success(request, _("%(name)s reactivated.") % {"name": tenant.name})
    return redirect("staff:tenants")
