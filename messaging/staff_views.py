"""Staff pages: channels (create, edit, enable/disable, breaker reset, pins) and routing."""

from __future__ import annotations

from django.contrib import messages as flash
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from messaging import selectors, services
from messaging.adapters.base import mask_secrets
from messaging.dispatch import Claimed
from messaging.forms import ChannelForm
from messaging.routing import Router
from smsportal.enums import Carrier, MessageClass
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants.decorators import staff_view


def _channel_or_404(channel_id):
    try:
        return selectors.channel_get(channel_id)
    except ServiceError:
        raise Http404 from None


@staff_view
def channel_list(request):
    counts = selectors.channel_recent_counts()
    channels = list(selectors.channel_list())
    for channel in channels:
        channel.recent = counts.get(channel.pk, {})
    return render(
        request,
        "messaging/staff/channels.html",
        {
            "channels": channels,
            "backlog": selectors.lane_backlog(),
        },
    )


def _save(request, channel=None):
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.channel_save(
                actor=request.user,
                channel=channel,
                values=form.values(),
                settings=form.cleaned_data["settings_json"],
                ip_address=request.META.get("REMOTE_ADDR"),
            )
            services.channel_pins_set(actor=request.user, channel=saved, tenants=form.cleaned_data["pinned"])
        except ServiceError as error:
            add_service_error(form, error)
        else:
            flash.success(request, _("Channel saved."))
            return redirect("messaging_staff:channel", channel_id=saved.pk)
    return render(
        request,
        "messaging/staff/channel_form.html",
        {
            "form": form,
            "channel": channel,
            "masked_settings": mask_secrets(channel.settings) if channel else {},
        },
    )


@staff_view
def channel_create(request):
    return _save(request)


@staff_view
def channel_edit(request, channel_id: int):
    return _save(request, _channel_or_404(channel_id))


@staff_view
@require_POST
def channel_toggle(request, channel_id: int):
    channel = _channel_or_404(channel_id)
    services.channel_set_enabled(
        actor=request.user, channel=channel, enabled=not channel.enabled, ip_address=request.META.get("REMOTE_ADDR")
    )
    flash.success(
        request, _("Channel enabled.") if channel.enabled else _("Channel disabled; traffic moves to the others.")
    )
    return redirect("messaging_staff:channels")


@staff_view
@require_POST
def channel_breaker_reset(request, channel_id: int):
    channel = _channel_or_404(channel_id)
    services.channel_breaker_reset(actor=request.user, channel=channel, ip_address=request.META.get("REMOTE_ADDR"))
    flash.success(request, _("Breaker closed."))
    return redirect("messaging_staff:channels")


@staff_view
def routing(request):
    """Where traffic would go now, per carrier and class: each candidate's share of 1,000 draws."""
    router = Router()
    rows = []
    for carrier in [c for c in Carrier.values if c != Carrier.UNKNOWN]:
        for message_class in MessageClass.values:
            picks: dict[str, int] = {}
            reason = ""
            for i in range(1000):
                probe = Claimed(i, 0, "", carrier, "", message_class, "", 1, [], 1, 0)
                choice = router.choose(probe)
                name = choice.channel.name if choice.channel else "—"
                picks[name] = picks.get(name, 0) + 1
                reason = reason or choice.reason
            shares = sorted(((name, count / 10) for name, count in picks.items()), key=lambda x: -x[1])
            rows.append(
                {
                    "carrier": Carrier(carrier).label,
                    "class": MessageClass(message_class).label,
                    "shares": shares,
                    "reason": reason,
                }
            )
    return render(request, "messaging/staff/routing.html", {"rows": rows})
