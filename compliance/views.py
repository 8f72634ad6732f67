"""Portal pages for consent, suppression, complaints, compliance settings and the audit log."""

from __future__ import annotations

import base64
import csv
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance import imports, selectors, services
from compliance.audit import audit_record
from compliance.forms import (
    ApplyImportForm,
    AuditFilterForm,
    ComplaintForm,
    ComplaintStepForm,
    ConsentForm,
    ImportForm,
    NumberLookupForm,
    SuppressionBulkForm,
    SuppressionRemoveForm,
    TenantComplianceSettingsForm,
)
from compliance.models import Complaint, ConsentImport, ConsentRecord, PlatformComplianceSettings, Purpose
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from smsportal.numbers import InvalidNumber, mask, normalize
from tenants.decorators import tenant_view
from tenants.roles import role_allows

PAGE_SIZE = 50


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _page(request, queryset, size: int = PAGE_SIZE):
    return Paginator(queryset, size).get_page(request.GET.get("page"))


# --- Number references ------------------------------------------------------------------
# A number page's URL must not show the number to people whose role sees it masked, so the
# reference is the number encrypted (with the tenant id, so it only opens in that tenant).


def _fernet() -> Fernet:
    key = hashlib.sha256(("compliance.number:" + settings.SECRET_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def number_ref(tenant_id: int, e164: str) -> str:
    return _fernet().encrypt(f"{tenant_id}:{e164}".encode()).decode()


def number_from_ref(tenant_id: int, ref: str) -> str:
    try:
        owner, number = _fernet().decrypt(ref.encode()).decode().split(":", 1)
    except (InvalidToken, ValueError):
        raise Http404 from None
    if owner != str(tenant_id):
        raise Http404
    return number


def number_url(tenant_id: int, e164: str) -> str:
    return reverse("compliance:number", args=[number_ref(tenant_id, e164)])


def _with_refs(tenant_id: int, rows):
    for row in rows:
        row.ref_url = number_url(tenant_id, row.number)
    return rows


# --- Consent ------------------------------------------------------------------------------


@tenant_view("compliance.view")
def consent_list(request):
    tenant = request.tenant
    lookup = NumberLookupForm(request.GET if "number" in request.GET else None)
    if lookup.is_bound and lookup.is_valid():
        try:
            parsed = normalize(lookup.cleaned_data["number"])
        except InvalidNumber as error:
            lookup.add_error("number", error.message)
        else:
            return redirect(number_url(tenant.pk, parsed.e164))
    page = _page(request, selectors.consent_list(tenant=tenant, purpose=request.GET.get("purpose") or None))
    _with_refs(tenant.pk, page.object_list)
    imports_recent = ConsentImport.objects.for_tenant(tenant).defer("content")[:5]
    return render(
        request,
        "compliance/consent_list.html",
        {"page": page, "lookup": lookup, "imports": imports_recent, "purposes": Purpose.choices},
    )


@tenant_view("compliance.edit")
def consent_new(request):
    form = ConsentForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data["action"] == "revoke":
                record = services.consent_revoke(
                    tenant=request.tenant,
                    actor=request.user,
                    number=data["number"],
                    purpose=data["purpose"],
                    source=data["source"],
                    occurred_at=data["occurred_at"],
                    evidence_text=data["evidence_text"],
                    ip_address=client_ip(request),
                )
            else:
                record = services.consent_record(
                    tenant=request.tenant,
                    actor=request.user,
                    number=data["number"],
                    purpose=data["purpose"],
                    source=data["source"],
                    occurred_at=data["occurred_at"],
                    evidence_text=data["evidence_text"],
                    evidence_url=data["evidence_url"],
                    evidence_file=data["evidence_file"],
                    ip_address=client_ip(request),
                )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Recorded for %(number)s.") % {"number": mask(record.number)})
            return redirect(number_url(request.tenant.pk, record.number))
    return render(request, "compliance/consent_new.html", {"form": form})


@tenant_view("compliance.view")
def consent_evidence(request, record_id: int):
    """Evidence files are private: served only to members of the tenant that recorded them."""
    from django.http import FileResponse

    record = ConsentRecord.objects.for_tenant(request.tenant).filter(pk=record_id).first()
    if record is None or not record.evidence_file:
        raise Http404
    return FileResponse(
        record.evidence_file.open("rb"), as_attachment=True, filename=record.evidence_file.name.rsplit("/", 1)[-1]
    )


# --- Imports ------------------------------------------------------------------------------


@tenant_view("compliance.edit")
def import_new(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > imports.MAX_FILE_BYTES:
            form.add_error("file", _("The file is larger than 20 MB."))
        else:
            try:
                job = imports.consent_import_create(
                    tenant=request.tenant,
                    actor=request.user,
                    filename=upload.name,
                    content=upload.read(),
                    purpose=form.cleaned_data["purpose"],
                    source=form.cleaned_data["source"],
                    evidence_text=form.cleaned_data["evidence_text"],
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                return redirect("compliance:import_detail", job.pk)
    return render(request, "compliance/import_new.html", {"form": form})


def _import_for(request, import_id: int) -> ConsentImport:
    job = ConsentImport.objects.for_tenant(request.tenant).defer("content").filter(pk=import_id).first()
    if job is None:
        raise Http404
    return job


def _column_labels() -> dict[str, str]:
    return {
        "number": _("Phone number"),
        "purpose": _("Purpose"),
        "action": _("Action"),
        "occurred_at": _("When"),
        "source": _("Source"),
        "evidence": _("Evidence"),
    }


@tenant_view("compliance.edit")
def import_detail(request, import_id: int):
    job = _import_for(request, import_id)
    labels = _column_labels()
    for error in job.errors:
        error["label"] = labels.get(error.get("field"), error.get("field"))
    form = ApplyImportForm(request.POST or None, initial={"mode": job.mode})
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.consent_import_start_apply(
                tenant=request.tenant, actor=request.user, import_id=job.pk, mode=form.cleaned_data["mode"]
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            return redirect("compliance:import_detail", job.pk)
    return render(request, "compliance/import_detail.html", {"job": job, "form": form})


@tenant_view("compliance.edit")
def import_progress(request, import_id: int):
    """The htmx-polled fragment; once the work is done it asks the browser to reload the page."""
    job = _import_for(request, import_id)
    response = render(request, "compliance/_import_progress.html", {"job": job})
    if job.status not in (ConsentImport.Status.VALIDATING, ConsentImport.Status.APPLYING):
        response["HX-Refresh"] = "true"
    return response


# --- A number's page ----------------------------------------------------------------------


def _can_see_full(request) -> bool:
    return role_allows(request.membership.role, "numbers.view_full")


@tenant_view("compliance.view")
def number_detail(request, ref: str):
    tenant = request.tenant
    number = number_from_ref(tenant.pk, ref)
    full = _can_see_full(request)
    if full:
        audit_record(
            tenant=tenant,
            actor=request.user,
            action="number.viewed_full",
            after={"number": mask(number), "page": "compliance.number"},
            ip_address=client_ip(request),
        )
    history = selectors.number_history(tenant=tenant, number=number)
    status = selectors.consent_status(tenant=tenant, number=number)
    check = selectors.suppression_check(tenant=tenant, number=number)
    return render(
        request,
        "compliance/number_detail.html",
        {
            "number": number,
            "full": full,
            "ref": ref,
            "history": history,
            "status": status,
            "check": check,
        },
    )


@tenant_view("compliance.view")
def number_proof_pdf(request, ref: str):
    from smsportal.pdf import render_pdf

    tenant = request.tenant
    number = number_from_ref(tenant.pk, ref)
    full = _can_see_full(request)
    history = [e for e in selectors.number_history(tenant=tenant, number=number) if e.kind != "message"]
    audit_record(
        tenant=tenant,
        actor=request.user,
        action="number.proof_exported",
        after={"number": mask(number), "full": full},
        ip_address=client_ip(request),
    )
    pdf = render_pdf(
        "compliance/pdf/consent_proof.html",
        {
            "tenant": tenant,
            "number": number,
            "full": full,
            "history": history,
            "status": selectors.consent_status(tenant=tenant, number=number),
            "generated_at": timezone.localtime(),
            "generated_by": request.user,
        },
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="consent-proof-{mask(number).replace("*", "x")}.pdf"'
    return response


# --- Suppression --------------------------------------------------------------------------


@tenant_view("compliance.view")
def suppression_list(request):
    tenant = request.tenant
    can_edit = role_allows(request.membership.role, "compliance.edit")
    add_form = SuppressionBulkForm(prefix="add")
    remove_form = SuppressionRemoveForm(prefix="remove")
    if request.method == "POST":
        if not can_edit:
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if "add-numbers" in request.POST:
            add_form = SuppressionBulkForm(request.POST, prefix="add")
            form, run = add_form, "add"
        else:
            remove_form = SuppressionRemoveForm(request.POST, prefix="remove")
            form, run = remove_form, "remove"
        if form.is_valid():
            try:
                if run == "add":
                    result = services.suppression_add_bulk(
                        tenant=tenant,
                        actor=request.user,
                        numbers=form.number_list(),
                        reason=form.cleaned_data["reason"],
                        scope=form.cleaned_data["scope"],
                        note=form.cleaned_data["note"],
                        ip_address=client_ip(request),
                    )
                    done = _("%(n)s numbers suppressed.") % {"n": result.count}
                else:
                    result = services.suppression_remove_bulk(
                        tenant=tenant,
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
                if result.unchanged:
                    messages.info(
                        request, _("%(n)s numbers were already in that state.") % {"n": len(result.unchanged)}
                    )
                return redirect("compliance:suppressions")
    queryset = selectors.suppression_list(
        tenant=tenant, active_only=request.GET.get("all") != "1", reason=request.GET.get("reason") or None
    )
    page = _page(request, queryset)
    _with_refs(tenant.pk, page.object_list)
    return render(
        request,
        "compliance/suppression_list.html",
        {"page": page, "add_form": add_form, "remove_form": remove_form, "can_edit": can_edit},
    )


# --- Complaints ---------------------------------------------------------------------------


@tenant_view("compliance.view")
def complaint_list(request):
    tenant = request.tenant
    rate = selectors.complaint_rates(tenant_ids=[tenant.pk])[tenant.pk]
    page = _page(request, selectors.complaint_list(tenant=tenant, status=request.GET.get("status") or None))
    _with_refs(tenant.pk, page.object_list)
    return render(
        request,
        "compliance/complaint_list.html",
        {
            "page": page,
            "rate": rate,
            "platform": PlatformComplianceSettings.load(),
            "tenant_settings": selectors.tenant_settings(tenant=tenant),
            "now": timezone.now(),
        },
    )


@tenant_view("compliance.edit")
def complaint_new(request):
    form = ComplaintForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            complaint = services.complaint_record(
                tenant=request.tenant,
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
            return redirect("compliance:complaint_detail", complaint.pk)
    return render(request, "compliance/complaint_new.html", {"form": form})


@tenant_view("compliance.view")
def complaint_detail(request, complaint_id: int):
    tenant = request.tenant
    complaint = Complaint.objects.for_tenant(tenant).filter(pk=complaint_id).first()
    if complaint is None:
        raise Http404
    form = ComplaintStepForm(request.POST or None)
    if request.method == "POST":
        if not role_allows(request.membership.role, "compliance.edit"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if form.is_valid():
            try:
                services.complaint_advance(
                    tenant=tenant,
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
                return redirect("compliance:complaint_detail", complaint.pk)
    complaint.ref_url = number_url(tenant.pk, complaint.number)
    return render(
        request, "compliance/complaint_detail.html", {"complaint": complaint, "form": form, "now": timezone.now()}
    )


# --- Settings -----------------------------------------------------------------------------


@tenant_view("tenant.manage")
def compliance_settings(request):
    tenant = request.tenant
    current = selectors.tenant_settings(tenant=tenant)
    platform = PlatformComplianceSettings.load()
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
                ip_address=client_ip(request),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Settings saved."))
            return redirect("compliance:settings")
    return render(
        request,
        "compliance/settings.html",
        {"form": form, "platform": platform, "current": current, "caps": selectors.effective_caps(tenant=tenant)},
    )


# --- Audit log ----------------------------------------------------------------------------


def audit_queryset(form: AuditFilterForm, *, tenant=None, all_tenants=False):
    data = form.cleaned_data if form.is_valid() else {}
    return selectors.audit_search(
        tenant=tenant,
        all_tenants=all_tenants,
        action=data.get("action", ""),
        actor=data.get("actor", ""),
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
    )


class _Echo:
    def write(self, value):
        return value


def audit_csv_response(queryset, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"  # so Excel opens the UTF-8 file with Chinese intact
        yield writer.writerow(
            ["time", "tenant", "actor", "action", "object_type", "object_id", "before", "after", "ip_address"]
        )
        for event in queryset.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    timezone.localtime(event.created_at).isoformat(),
                    event.tenant.slug if event.tenant_id else "",
                    event.actor_label,
                    event.action,
                    event.object_type,
                    event.object_id,
                    "" if event.before is None else _json(event.before),
                    "" if event.after is None else _json(event.after),
                    event.ip_address or "",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _json(value) -> str:
    import json

    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@tenant_view("audit.view")
def audit_log(request):
    form = AuditFilterForm(request.GET or None)
    page = _page(request, audit_queryset(form, tenant=request.tenant))
    return render(request, "compliance/audit_log.html", {"form": form, "page": page, "staff": False})


@tenant_view("audit.view")
def audit_export(request):
    form = AuditFilterForm(request.GET or None)
    audit_record(
        tenant=request.tenant,
        actor=request.user,
        action="audit.exported",
        after={k: str(v) for k, v in request.GET.items()},
        ip_address=client_ip(request),
    )
    return audit_csv_response(
        audit_queryset(form, tenant=request.tenant), f"audit-{request.tenant.slug}-{timezone.localdate()}.csv"
    )
