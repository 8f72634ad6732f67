"""Staff pages: channel health, incidents, and the HTTP providers' raw-code mapping."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from messaging.adapters.http import DEFAULT_RECEIPT_CODES, DEFAULT_SUBMIT_CODES
from messaging.models import Channel
from messaging.watch import selectors, services
from messaging.watch.forms import CodeMappingForm, ResolveForm
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants.decorators import staff_view


@staff_view
def health(request):
    context = selectors.health_overview()
    template = "watch/_health_body.html" if request.htmx else "watch/health.html"
    return render(request, template, context)


@staff_view
@require_POST
def run_now(request):
    report = services.watch_run()
    messages.success(
        request,
        _("Checks done: %(opened)s incidents opened, %(resolved)s resolved.")
        % {"opened": len(report.opened), "resolved": len(report.resolved)},
    )
    return redirect("messaging_staff:health")


@staff_view
def incidents(request):
    status = "all" if request.GET.get("status") == "all" else "open"
    return render(
        request,
        "watch/incidents.html",
        {
            "incidents": selectors.incident_list(status=status)[:200],
            "status": status,
            "stats": selectors.acknowledgement_stats(),
            "now": timezone.now(),
            "ack_target": selectors.ACK_TARGET,
            "resolve_form": ResolveForm(),
        },
    )


@staff_view
@require_POST
def incident_acknowledge(request, incident_id: int):
    try:
        services.incident_acknowledge(actor=request.user, incident_id=incident_id)
    except ServiceError as error:
        if error.status == 404:
            from django.http import Http404

            raise Http404 from None
        messages.error(request, error.message)
    else:
        messages.success(request, _("Incident acknowledged."))
    return redirect("messaging_staff:incidents")


@staff_view
@require_POST
def incident_resolve(request, incident_id: int):
    form = ResolveForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        services.incident_resolve(actor=request.user, incident_id=incident_id, note=note)
    except ServiceError as error:
        if error.status == 404:
            from django.http import Http404

            raise Http404 from None
        messages.error(request, error.message)
    else:
        messages.success(request, _("Incident resolved."))
    return redirect("messaging_staff:incidents")


@staff_view
def channel_codes(request, channel_id: int):
    channel = get_object_or_404(Channel, pk=channel_id)
    form = CodeMappingForm(request.POST or None, initial={"scope": request.GET.get("scope", "receipt")})
    if request.GET.get("code"):
        form = CodeMappingForm(initial={"scope": "receipt", "code": request.GET["code"], "outcome": "failed"})
    if request.method == "POST" and form.is_valid():
        try:
            services.code_mapping_save(actor=request.user, channel=channel, **form.cleaned_data)
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Mapping saved."))
            return redirect("messaging_staff:channel_codes", channel_id=channel.pk)
    return render(
        request,
        "watch/codes.html",
        {
            "channel": channel,
            "form": form,
            "mappings": selectors.code_mappings(channel=channel),
            "unmapped": selectors.unmapped_receipt_codes(channel=channel),
            "defaults_submit": sorted(DEFAULT_SUBMIT_CODES.items()),
            "defaults_receipt": sorted(DEFAULT_RECEIPT_CODES.items()),
        },
    )


@staff_view
@require_POST
def channel_code_delete(request, channel_id: int, mapping_id: int):
    channel = get_object_or_404(Channel, pk=channel_id)
    if not selectors.code_mappings(channel=channel).filter(pk=mapping_id).exists():
        from django.http import Http404

        raise Http404
    services.code_mapping_delete(actor=request.user, mapping_id=mapping_id)
    messages.success(request, _("Mapping removed; the default applies again."))
    return redirect("messaging_staff:channel_codes", channel_id=channel.pk)
