"""Portal pages: contact lists (upload with a live progress bar), campaigns (build, review,
start, live progress), quiet-hours settings, and the public short-link redirect."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.db import connection
from django.db.models import F
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from campaigns import selectors, services
from campaigns.forms import CampaignForm, SettingsForm, TestSendForm, UploadForm
from campaigns.models import Campaign, CampaignRecipient, LinkClick
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from smsportal.numbers import mask
from tenants.decorators import tenant_view


def _get_or_404(getter, **kwargs):
    try:
        return getter(**kwargs)
    except ServiceError:
        raise Http404 from None


# --- Contact lists ------------------------------------------------------------------------
@tenant_view("contacts.view")
def list_index(request):
    form = UploadForm(tenant=request.tenant)
    lists = selectors.contact_lists(tenant=request.tenant)
    return render(request, "campaigns/list_index.html", {"lists": lists, "form": form})


@tenant_view("contacts.edit")
@require_POST
def list_upload(request):
    form = UploadForm(request.POST, request.FILES, tenant=request.tenant)
    if form.is_valid():
        try:
            contact_import = services.contact_import_start(
                tenant=request.tenant,
                actor=request.user,
                upload=form.cleaned_data["file"],
                contact_list=form.cleaned_data["contact_list"],
                new_list_name=form.cleaned_data["new_list_name"],
                number_column=form.cleaned_data["number_column"].strip(),
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            return redirect("campaigns:import_detail", import_id=contact_import.pk)
    lists = selectors.contact_lists(tenant=request.tenant)
    return render(request, "campaigns/list_index.html", {"lists": lists, "form": form}, status=422)


@tenant_view("contacts.view")
def list_detail(request, list_id):
    contact_list = _get_or_404(selectors.contact_list_get, tenant=request.tenant, list_id=list_id)
    facets = selectors.audience_facets(tenant=request.tenant, list_ids=[contact_list.pk])
    sample = list(contact_list.contacts.filter(tenant=request.tenant).order_by("id")[:20])
    for contact in sample:
        contact.masked = mask(contact.number)
    form = UploadForm(tenant=request.tenant, initial={"contact_list": contact_list.pk})
    return render(
        request,
        "campaigns/list_detail.html",
        {
            "contact_list": contact_list,
            "facets": facets,
            "sample": sample,
            "imports": contact_list.imports.filter(tenant=request.tenant)[:10],
            "form": form,
        },
    )


@tenant_view("contacts.edit")
@require_POST
def list_delete(request, list_id):
    contact_list = _get_or_404(selectors.contact_list_get, tenant=request.tenant, list_id=list_id)
    try:
        services.contact_list_delete(tenant=request.tenant, actor=request.user, contact_list=contact_list)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("campaigns:list_detail", list_id=contact_list.pk)
    messages.success(request, _("List deleted."))
    return redirect("campaigns:lists")


@tenant_view("contacts.view")
def import_detail(request, import_id):
    contact_import = _get_or_404(selectors.contact_import_get, tenant=request.tenant, import_id=import_id)
    return render(request, "campaigns/import_detail.html", {"imp": contact_import})


@tenant_view("contacts.view")
@require_GET
def import_progress(request, import_id):
    contact_import = _get_or_404(selectors.contact_import_get, tenant=request.tenant, import_id=import_id)
    return render(request, "campaigns/_import_progress.html", {"imp": contact_import})


class _Echo:
    def write(self, value):
        return value


@tenant_view("contacts.view")
def import_rejections_csv(request, import_id):
    contact_import = _get_or_404(selectors.contact_import_get, tenant=request.tenant, import_id=import_id)
    from smsportal.numbers import INVALID_REASONS

    writer = csv.writer(_Echo())

    def rows():
        yield "\ufeff"  # so Excel opens the UTF-8 file correctly
        yield writer.writerow([_("row"), _("value"), _("reason")])
        for rejection in contact_import.rejections.filter(tenant=request.tenant).iterator(chunk_size=5000):
            reason = str(INVALID_REASONS.get(rejection.reason, rejection.reason))
            yield writer.writerow([rejection.row_number, rejection.raw_number, reason])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="invalid-rows-{contact_import.pk}.csv"'
    return response


# --- Campaigns ----------------------------------------------------------------------------
def _campaign_form(request, data=None, initial=None):
    from templates.models import MessageTemplate

    templates = MessageTemplate.objects.for_tenant(request.tenant).filter(approved_version__isnull=False)
    lists = selectors.contact_lists(tenant=request.tenant)
    return CampaignForm(data, tenant=request.tenant, templates=templates, lists=lists, initial=initial)


@tenant_view("campaigns.view")
def campaign_index(request):
    return render(request, "campaigns/campaign_index.html", {"campaigns": selectors.campaigns(tenant=request.tenant)})


@tenant_view("campaigns.edit")
def campaign_new(request):
    if request.method == "POST":
        form = _campaign_form(request, request.POST)
        if form.is_valid():
            try:
                campaign = services.campaign_save(tenant=request.tenant, actor=request.user, **form.service_kwargs())
            except ServiceError as error:
                add_service_error(form, error)
            else:
                return redirect("campaigns:review", campaign_id=campaign.pk)
    else:
        form = _campaign_form(request)
    best = selectors.best_send_hour(tenant=request.tenant)
    return render(request, "campaigns/campaign_form.html", {"form": form, "best": best, "campaign": None})


@tenant_view("campaigns.edit")
def campaign_edit(request, campaign_id):
    campaign = _get_or_404(selectors.campaign_get, tenant=request.tenant, campaign_id=campaign_id)
    if not campaign.is_editable:
        return redirect("campaigns:detail", campaign_id=campaign.pk)
    if request.method == "POST":
        form = _campaign_form(request, request.POST)
        if form.is_valid():
            try:
                services.campaign_save(
                    tenant=request.tenant, actor=request.user, campaign=campaign, **form.service_kwargs()
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                return redirect("campaigns:review", campaign_id=campaign.pk)
    else:
        form = _campaign_form(request, initial=CampaignForm.initial_for(campaign))
    best = selectors.best_send_hour(tenant=request.tenant)
    return render(request, "campaigns/campaign_form.html", {"form": form, "best": best, "campaign": campaign})


@tenant_view("campaigns.edit")
@require_GET
def audience_size(request):
    from campaigns.selectors import Audience

    form = _campaign_form(request, request.GET)
    form.is_valid()
    data = form.cleaned_data
    try:
        audience = Audience(
            list_ids=[
                cl.pk for cl in selectors.contact_lists(tenant=request.tenant).filter(pk__in=data.get("list_ids") or [])
            ],
            carriers=data.get("carriers") or [],
            provinces=data.get("provinces") or [],
            conditions=data.get("conditions") or [],
            consent=data.get("consent") or "any",
        )
        size = selectors.audience_count(tenant=request.tenant, audience=audience)
        error = ""
    except ServiceError as problem:
        size, error = None, problem.message
    return render(request, "campaigns/_audience_size.html", {"size": size, "error": error})


@tenant_view("campaigns.view")
def campaign_review_page(request, campaign_id):
    campaign = _get_or_404(selectors.campaign_get, tenant=request.tenant, campaign_id=campaign_id)
    error = None
    if request.method == "POST":
        if not request.membership or not _can_edit(request):
            raise Http404
        try:
            services.campaign_review_request(tenant=request.tenant, actor=request.user, campaign=campaign)
        except ServiceError as problem:
            error = problem.message
        campaign.refresh_from_db()
    review = campaign.review or {}
    if review.get("error") and not error:
        error = review["error"]
    removed = [(_reason_label(reason), count) for reason, count in (review.get("removed") or {}).items()]
    return render(
        request,
        "campaigns/campaign_review.html",
        {
            "campaign": campaign,
            "review": review,
            "removed": removed,
            "error": error,
            "test_form": TestSendForm(),
        },
    )


def _reason_label(reason: str) -> str:
    from smsportal.enums import FailureReason

    if reason == "invalid_variables":
        return _("Values that do not fit the template")
    return str(FailureReason(reason).label) if reason in FailureReason.values else reason


def _can_edit(request) -> bool:
    from tenants.roles import role_allows

    return role_allows(request.membership.role, "campaigns.edit")


@tenant_view("campaigns.edit")
@require_POST
def campaign_test(request, campaign_id):
    campaign = _get_or_404(selectors.campaign_get, tenant=request.tenant, campaign_id=campaign_id)
    form = TestSendForm(request.POST)
    if form.is_valid():
        try:
            results = services.campaign_test_send(
                tenant=request.tenant, actor=request.user, campaign=campaign, numbers=form.cleaned_data["numbers"]
            )
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            queued = sum(1 for r in results if r.status == "queued")
            messages.success(
                request, _("Test sent: %(queued)s of %(total)s queued.") % {"queued": queued, "total": len(results)}
            )
    else:
        messages.error(request, _("Give up to 5 test numbers."))
    return redirect("campaigns:review", campaign_id=campaign.pk)


ACTIONS = {
    "start": services.campaign_start,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
}


@tenant_view("campaigns.edit")
@require_POST
def campaign_action(request, campaign_id, action):
    campaign = _get_or_404(selectors.campaign_get, tenant=request.tenant, campaign_id=campaign_id)
    service = ACTIONS.get(action)
    if service is None:
        raise Http404
    try:
        service(tenant=request.tenant, actor=request.user, campaign=campaign)
    except ServiceError as error:
        messages.error(request, error.message)
        if action == "start":
            return redirect("campaigns:review", campaign_id=campaign.pk)
    return redirect("campaigns:detail", campaign_id=campaign.pk)


@tenant_view("campaigns.view")
def campaign_detail(request, campaign_id):
    campaign = _get_or_404(selectors.campaign_get, tenant=request.tenant, campaign_id=campaign_id)
    return render(request, "campaigns/campaign_detail.html", _progress_context(request, campaign))


@tenant_view("campaigns.view")
@require_GET
def campaign_progress(request, campaign_id):
    campaign = _get_or_404(selectors.campaign_get, tenant=request.tenant, campaign_id=campaign_id)
    return render(request, "campaigns/_campaign_progress.html", _progress_context(request, campaign))


def _progress_context(request, campaign):
    stats = selectors.campaign_stats(tenant=request.tenant, campaign=campaign)
    stats.failure_reasons = [(_reason_label(reason), count) for reason, count in stats.failure_reasons]
    return {
        "campaign": campaign,
        "stats": stats,
        "click_hours": selectors.campaign_click_hours(tenant=request.tenant, campaign=campaign),
        # Receipts keep arriving after the last message went out: keep polling until they are in.
        "live": campaign.status in (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)
        or stats.submitted > 0,
    }


@tenant_view("campaigns.edit")
def settings_edit(request):
    current = services.campaign_settings_for(tenant=request.tenant)
    if request.method == "POST":
        form = SettingsForm(request.POST)
        if form.is_valid():
            services.campaign_settings_update(tenant=request.tenant, actor=request.user, **form.cleaned_data)
            messages.success(request, _("Quiet hours saved."))
            return redirect("campaigns:settings")
    else:
        form = SettingsForm(
            initial={
                "send_window_start": current.send_window_start,
                "send_window_end": current.send_window_end,
                "quiet_classes": current.quiet_classes,
            }
        )
    return render(request, "campaigns/settings.html", {"form": form, "tenant": request.tenant})


# --- Short links (public) -----------------------------------------------------------------
@require_GET
def short_link(request, code):
    """Redirect to the campaign's link and count the click (per recipient and per hour)."""
    recipient = selectors.recipient_for_code(code)
    if recipient is None or not recipient.campaign.link_url:
        raise Http404
    campaign = recipient.campaign
    first = CampaignRecipient.objects.filter(pk=recipient.pk, clicks=0).update(clicks=1)
    if not first:
        CampaignRecipient.objects.filter(pk=recipient.pk).update(clicks=F("clicks") + 1)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {LinkClick._meta.db_table} (tenant_id, campaign_id, hour, clicks, unique_clicks,
                                                        created_at, updated_at)
                VALUES (%s, %s, %s, 1, %s, now(), now())
                ON CONFLICT (tenant_id, campaign_id, hour) DO UPDATE
                   SET clicks = {LinkClick._meta.db_table}.clicks + 1,
                       unique_clicks = {LinkClick._meta.db_table}.unique_clicks + EXCLUDED.unique_clicks,
                       updated_at = now()""",  # noqa: S608
            [campaign.tenant_id, campaign.pk, hour, 1 if first else 0],
        )
    response = HttpResponse(status=302)
    response["Location"] = campaign.link_url
    response["Cache-Control"] = "no-store"
    return response
