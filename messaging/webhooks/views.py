"""Portal pages for tenant status webhooks (permission `webhooks.manage`)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from messaging.webhooks import selectors, services
from messaging.webhooks.delivery import event_body
from messaging.webhooks.forms import EndpointForm, EventFilterForm
from messaging.webhooks.tasks import kick_delivery
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants.decorators import tenant_view


def _show_secret_once(request, secret: str) -> None:
    # Kept in the session for exactly one page view, so a reload does not show it again.
    request.session["webhook_new_secret"] = secret


@tenant_view("webhooks.manage")
def webhook_settings(request):
    endpoint = selectors.webhook_endpoint(tenant=request.tenant)
    initial = (
        {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active}
        if endpoint
        else {"events": ["message.delivered", "message.failed", "message.expired"], "is_active": True}
    )
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, new_secret = services.webhook_endpoint_save(
                tenant=request.tenant, actor=request.user, **form.cleaned_data
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            if new_secret:
                _show_secret_once(request, new_secret)
                messages.success(request, _("Webhook endpoint created. Copy the signing secret now."))
            else:
                messages.success(request, _("Webhook settings saved."))
            return redirect("messaging:webhooks")
    filter_form = EventFilterForm(request.GET or None)
    status = filter_form.cleaned_data["status"] if filter_form.is_valid() else ""
    page = Paginator(selectors.webhook_event_list(tenant=request.tenant, status=status), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "webhooks/settings.html",
        {
            "endpoint": endpoint,
            "form": form,
            "filter_form": filter_form,
            "page": page,
            "new_secret": request.session.pop("webhook_new_secret", None),
        },
    )


@tenant_view("webhooks.manage")
@require_POST
def webhook_secret_rotate(request):
    try:
        _endpoint, new_secret = services.webhook_secret_rotate(tenant=request.tenant, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        _show_secret_once(request, new_secret)
        messages.success(
            request, _("New secret created. The previous one keeps signing for 24 hours so you can switch over.")
        )
    return redirect("messaging:webhooks")


@tenant_view("webhooks.manage")
@require_POST
def webhook_rotation_finish(request):
    try:
        services.webhook_rotation_finish(tenant=request.tenant, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("The previous secret no longer signs deliveries."))
    return redirect("messaging:webhooks")


@tenant_view("webhooks.manage")
@require_POST
def webhook_test(request):
    try:
        services.webhook_test_send(tenant=request.tenant, actor=request.user)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        transaction.on_commit(kick_delivery)
        messages.success(request, _("Test event queued; it appears below in a moment."))
    return redirect("messaging:webhooks")


@tenant_view("webhooks.manage")
def webhook_event_detail(request, event_id: int):
    event = selectors.webhook_event_get(tenant=request.tenant, event_id=event_id)
    if event is None:
        raise Http404
    return render(
        request,
        "webhooks/event.html",
        {
            "event": event,
            "body": json.dumps(json.loads(event_body(event)), ensure_ascii=False, indent=2),
            "attempts": selectors.webhook_attempt_list(tenant=request.tenant, event=event),
        },
    )


@tenant_view("webhooks.manage")
@require_POST
def webhook_event_resend(request, event_id: int):
    try:
        services.webhook_event_resend(tenant=request.tenant, actor=request.user, event_id=event_id)
    except ServiceError:
        raise Http404 from None
    transaction.on_commit(kick_delivery)
    messages.success(request, _("Event queued for delivery again (same event id)."))
    return redirect("messaging:webhook_event", event_id=event_id)


@tenant_view("webhooks.manage")
@require_POST
def webhook_resend_failed(request):
    count = services.webhook_events_resend_failed(tenant=request.tenant, actor=request.user)
    if count:
        transaction.on_commit(kick_delivery)
        messages.success(request, _("%(count)s failed events queued for delivery again.") % {"count": count})
    else:
        messages.info(request, _("No failed events in the last 7 days."))
    return redirect("messaging:webhooks")
