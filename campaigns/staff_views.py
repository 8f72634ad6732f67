"""Platform staff pages for campaigns: every tenant's running, scheduled and paused
campaigns, and an emergency pause (the tenant's own pause service, audited with the staff
member's name; the tenant resumes when ready)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from campaigns import selectors
from campaigns.models import Campaign
from campaigns.services import campaign_pause
from smsportal.errors import ServiceError
from tenants.decorators import staff_view


@staff_view
def campaign_board(request):
    state = request.GET.get("state", "")
    states = (state,) if state in selectors.STAFF_STATES else selectors.STAFF_STATES
    return render(
        request,
        "campaigns/staff_board.html",
        {
            "rows": selectors.staff_campaign_board(states=states),
            "state": state if state in selectors.STAFF_STATES else "",
            "states": [(value, Campaign.Status(value).label) for value in selectors.STAFF_STATES],
            "limit": selectors.STAFF_BOARD_LIMIT,
        },
    )


@staff_view
@require_POST
def campaign_pause_now(request, campaign_id: int):
    # Staff act across tenants: the campaign's own tenant is the one the service works in.
    campaign = Campaign.objects.select_related("tenant").filter(pk=campaign_id).first()
    if campaign is None:
        raise Http404
    try:
        campaign_pause(tenant=campaign.tenant, actor=request.user, campaign=campaign)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("“%(name)s” of %(tenant)s is paused. The enterprise can resume it.")
            % {"name": campaign.name, "tenant": campaign.tenant.name},
        )
    return redirect("campaigns_staff:board")
