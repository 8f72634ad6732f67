"""Billing demo data: the default plan, a negotiated plan for 快达物流, bank transfer top-ups,
credit limit and alert thresholds, and last month's statements.

Order matters: statements describe a closed month, and captures for a month that already has
a statement are booked in the current month. So when the messaging demo (which generates a month
of traffic through `ledger_capture_batch`) is present, last month's statements are made by
`finish(ctx)`, which the traffic seed calls once its messages are captured; without it they are
made at the end of `seed`.
"""

from __future__ import annotations

import importlib.util
from datetime import datetime, time, timedelta
from decimal import Decimal

from billing import pricing, services
from billing.models import LedgerEntry, PricePlan

NEGOTIATED_PLAN = "快达物流 物流行业协议价"


def _last_month(tenant):
    return (pricing.month_of(tenant) - timedelta(days=1)).replace(day=1)


def _backdate(entry: LedgerEntry, when: datetime) -> None:
    # Demo only: the transfer "arrived" last month. The amount and the balance are untouched.
    LedgerEntry.objects.filter(pk=entry.pk).update(occurred_at=when, created_at=when)


def seed(ctx) -> None:
    staff = ctx.staff[1] if len(ctx.staff) > 1 else ctx.staff[0]
    huamei = ctx.tenants["huamei-retail"]
    kuaida = ctx.tenants["kuaida-logistics"]
    pricing.default_plan()

    plan = PricePlan.objects.filter(name=NEGOTIATED_PLAN).first() or services.price_plan_create(
        actor=staff,
        name=NEGOTIATED_PLAN,
        description="年度协议：通知类短信优惠，营销短信单独定价。",
        tiers={
            "": [(1, 200_000, Decimal("0.1200")), (200_001, None, Decimal("0.1000"))],
            "marketing": [(1, None, Decimal("0.1400"))],
        },
        rich_message_price=Decimal("0.1800"),
        monthly_fee=Decimal("0"),
        monthly_minimum=Decimal("0"),
    )
    services.plan_assign(tenant=kuaida, actor=staff, plan=plan, starts_on=_last_month(kuaida), note="2025 年度协议")

    zone = pricing.tenant_zone(huamei)
    last = _last_month(huamei)
    entry = services.account_top_up(
        tenant=huamei, actor=staff, amount=Decimal("50000"), reference="ICBC 6222 0212 0000 8801"
    )
    _backdate(entry, datetime.combine(last + timedelta(days=2), time(10, 12), zone))
    services.account_top_up(tenant=huamei, actor=staff, amount=Decimal("30000"), reference="ICBC 6222 0212 0000 9317")
    services.account_set_credit_limit(tenant=huamei, actor=staff, credit_limit=Decimal("5000"))
    services.account_set_threshold(tenant=huamei, actor=staff, threshold=Decimal("10000"))

    entry = services.account_top_up(
        tenant=kuaida, actor=staff, amount=Decimal("12000"), reference="CMB 7550 1234 5678 0042"
    )
    _backdate(entry, datetime.combine(_last_month(kuaida) + timedelta(days=4), time(15, 40), zone))
    entry = services.account_adjust(tenant=kuaida, actor=staff, amount=Decimal("200"), reason="首月试用赠送额度")
    _backdate(entry, datetime.combine(_last_month(kuaida) + timedelta(days=4), time(15, 45), zone))
    services.account_set_threshold(tenant=kuaida, actor=staff, threshold=Decimal("2000"))

    if importlib.util.find_spec("messaging.demo") is None:
        finish(ctx)


def finish(ctx) -> None:
    """Last month's statements for the demo tenants (idempotent: regenerates if present)."""
    staff = ctx.staff[1] if len(ctx.staff) > 1 else ctx.staff[0]
    for slug in ("huamei-retail", "kuaida-logistics"):
        tenant = ctx.tenants[slug]
        last = _last_month(tenant)
        services.statement_generate(tenant=tenant, year=last.year, month=last.month, actor=staff)
