"""Portal pages: signatures, enterprise verification, templates (editor with live counter and
live checks, versions, findings with one-click fixes, rich frames, phone preview)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from compliance.models import AuditEvent
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from templates import selectors, services
from templates.forms import (
    DomainsForm,
    FrameForm,
    ResubmitSignatureForm,
    SignatureForm,
    TemplateForm,
    VerificationForm,
    variable_formset,
    variables_from_formset,
)
from templates.models import MessageTemplate, SignatureDocument, TemplateFrame, TemplateVersion
from templates.rendering import render_preview
from tenants.decorators import tenant_view


def _not_found(error: ServiceError):
    if error.status == 404:
        raise Http404(error.message)


def _template_or_404(request, template_id) -> MessageTemplate:
    try:
        return selectors.template_get(tenant=request.tenant, template_id=template_id)
    except ServiceError as error:
        _not_found(error)
        raise


def _file_response(field_file, content_type: str, download_name: str):
    try:
        handle = field_file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404
    inline = content_type.startswith("image/")
    response = FileResponse(handle, content_type=content_type, as_attachment=not inline, filename=download_name)
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


# --- templates -------------------------------------------------------------------------------


@tenant_view("templates.view")
def template_list(request):
    templates = selectors.template_list(tenant=request.tenant)
    latest = {
        v.template_id: v
        for v in TemplateVersion.objects.for_tenant(request.tenant)
        .order_by("template_id", "-number")
        .distinct("template_id")
    }
    rows = [(t, latest.get(t.pk)) for t in templates]
    return render(
        request,
        "templates/template_list.html",
        {"rows": rows, "verification": selectors.verification_for(tenant=request.tenant)},
    )


def _editor_context(request, *, form, formset, template=None, version=None):
    signatures = list(selectors.signature_list(tenant=request.tenant))
    return {
        "form": form,
        "formset": formset,
        "template": template,
        "version": version,
        "signatures": signatures,
        "verification": selectors.verification_for(tenant=request.tenant),
    }


@tenant_view("templates.edit")
def template_create(request):
    signatures = list(selectors.signature_list(tenant=request.tenant))
    form = TemplateForm(request.POST or None, signatures=signatures)
    formset = variable_formset(request.POST or None)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            template = services.template_create(
                tenant=request.tenant,
                actor=request.user,
                name=data["name"],
                kind=data["kind"],
                signature_id=data["signature"],
                body=data["body"],
                variables=variables_from_formset(formset),
                is_rich=data["is_rich"],
                title=data["title"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Template saved as a draft. Submit it for review when it is ready."))
            return redirect("templates:detail", template.pk)
    if not signatures:
        messages.warning(request, _("Apply for a signature first: every template needs one."))
    return render(request, "templates/template_form.html", _editor_context(request, form=form, formset=formset))


@tenant_view("templates.edit")
def template_edit(request, template_id):
    template = _template_or_404(request, template_id)
    latest = selectors.template_latest_version(tenant=request.tenant, template=template)
    signatures = list(selectors.signature_list(tenant=request.tenant))
    initial = {"body": latest.body, "title": latest.title, "signature": template.signature_id}
    form = TemplateForm(request.POST or None, signatures=signatures, editing=True, initial=initial)
    formset = variable_formset(request.POST or None, variables=latest.variables)
    if template.is_rich:  # the text lives in the frames; only the title and signature are edited here
        form.fields["body"].widget = forms.HiddenInput()
    if latest.status in (TemplateVersion.Status.SUBMITTED, TemplateVersion.Status.PENDING_REVIEW):
        messages.warning(request, _("This template is under review; withdraw it before editing."))
        return redirect("templates:detail", template.pk)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        try:
            version = services.template_edit(
                tenant=request.tenant,
                actor=request.user,
                template=template,
                body=data["body"],
                variables=variables_from_formset(formset),
                title=data["title"],
                signature_id=data["signature"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Draft version %(n)s saved.") % {"n": version.number})
            return redirect("templates:detail", template.pk)
    context = _editor_context(request, form=form, formset=formset, template=template, version=latest)
    return render(request, "templates/template_form.html", context)


@tenant_view("templates.view")
def template_detail(request, template_id):
    template = _template_or_404(request, template_id)
    versions = list(selectors.template_versions(tenant=request.tenant, template=template))
    shown = versions[0] if versions else None
    requested = request.GET.get("version")
    if requested:
        shown = next((v for v in versions if str(v.number) == requested), shown)
    frames = list(TemplateFrame.objects.for_tenant(request.tenant).filter(version=shown)) if shown else []
    history = AuditEvent.objects.filter(
        tenant=request.tenant, object_type__in=["templates.TemplateVersion", "templates.MessageTemplate"]
    ).filter(object_id__in=[str(template.pk)] + [str(v.pk) for v in versions])[:30]
    counter = selectors.message_counter(
        tenant=request.tenant,
        kind=template.kind,
        body=shown.body if shown else "",
        signature_name=template.signature.name,
        variables=shown.variables if shown else [],
        is_rich=template.is_rich,
    )
    return render(
        request,
        "templates/template_detail.html",
        {
            "template": template,
            "versions": versions,
            "version": shown,
            "frames": frames,
            "history": history,
            "counter": counter,
            "preview": render_preview(
                version_body=shown.body if shown else "",
                variables=shown.variables if shown else [],
                signature_name=template.signature.name,
            ),
            "frame_form": FrameForm(),
        },
    )


def _post_action(request, template_id, action, success_message):
    template = _template_or_404(request, template_id)
    try:
        result = action(template)
    except ServiceError as error:
        _not_found(error)
        messages.error(request, error.message)
    else:
        message = success_message(result) if callable(success_message) else success_message
        if message:
            messages.success(request, message)
    return redirect("templates:detail", template.pk)


@tenant_view("templates.edit")
@require_POST
def template_submit(request, template_id):
    def submitted(version):
        if version.status == TemplateVersion.Status.PENDING_REVIEW:
            return _("Submitted: the automatic checks passed and a reviewer will look at it.")
        messages.error(request, _("The automatic checks found problems; fix them and submit again."))
        return None

    return _post_action(
        request,
        template_id,
        lambda t: services.template_submit(tenant=request.tenant, actor=request.user, template=t),
        submitted,
    )


@tenant_view("templates.edit")
@require_POST
def template_withdraw(request, template_id):
    return _post_action(
        request,
        template_id,
        lambda t: services.template_withdraw(tenant=request.tenant, actor=request.user, template=t),
        _("Withdrawn from review; it is a draft again."),
    )


@tenant_view("templates.edit")
@require_POST
def template_apply_fix(request, template_id):
    """One click: apply a finding's suggested fix to the draft."""
    rule_id = request.POST.get("rule", "")

    def apply(template):
        draft = selectors.template_open_version(tenant=request.tenant, template=template)
        if draft is None or draft.status != TemplateVersion.Status.DRAFT:
            raise ServiceError("no_draft", _("There is no draft to change."))
        finding = next((f for f in draft.findings if f.get("rule") == rule_id and f.get("fix")), None)
        if finding is None:
            raise ServiceError("no_fix", _("This finding has no automatic fix any more."))
        fix = finding["fix"]
        return services.template_edit(
            tenant=request.tenant,
            actor=request.user,
            template=template,
            body=None if template.is_rich else fix["body"],
            variables=fix.get("variables"),
        )

    return _post_action(request, template_id, apply, _("Fix applied. Submit again when ready."))


@tenant_view("templates.edit")
@require_POST
def template_delete(request, template_id):
    template = _template_or_404(request, template_id)
    try:
        services.template_delete(tenant=request.tenant, actor=request.user, template=template)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("templates:detail", template.pk)
    messages.success(request, _("Template deleted."))
    return redirect("templates:list")


@tenant_view("templates.edit")
@require_POST
def frame_add(request, template_id):
    template = _template_or_404(request, template_id)
    form = FrameForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.frame_add(
                tenant=request.tenant,
                actor=request.user,
                template=template,
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                image=form.cleaned_data["image"],
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Frame added."))
    else:
        messages.error(request, _("Check the frame."))
    return redirect("templates:detail", template.pk)


@tenant_view("templates.edit")
@require_POST
def frame_change(request, template_id, position):
    template = _template_or_404(request, template_id)
    operation = request.POST.get("op")
    try:
        if operation == "remove":
            services.frame_remove(tenant=request.tenant, actor=request.user, template=template, position=position)
        elif operation in ("up", "down"):
            services.frame_move(
                tenant=request.tenant, actor=request.user, template=template, position=position, up=operation == "up"
            )
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("templates:detail", template.pk)


@tenant_view("templates.view")
def frame_image(request, frame_id):
    frame = TemplateFrame.objects.for_tenant(request.tenant).filter(pk=frame_id, kind="image").first()
    if frame is None:
        raise Http404
    return _file_response(frame.image, frame.content_type, f"frame-{frame.pk}")


# --- live counter and live checks (htmx) -------------------------------------------------------


def _variables_from_post(request) -> list[dict]:
    formset = variable_formset(request.POST)
    if not formset.is_valid():
        return [
            {k: f.cleaned_data.get(k) for k in ("name", "type", "max_length", "example")}
            for f in formset.forms
            if getattr(f, "cleaned_data", None) and f.cleaned_data.get("name")
        ]
    return variables_from_formset(formset)


def _signature_name(request) -> str:
    try:
        return selectors.signature_get(tenant=request.tenant, signature_id=request.POST.get("signature")).name
    except ServiceError:
        return ""


@tenant_view("templates.view")
@require_POST
def counter(request):
    kind = request.POST.get("kind") or "notification"
    template_id = request.POST.get("template")
    is_rich = request.POST.get("is_rich") in ("on", "true", "1")
    if template_id:  # editing: kind and richness are the template's
        template = _template_or_404(request, template_id)
        kind, is_rich = template.kind, template.is_rich
    result = selectors.message_counter(
        tenant=request.tenant,
        kind=kind,
        body=request.POST.get("body", ""),
        signature_name=_signature_name(request),
        variables=_variables_from_post(request),
        is_rich=is_rich,
    )
    return render(request, "templates/_counter.html", {"counter": result})


@tenant_view("templates.view")
@require_POST
def live_check(request):
    kind = request.POST.get("kind") or "notification"
    template_id = request.POST.get("template")
    if template_id:
        kind = _template_or_404(request, template_id).kind
    body = request.POST.get("body", "")
    findings = (
        services.run_checks(
            tenant=request.tenant,
            kind=kind,
            body=body,
            variables=_variables_from_post(request),
            signature_name=_signature_name(request),
        )
        if body.strip()
        else []
    )
    return render(
        request, "templates/_findings.html", {"findings": findings, "body": body, "live": True, "lang": get_language()}
    )


# --- signatures -------------------------------------------------------------------------------


@tenant_view("templates.view")
def signature_list(request):
    form = SignatureForm(request.POST or None, request.FILES or None)
    if request.method == "POST":
        from tenants.roles import role_allows

        if not role_allows(request.membership.role, "templates.edit"):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        if form.is_valid():
            data = form.cleaned_data
            try:
                signature = services.signature_apply(
                    tenant=request.tenant,
                    actor=request.user,
                    name=data["name"],
                    kind=data["kind"],
                    third_party=data["third_party"],
                    proofs=data["proofs"],
                    authorisation=data["authorisation"],
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Signature 【%(name)s】 submitted for review.") % {"name": signature.name})
                return redirect("templates:signatures")
    signatures = selectors.signature_list(tenant=request.tenant).prefetch_related("documents")
    return render(
        request,
        "templates/signatures.html",
        {"form": form, "signatures": signatures, "resubmit_form": ResubmitSignatureForm()},
    )


@tenant_view("templates.edit")
@require_POST
def signature_resubmit(request, signature_id):
    try:
        signature = selectors.signature_get(tenant=request.tenant, signature_id=signature_id)
    except ServiceError as error:
        _not_found(error)
        raise
    form = ResubmitSignatureForm(request.POST, request.FILES)
    form.is_valid()
    try:
        services.signature_resubmit(
            tenant=request.tenant,
            actor=request.user,
            signature=signature,
            proofs=form.cleaned_data.get("proofs") or [],
            authorisation=form.cleaned_data.get("authorisation"),
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Signature resubmitted for review."))
    return redirect("templates:signatures")


@tenant_view("templates.edit")
@require_POST
def signature_delete(request, signature_id):
    try:
        signature = selectors.signature_get(tenant=request.tenant, signature_id=signature_id)
    except ServiceError as error:
        _not_found(error)
        raise
    try:
        services.signature_delete(tenant=request.tenant, actor=request.user, signature=signature)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Signature deleted."))
    return redirect("templates:signatures")


@tenant_view("templates.view")
def signature_document(request, document_id):
    document = SignatureDocument.objects.for_tenant(request.tenant).filter(pk=document_id).first()
    if document is None:
        raise Http404
    return _file_response(document.file, document.content_type, document.original_name)


# --- enterprise verification ------------------------------------------------------------------


@tenant_view("templates.view")
def verification(request):
    current = selectors.verification_for(tenant=request.tenant)
    initial = {}
    if current:
        initial = {
            "company_name": current.company_name,
            "credit_code": current.credit_code,
            "registered_domains": current.registered_domains,
        }
    form = VerificationForm(request.POST or None, request.FILES or None, initial=initial)
    domains_form = DomainsForm(initial={"registered_domains": current.registered_domains if current else ""})
    if request.method == "POST":
        from django.core.exceptions import PermissionDenied

        from tenants.roles import role_allows

        if not role_allows(request.membership.role, "tenant.manage"):
            raise PermissionDenied
        if request.POST.get("action") == "domains":
            domains_form = DomainsForm(request.POST)
            if domains_form.is_valid():
                try:
                    services.verification_update_domains(
                        tenant=request.tenant,
                        actor=request.user,
                        registered_domains=domains_form.cleaned_data["registered_domains"],
                    )
                except ServiceError as error:
                    add_service_error(domains_form, error)
                else:
                    messages.success(request, _("Domains saved."))
                    return redirect("templates:verification")
        elif form.is_valid():
            data = form.cleaned_data
            try:
                services.verification_submit(
                    tenant=request.tenant,
                    actor=request.user,
                    company_name=data["company_name"],
                    credit_code=data["credit_code"],
                    licence=data["licence"],
                    registered_domains=data["registered_domains"],
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Verification submitted for review."))
                return redirect("templates:verification")
    return render(
        request,
        "templates/verification.html",
        {"verification": current, "form": form, "domains_form": domains_form},
    )


@tenant_view("templates.view")
def verification_licence(request):
    current = selectors.verification_for(tenant=request.tenant)
    if current is None or not current.licence:
        raise Http404
    return _file_response(current.licence, current.licence_content_type, current.licence_name or "licence")
