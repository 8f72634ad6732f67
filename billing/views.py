"""Portal pages (billing.view: owner, admin, finance) and the staff bookkeeping pages."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from billing import pricing, selectors, services
from billing.forms import (
    AdjustmentForm,
    CreditLimitForm,
    LedgerFilterForm,
    PlanAssignForm,
    PricePlanForm,
    RefundForm,
    StatementRegenerateForm,
    ThresholdForm,
    TopUpForm,
)
from billing.models import Account, PlanAssignment, PricePlan
from billing.templatetags.billing_tags import class_label
from smsportal.errors import ServiceError
from smsportal.forms import add_service_error
from tenants.decorators import staff_view, tenant_view
from tenants.models import Tenant


def _period(year: int, month: int) -> date:
    try:
        return date(year, month, 1)
    except ValueError:
        raise Http404 from None


def _pdf_response(statement, *, download: bool = True) -> HttpResponse:
    response = HttpResponse(bytes(statement.pdf), content_type="application/pdf")
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="statement-{statement.period:%Y-%m}.pdf"'
    return response


# --- Tenant portal -----------------------------------------------------------------------------


@tenant_view("billing.view")
def overview(request):
    tenant = request.tenant
    account = selectors.account_for(tenant=tenant)
    form = ThresholdForm(request.POST or None, initial={"threshold": account.low_balance_threshold})
    if request.method == "POST" and form.is_valid():
        try:
            services.account_set_threshold(tenant=tenant, actor=request.user, threshold=form.cleaned_data["threshold"])
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Alert threshold saved."))
            return redirect("billing:overview")
    prices = selectors.price_overview(tenant=tenant)
    return render(
        request,
        "billing/overview.html",
        {
            "account": account,
            "form": form,
            "entries": selectors.ledger_entries(tenant=tenant)[:10],
            "prices": prices,
            "statements": selectors.statements(tenant=tenant)[:3],
        },
    )


@tenant_view("billing.view")
def ledger(request):
    tenant = request.tenant
    form = LedgerFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = selectors.ledger_entries(
        tenant=tenant, kind=filters.get("kind") or None, since=filters.get("since"), until=filters.get("until")
    )
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "billing/ledger.html", {"form": form, "page": page, "query": query.urlencode()})


@tenant_view("billing.view")
def statement_list(request):
    tenant = request.tenant
    this_month = pricing.month_of(tenant)
    recent = [this_month]
    for _i in range(12):
        recent.append((recent[-1] - timedelta(days=1)).replace(day=1))
    return render(
        request,
        "billing/statements.html",
        {"statements": selectors.statements(tenant=tenant), "export_months": recent},
    )


@tenant_view("billing.view")
def statement_detail(request, year: int, month: int):
    statement = selectors.statement_for(tenant=request.tenant, period=_period(year, month))
    if statement is None:
        raise Http404
    return render(request, "billing/statement.html", {"statement": statement})


@tenant_view("billing.view")
def statement_pdf(request, year: int, month: int):
    statement = selectors.statement_for(tenant=request.tenant, period=_period(year, month))
    if statement is None:
        raise Http404
    return _pdf_response(statement)


def charges_csv_response(*, tenant, first: date) -> StreamingHttpResponse:
    """Charged messages of a month; its amounts sum exactly to the statement's charges."""
    zone = pricing.tenant_zone(tenant)

    class Echo:
        def write(self, value):
            return value

    writer = csv.writer(Echo())

    def rows():
        yield "\ufeff"  # so spreadsheet programs read the Chinese headers as UTF-8
        yield writer.writerow(
            [
                _("Message id"),
                _("Delivered at"),
                _("Class"),
                _("Segments"),
                _("Tiers (tier:segments×price)"),
                _("Amount (¥)"),
            ]
        )
        for entry in selectors.charged_messages(tenant=tenant, first=first).iterator(chunk_size=2000):
            tiers = " ".join(f"{tier}:{n}×{price}" for tier, n, price in entry.pricing or [])
            yield writer.writerow(
                [
                    entry.message_id,
                    timezone.localtime(entry.occurred_at, zone).strftime("%Y-%m-%d %H:%M:%S"),
                    class_label(entry.message_class),
                    entry.segments,
                    tiers,
                    f"{-entry.amount:.4f}",
                ]
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="charges-{first:%Y-%m}.csv"'
    return response


@tenant_view("billing.view")
def charges_csv(request, year: int, month: int):
    return charges_csv_response(tenant=request.tenant, first=_period(year, month))


@tenant_view("billing.view")
def prices(request):
    return render(request, "billing/prices.html", {"overview": selectors.price_overview(tenant=request.tenant)})


# --- Staff -------------------------------------------------------------------------------------


@staff_view
def staff_accounts(request):
    tenants = list(Tenant.objects.order_by("name"))
    accounts = {a.tenant_id: a for a in Account.objects.filter(tenant__in=tenants)}
    rows = [(t, accounts.get(t.pk)) for t in tenants]
    return render(request, "billing/staff/accounts.html", {"rows": rows})


STAFF_FORMS = {
    "top_up": TopUpForm,
    "adjust": AdjustmentForm,
    "refund": RefundForm,
    "credit": CreditLimitForm,
    "assign": PlanAssignForm,
    "statement": StatementRegenerateForm,
}


def _staff_action(request, tenant, action: str, form) -> str:
    data = form.cleaned_data
    actor = request.user
    if action == "top_up":
        services.account_top_up(
            tenant=tenant, actor=actor, amount=data["amount"], reference=data["reference"], note=data["note"]
        )
        return _("Top-up recorded.")
    if action == "adjust":
        services.account_adjust(tenant=tenant, actor=actor, amount=data["amount"], reason=data["reason"])
        return _("Adjustment booked.")
    if action == "refund":
        services.account_refund(
            tenant=tenant, actor=actor, amount=data["amount"], reason=data["reason"], message_id=data["message_id"]
        )
        return _("Refund booked.")
    if action == "credit":
        services.account_set_credit_limit(tenant=tenant, actor=actor, credit_limit=data["credit_limit"])
        return _("Credit limit saved.")
    if action == "assign":
        services.plan_assign(
            tenant=tenant, actor=actor, plan=data["plan"], starts_on=data["starts_on"], note=data["note"]
        )
        return _("Price plan assigned.")
    year, month = data["month"]
    statement = services.statement_generate(tenant=tenant, year=year, month=month, actor=actor)
    if data["email"]:
        services.statement_email(statement=statement)
    return _("Statement %(month)s generated (revision %(r)s).") % {
        "month": statement.period.strftime("%Y-%m"),
        "r": statement.revision,
    }


@staff_view
def staff_account(request, tenant_id: int):
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    action = request.POST.get("action") if request.method == "POST" else None
    forms = {name: cls(prefix=name) for name, cls in STAFF_FORMS.items()}
    if action in STAFF_FORMS:
        form = forms[action] = STAFF_FORMS[action](request.POST, prefix=action)
        if form.is_valid():
            try:
                done = _staff_action(request, tenant, action, form)
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, done)
                return redirect("billing_staff:account", tenant_id=tenant.pk)
    account = selectors.account_for(tenant=tenant)
    forms["credit"].initial = {"credit_limit": account.credit_limit}
    return render(
        request,
        "billing/staff/account.html",
        {
            "tenant": tenant,
            "account": account,
            "forms": forms,
            "entries": selectors.ledger_entries(tenant=tenant)[:30],
            "statements": selectors.statements(tenant=tenant),
            "assignments": PlanAssignment.objects.for_tenant(tenant).select_related("plan"),
            "plan": pricing.plan_in_force(tenant=tenant),
        },
        status=400 if action and any(f.errors for f in forms.values()) else 200,
    )


@staff_view
def staff_statement_pdf(request, tenant_id: int, year: int, month: int):
    tenant = get_object_or_404(Tenant, pk=tenant_id)
    statement = selectors.statement_for(tenant=tenant, period=_period(year, month))
    if statement is None:
        raise Http404
    return _pdf_response(statement)


@staff_view
def staff_plans(request):
    form = PricePlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            plan = services.price_plan_create(
                actor=request.user,
                name=data["name"],
                description=data["description"],
                tiers=data["tables"],
                rich_message_price=data["rich_message_price"],
                monthly_fee=data["monthly_fee"],
                monthly_minimum=data["monthly_minimum"],
            )
        except ServiceError as error:
            add_service_error(form, error)
        else:
            messages.success(request, _("Price plan “%(name)s” created.") % {"name": plan.name})
            return redirect("billing_staff:plans")
    plans = [(plan, pricing.plan_prices(plan)) for plan in PricePlan.objects.prefetch_related("tiers")]
    return render(
        request, "billing/staff/plans.html", {"form": form, "plans": plans}, status=400 if form.errors else 200
    )


@staff_view
@require_POST
def staff_ledger_check(request):
    mismatches = selectors.ledger_check()
    if mismatches:
        messages.error(request, _("%(n)s account(s) disagree with the ledger.") % {"n": len(mismatches)})
    else:
        messages.success(request, _("All balances equal their ledger sums."))
    return redirect("billing_staff:accounts")
