"""Portal pages: message log, a message's timeline, send a test message, inbound inbox."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from messaging import selectors, services
from messaging.forms import MessageFilterForm, TestSendForm
from smsportal.enums import FINAL_STATUSES
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from smsportal.numbers import mask
from tenants.decorators import tenant_view
from tenants.roles import role_allows

PAGE = 50


def _full_numbers(request) -> bool:
    """Unmasked numbers only for roles allowed to, only on request, and audit-logged."""
    return request.GET.get("full") == "1" and role_allows(request.membership.role, "numbers.view_full")


@tenant_view("messages.view")
def message_log(request):
    form = MessageFilterForm(request.GET or None)
    filters = selectors.MessageFilters.from_params(request.GET, tenant=request.tenant)
    queryset = selectors.message_list(tenant=request.tenant, filters=filters)
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    full = _full_numbers(request)
    if full:
        audit_record(
            tenant=request.tenant,
            actor=request.user,
            action="messages.viewed_full_numbers",
            after={"count": len(rows)},
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    for row in rows:
        row.shown_number = row.number if full else mask(row.number)
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "messaging/message_log.html",
        {
            "form": form,
            "rows": rows,
            "more": more,
            "next_before": rows[-1].pk if rows else None,
            "query": query.urlencode(),
            "full": full,
            "can_full": role_allows(request.membership.role, "numbers.view_full"),
            "filter_errors": filters.errors,
        },
    )


def _message_or_404(request, message_id):
    try:
        return selectors.message_get(tenant=request.tenant, message_id=message_id)
    except ServiceError:
        raise Http404 from None


@tenant_view("messages.view")
def message_detail(request, message_id: int):
    message = _message_or_404(request, message_id)
    context = {
        "message": message,
        "shown_number": message.number if _full_numbers(request) else mask(message.number),
        "steps": selectors.message_timeline(tenant=request.tenant, message=message),
        "final": message.status in FINAL_STATUSES,
    }
    template = "messaging/_timeline.html" if request.headers.get("HX-Request") else "messaging/message_detail.html"
    return render(request, template, context)


@tenant_view("messages.send")
def send_test(request):
    from templates.selectors import template_list

    templates = [t for t in template_list(tenant=request.tenant) if t.approved_version_id and not t.is_rich]
    chosen = request.POST.get("template") or request.GET.get("template")
    variables = []
    for template in templates:
        if str(template.pk) == str(chosen):
            variables = template.approved_version.variables or []
    if request.method == "POST":
        form = TestSendForm(request.POST, templates=templates, variables=variables)
        if form.is_valid():
            try:
                result = services.message_send_test(
                    tenant=request.tenant,
                    actor=request.user,
                    template_id=form.cleaned_data["template"],
                    number=form.cleaned_data["number"],
                    variables=form.variables(),
                )
            except ServiceError as error:
                if error.fields:
                    error.fields = {
                        (f"var_{k}" if f"var_{k}" in form.fields else k): v for k, v in error.fields.items()
                    }
                add_service_error(form, error)
            else:
                if result.status == "queued":
                    flash.success(request, _("Test message queued."))
                else:
                    flash.error(request, _("The number was refused: %(reason)s") % {"reason": result.detail})
                return redirect("messaging:message", message_id=result.message_id)
    else:
        form = TestSendForm(initial={"template": chosen}, templates=templates, variables=variables)
    return render(request, "messaging/send_test.html", {"form": form, "templates": templates})


@tenant_view("messages.view")
def inbox(request):
    queryset = selectors.inbound_list(tenant=request.tenant)
    before = request.GET.get("before", "")
    if before.isdigit():
        queryset = queryset.filter(pk__lt=int(before))
    rows = list(queryset[: PAGE + 1])
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    for row in rows:
        row.shown_number = mask(row.number)
    return render(
        request,
        "messaging/inbox.html",
        {
            "rows": rows,
            "more": more,
            "next_before": rows[-1].pk if rows else None,
        },
    )
