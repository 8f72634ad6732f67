"""The reviewers' area: the queue (oldest first, timed against the 2-working-hour target),
a case page with findings, history and the tenant's past decisions, one-click decisions."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from compliance.models import AuditEvent
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from templates import selectors, services
from templates.forms import PlatformWordForm, RejectForm, SensitiveWordsForm
from templates.models import PlatformSensitiveWord, ReviewCase, SignatureDocument, TemplateFrame, TenantVerification
from templates.rendering import render_preview
from templates.views import _file_response
from templates.worktime import TARGET_WORKING_HOURS, working_time_between
from tenants.decorators import staff_view


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR")


def _timing(case: ReviewCase, now) -> dict:
    waited = working_time_between(case.queued_at, case.decided_at or now)
    minutes = int(waited.total_seconds() // 60)
    return {
        "waited_minutes": minutes,
        "waited": f"{minutes // 60}:{minutes % 60:02d}",
        "overdue": (case.decided_at or now) > case.due_at,
        "calendar_waited": (case.decided_at or now) - case.queued_at,
    }


def _case_or_404(case_id) -> ReviewCase:
    try:
        return selectors.review_case_get(case_id=case_id)
    except ServiceError:
        raise Http404


@staff_view
def queue(request):
    now = timezone.now()
    cases = list(selectors.review_queue())
    subject = request.GET.get("subject")
    if subject in ReviewCase.Subject.values:
        cases = [c for c in cases if c.subject == subject]
    rows = [(case, _timing(case, now)) for case in cases]
    return render(
        request,
        "templates/staff/queue.html",
        {
            "rows": rows,
            "target_hours": TARGET_WORKING_HOURS,
            "overdue": sum(1 for _case, t in rows if t["overdue"]),
            "reject_form": RejectForm(),
            "subject": subject,
            "subjects": ReviewCase.Subject.choices,
        },
    )


@staff_view
def case_detail(request, case_id, reject_form=None):
    case = _case_or_404(case_id)
    context = {
        "case": case,
        "timing": _timing(case, timezone.now()),
        "target_hours": TARGET_WORKING_HOURS,
        "reject_form": reject_form or RejectForm(),
        "past": selectors.tenant_past_decisions(tenant=case.tenant, exclude_id=case.pk),
        "verification": TenantVerification.objects.filter(tenant=case.tenant).first(),
    }
    objects: list[tuple[str, str]] = []
    if case.template_version_id:
        version = case.template_version
        template = version.template
        context.update(
            version=version,
            template=template,
            frames=list(TemplateFrame.objects.filter(version=version).order_by("position")),
            previous=list(template.versions.exclude(pk=version.pk).order_by("-number")[:10]),
            preview=render_preview(
                version_body=version.body, variables=version.variables, signature_name=template.signature.name
            ),
            counter=selectors.message_counter(
                tenant=case.tenant,
                kind=template.kind,
                body=version.body,
                signature_name=template.signature.name,
                variables=version.variables,
                is_rich=template.is_rich,
            ),
        )
        objects += [("templates.TemplateVersion", str(v.pk)) for v in template.versions.all()]
        objects.append(("templates.MessageTemplate", str(template.pk)))
    if case.signature_id:
        context["documents"] = list(SignatureDocument.objects.filter(signature=case.signature))
        objects.append(("templates.Signature", str(case.signature_id)))
    if case.verification_id:
        objects.append(("templates.TenantVerification", str(case.verification_id)))
        context["words_form"] = SensitiveWordsForm(initial={"words": case.verification.extra_sensitive_words})
    history = AuditEvent.objects.none()
    for object_type, object_id in objects:
        history = history | AuditEvent.objects.filter(tenant=case.tenant, object_type=object_type, object_id=object_id)
    context["history"] = history.order_by("-created_at", "-id")[:40]
    return render(request, "templates/staff/case.html", context)


@staff_view
@require_POST
def case_approve(request, case_id):
    case = _case_or_404(case_id)
    try:
        services.review_approve(
            actor=request.user,
            case_id=case.pk,
            marketing_allowed=request.POST.get("marketing_allowed", "on") == "on",
            ip_address=_client_ip(request),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("templates_staff:case", case.pk)
    messages.success(request, _("Approved."))
    return redirect("templates_staff:queue")


@staff_view
@require_POST
def case_reject(request, case_id):
    case = _case_or_404(case_id)
    form = RejectForm(request.POST)
    if form.is_valid():
        try:
            services.review_reject(
                actor=request.user,
                case_id=case.pk,
                reason_code=form.cleaned_data["reason_code"],
                reason_text=form.cleaned_data["reason_text"],
                ip_address=_client_ip(request),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Rejected; the tenant has been told why."))
            return redirect("templates_staff:queue")
    response = case_detail.__wrapped__(request, case_id, reject_form=form)
    response.status_code = 400
    return response


@staff_view
@require_POST
def tenant_words(request, case_id):
    case = _case_or_404(case_id)
    form = SensitiveWordsForm(request.POST)
    if form.is_valid():
        services.tenant_sensitive_words_set(tenant=case.tenant, actor=request.user, words=form.cleaned_data["words"])
        messages.success(request, _("Sensitive words saved."))
    return redirect("templates_staff:case", case.pk)


@staff_view
def document(request, document_id):
    item = SignatureDocument.objects.filter(pk=document_id).first()
    if item is None:
        raise Http404
    return _file_response(item.file, item.content_type, item.original_name)


@staff_view
def licence(request, verification_id):
    item = TenantVerification.objects.filter(pk=verification_id).first()
    if item is None or not item.licence:
        raise Http404
    return _file_response(item.licence, item.licence_content_type, item.licence_name or "licence")


@staff_view
def frame_image(request, frame_id):
    frame = TemplateFrame.objects.filter(pk=frame_id, kind="image").first()
    if frame is None:
        raise Http404
    return _file_response(frame.image, frame.content_type, f"frame-{frame.pk}")


@staff_view
def platform_words(request):
    from compliance.rules.wordlists import PLATFORM_SENSITIVE_WORDS

    form = PlatformWordForm(request.POST or None)
    if request.method == "POST":
        try:
            if "remove" in request.POST:
                services.platform_word_remove(actor=request.user, word_id=request.POST["remove"])
                messages.success(request, _("Word removed."))
                return redirect("templates_staff:words_platform")
            if form.is_valid():
                services.platform_word_add(actor=request.user, word=form.cleaned_data["word"])
                messages.success(request, _("Word added."))
                return redirect("templates_staff:words_platform")
        except ServiceError as error:
            add_service_error(form, error)
    return render(
        request,
        "templates/staff/words.html",
        {"form": form, "added": PlatformSensitiveWord.objects.all(), "built_in": PLATFORM_SENSITIVE_WORDS},
    )
