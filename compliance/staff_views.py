"""Staff pages: every tenant's complaint rate, the platform suppression list, complaints for
any tenant, platform defaults, marketing resume, and the whole audit log."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance import selectors, services
from compliance.audit import audit_record
from compliance.forms import (
    AuditFilterForm,
    ComplaintStepForm,
    PlatformSettingsForm,
    ResumeForm,
    StaffComplaintForm,
    SuppressionBulkForm,
    SuppressionRemoveForm,
    TenantComplianceSettingsForm,
)
from compliance.models import Complaint, PlatformComplianceSettings, SuppressionReason, TenantComplianceSettings
from compliance.views import PAGE_SIZE, _page, audit_csv_response, audit_queryset, client_ip
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants.decorators import staff_view
from tenants.models import Tenant


@staff_view
def overview(request):
    rates = selectors.complaint_rates()
    paused = {row.tenant_id: row for row in TenantComplianceSettings.objects.filter(marketing_paused=True)}
    platform = PlatformComplianceSettings.load()
    rows = []
    for tenant in Tenant.objects.order_by("name"):
        rate = rates.get(tenant.pk)
        rows.append(
            {
                "tenant": tenant,
                "rate": rate,
                "paused": paused.get(tenant.pk),
                "above": rate is not None
                and rate.per_10k is not None
                and rate.per_10k > platform.complaint_rate_threshold,
            }
        )
    open_complaints = selectors.complaint_list(open_only=True).order_by("resolve_due")[:20]
    return render(
        request,
        "compliance/staff/overview.html",
        {"rows": rows, "platform": platform, "open_complaints": open_complaints, "now": timezone.now()},
    )


@staff_view
def marketing_resume(request, tenant_id: int):
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        raise Http404
    form = ResumeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.marketing_resume(
                tenant=tenant, actor=request.user, note=form.cleaned_data["note"], ip_address=client_ip(request)
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Marketing resumed for %(name)s.") % {"name": tenant.name})
            return redirect("compliance_staff:overview")
    row = selectors.tenant_settings(tenant=tenant)
    return render(request, "compliance/staff/resume.html", {"tenant": tenant, "form": form, "row": row})


@staff_view
def tenant_limits(request, tenant_id: int):
    """Staff may set any frequency cap for one tenant (tenants themselves may only tighten)."""
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        raise Http404
    current = selectors.tenant_settings(tenant=tenant)
    initial = {"retention_days": current.retention_days, **{k: getattr(current, k) for k in services.CAP_FIELDS}}
    form = TenantComplianceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.tenant_compliance_settings_update(
                tenant=tenant,
                actor=request.user,
                retention_days=data["retention_days"],
                caps={k: data[k] for k in services.CAP_FIELDS},
                by_staff=True,
                ip_address=client_ip(request),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("compliance_staff:overview")
    return render(
        request,
        "compliance/staff/tenant_limits.html",
        {"tenant": tenant, "form": form, "caps": selectors.effective_caps(tenant=tenant)},
    )


@staff_view
def platform_suppressions(request):
    add_form = SuppressionBulkForm(prefix="add", initial={"reason": SuppressionReason.COMPLAINT, "scope": "all"})
    remove_form = SuppressionRemoveForm(prefix="remove")
    if request.method == "POST":
        if "add-numbers" in request.POST:
            add_form = form = SuppressionBulkForm(request.POST, prefix="add")
        else:
            remove_form = form = SuppressionRemoveForm(request.POST, prefix="remove")
        if form.is_valid():
            try:
                if form is add_form:
                    result = services.platform_suppression_add_bulk(
                        actor=request.user,
                        numbers=form.number_list(),
                        reason=form.cleaned_data["reason"],
                        scope=form.cleaned_data["scope"],
                        note=form.cleaned_data["note"],
                        ip_address=client_ip(request),
                    )
                    done = _("%(n)s numbers suppressed.") % {"n": result.count}
                else:
                    result = services.platform_suppression_remove_bulk(
                        actor=request.user,
                        numbers=form.number_list(),
                        note=form.cleaned_data["note"],
                        ip_address=client_ip(request),
                    )
                    done = _("%(n)s numbers removed from the list.") % {"n": result.count}
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, done)
                for raw, reason in list(result.errors.items())[:20]:
                    messages.warning(request, f"{raw}: {reason}")
                return redirect("compliance_staff:suppressions")
    page = _page(request, selectors.platform_suppression_list(active_only=request.GET.get("all") != "1"))
    return render(
        request,
        "compliance/staff/suppressions.html",
        {"page": page, "add_form": add_form, "remove_form": remove_form},
    )


@staff_view
def complaints(request):
    page = _page(request, selectors.complaint_list(status=request.GET.get("status") or None))
    return render(request, "compliance/staff/complaints.html", {"page": page, "now": timezone.now()})


@staff_view
def complaint_new(request):
    form = StaffComplaintForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            complaint = services.complaint_record(
                tenant=data["tenant"],
                actor=request.user,
                source=data["source"],
                number=data["number"],
                text=data["text"],
                received_at=data["received_at"],
                message_id=data["message_id"],
                ip_address=client_ip(request),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Complaint recorded; the number is suppressed for marketing."))
            return redirect("compliance_staff:complaint_detail", complaint.pk)
    return render(request, "compliance/staff/complaint_new.html", {"form": form})


@staff_view
def complaint_detail(request, complaint_id: int):
    complaint = Complaint.objects.select_related("tenant").filter(pk=complaint_id).first()
    if complaint is None:
        raise Http404
    form = ComplaintStepForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.complaint_advance(
                tenant=complaint.tenant,
                actor=request.user,
                complaint_id=complaint.pk,
                step=form.cleaned_data["step"],
                note=form.cleaned_data["note"],
                ip_address=client_ip(request),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Complaint updated."))
            return redirect("compliance_staff:complaint_detail", complaint.pk)
    return render(
        request,
        "compliance/staff/complaint_detail.html",
        {"complaint": complaint, "form": form, "now": timezone.now()},
    )


@staff_view
def platform_settings(request):
    row = PlatformComplianceSettings.load()
    form = PlatformSettingsForm(request.POST or None, instance=row)
    if request.method == "POST" and form.is_valid():
        try:
            _row, paused = services.platform_compliance_settings_update(
                actor=request.user, ip_address=client_ip(request), **form.cleaned_data
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Settings saved."))
            if paused:
                messages.warning(
                    request,
                    _("Marketing is now paused for %(n)s enterprises above the new limit.") % {"n": len(paused)},
                )
            return redirect("compliance_staff:settings")
    return render(request, "compliance/staff/settings.html", {"form": form})


def _staff_audit_queryset(request, form):
    queryset = audit_queryset(form, all_tenants=True)
    tenant_slug = request.GET.get("tenant", "").strip()
    if tenant_slug:
        queryset = queryset.filter(tenant__slug=tenant_slug)
    return queryset


@staff_view
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    page = _page(request, _staff_audit_queryset(request, form), PAGE_SIZE)
    return render(
        request,
        "compliance/audit_log.html",
        {"form": form, "page": page, "staff": True, "tenant_slug": request.GET.get("tenant", "")},
    )


@staff_view
def audit_export(request):
    form = AuditFilterForm(request.GET or None)
    audit_record(
        tenant=None,
        actor=request.user,
        action="audit.exported",
        after={k: str(v) for k, v in request.GET.items()},
        ip_address=client_ip(request),
    )
    return audit_csv_response(_staff_audit_queryset(request, form), f"audit-all-{timezone.localdate()}.csv")
