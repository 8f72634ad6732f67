"""Staff page: SMPP messages under review (outcome uncertain after a dropped connection or a
connector crash: not resent automatically), with filters and the operator's decision."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages as flash
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from smsportal.errors import ServiceError
from smsportal.numbers import mask
from tenants.decorators import staff_view

from . import selectors, services
from .forms import ReviewFilterForm, ReviewResolveForm

PAGE_SIZE = 100


@staff_view
def reviews(request):
    filters = ReviewFilterForm(request.GET or None)
    chosen = filters.filters()
    page = Paginator(selectors.review_list(**chosen), PAGE_SIZE).get_page(request.GET.get("page"))
    for review in page.object_list:
        review.shown_number = mask(review.message.number)
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(
        request,
        "smpp/reviews.html",
        {
            "filters": filters,
            "page": page,
            "state": chosen["state"],
            "counts": selectors.review_counts(),
            "resolve_form": ReviewResolveForm(),
            "query": urlencode(query),
        },
    )


@staff_view
@require_POST
def reviews_resolve(request):
    form = ReviewResolveForm(request.POST)
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}) or not back.startswith("/"):
        back = ""
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                flash.error(request, error)
        return redirect(back or "messaging_staff:smpp_reviews")
    try:
        counts = services.reviews_resolve(
            actor=request.user,
            review_ids=form.cleaned_data["review"],
            action=form.cleaned_data["action"],
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
            ip_address=request.META.get("REMOTE_ADDR"),
        )
    except ServiceError as error:
        flash.error(request, error.message)
    else:
        done = sum(counts.values()) - counts["settled"]
        flash.success(
            request,
            _("%(done)s resolved; %(settled)s had already settled by receipt or expiry.")
            % {"done": done, "settled": counts["settled"]},
        )
    return redirect(back or "messaging_staff:smpp_reviews")
