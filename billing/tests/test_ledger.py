"""The ledger contract messaging uses: reserve at accept, capture on delivery, release on failure."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing import selectors, services
from billing.models import RICH, Account, LedgerEntry, MonthlyUsage
from billing.pricing import month_of
from smsportal.errors import PaymentRequired
from smsportal.factories.billing import fund

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def balance(tenant) -> Decimal:
    return selectors.account_balance(tenant=tenant)


def kinds(tenant, message_id) -> list[str]:
    return sorted(LedgerEntry.objects.filter(tenant=tenant, message_id=message_id).values_list("kind", flat=True))


def assert_consistent():
    assert selectors.ledger_check() == []


def test_reserve_capture_lifecycle(tenant):
    fund(tenant, "10")
    reserved = services.ledger_reserve_batch(tenant=tenant, items=[(1, 2, "notification"), (2, 1, "verification")])
    assert reserved == Decimal("0.3900")  # highest tier 0.13 × 3 segments
    assert balance(tenant) == Decimal("9.6100")
    assert Account.objects.get(tenant=tenant).reserved == Decimal("0.3900")

    charged = services.ledger_capture_batch(items=[(tenant.pk, 1, 2, "notification")])
    assert charged == {1: Decimal("0.2600")}
    assert kinds(tenant, 1) == ["capture", "release", "reserve"]
    services.ledger_release_batch(items=[(tenant.pk, 2)])
    assert kinds(tenant, 2) == ["release", "reserve"]
    assert balance(tenant) == Decimal("9.7400")
    assert Account.objects.get(tenant=tenant).reserved == Decimal("0.0000")
    assert selectors.message_cost(tenant=tenant, message_id=1) == Decimal("0.2600")
    assert selectors.message_cost(tenant=tenant, message_id=2) is None
    assert_consistent()


def test_duplicate_receipts_change_nothing(tenant):
    fund(tenant, "10")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "alert"), (2, 1, "alert")])
    services.ledger_capture_batch(items=[(tenant.pk, 1, 1, "alert")])
    services.ledger_release_batch(items=[(tenant.pk, 2)])
    before = balance(tenant)
    assert services.ledger_capture_batch(items=[(tenant.pk, 1, 1, "alert"), (tenant.pk, 1, 1, "alert")]) == {}
    assert services.ledger_release_batch(items=[(tenant.pk, 2), (tenant.pk, 2)]) == Decimal("0")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "alert")])  # a retried accept
    assert balance(tenant) == before
    assert LedgerEntry.objects.filter(tenant=tenant).count() == 1 + 2 + 2 + 1
    assert MonthlyUsage.objects.get(tenant=tenant).delivered_segments == 1
    assert_consistent()


def test_release_after_capture_does_nothing(tenant):
    fund(tenant, "10")
    services.ledger_reserve_batch(tenant=tenant, items=[(7, 1, "notification")])
    services.ledger_capture_batch(items=[(tenant.pk, 7, 1, "notification")])
    after_capture = balance(tenant)
    services.ledger_release_batch(items=[(tenant.pk, 7)])
    assert balance(tenant) == after_capture == Decimal("9.8700")
    assert_consistent()


def test_late_delivery_after_expiry_is_still_charged_from_the_balance(tenant):
    """Pay on success: the reserve went back when the message expired; a late 'delivered'
    receipt charges the balance directly, once."""
    fund(tenant, "10")
    services.ledger_reserve_batch(tenant=tenant, items=[(8, 2, "notification")])
    services.ledger_release_batch(items=[(tenant.pk, 8)])
    assert balance(tenant) == Decimal("10.0000")
    services.ledger_capture_batch(items=[(tenant.pk, 8, 2, "notification")])
    assert balance(tenant) == Decimal("9.7400")
    assert kinds(tenant, 8) == ["capture", "release", "reserve"]
    assert Account.objects.get(tenant=tenant).reserved == Decimal("0.0000")
    assert_consistent()


def test_insufficient_balance_reserves_nothing(tenant):
    fund(tenant, "0.20")
    with pytest.raises(PaymentRequired) as caught:
        services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "marketing"), (2, 1, "marketing")])
    assert caught.value.code == "insufficient_balance"
    assert caught.value.shortfall == Decimal("0.0600")
    assert "0.06" in caught.value.message
    assert not LedgerEntry.objects.filter(tenant=tenant, kind="reserve").exists()
    assert balance(tenant) == Decimal("0.2000")
    assert selectors.shortfall(tenant=tenant, amount=Decimal("0.26")) == Decimal("0.0600")
    assert selectors.shortfall(tenant=tenant, amount=Decimal("0.10")) == Decimal("0")


def test_credit_limit_lets_the_balance_go_negative(tenant, staff):
    services.account_set_credit_limit(tenant=tenant, actor=staff, credit_limit="1")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 5, "notification")])
    assert balance(tenant) == Decimal("-0.6500")
    with pytest.raises(PaymentRequired):
        services.ledger_reserve_batch(tenant=tenant, items=[(2, 3, "notification")])


def test_tier_boundaries_within_one_month(tenant):
    fund(tenant, "100000")
    when = datetime(2026, 3, 10, 12, tzinfo=SH)
    MonthlyUsage.objects.create(tenant=tenant, month=month_of(tenant, when), delivered_segments=99_999)
    charged = services.ledger_capture_batch(
        items=[
            (tenant.pk, 1, 1, "notification", when),  # segment 100,000
            (tenant.pk, 2, 1, "notification", when),  # segment 100,001
        ]
    )
    assert charged == {1: Decimal("0.1300"), 2: Decimal("0.1100")}
    MonthlyUsage.objects.filter(tenant=tenant).update(delivered_segments=499_999)
    charged = services.ledger_capture_batch(
        items=[(tenant.pk, 3, 1, "notification", when), (tenant.pk, 4, 1, "notification", when)]
    )
    assert charged == {3: Decimal("0.1100"), 4: Decimal("0.0900")}
    assert MonthlyUsage.objects.get(tenant=tenant).delivered_segments == 500_001
    assert_consistent()


def test_a_capture_straddling_a_boundary(tenant):
    fund(tenant, "100")
    when = datetime(2026, 3, 10, 12, tzinfo=SH)
    MonthlyUsage.objects.create(tenant=tenant, month=month_of(tenant, when), delivered_segments=99_998)
    charged = services.ledger_capture_batch(items=[(tenant.pk, 1, 3, "marketing", when)])
    assert charged == {1: Decimal("0.3700")}
    entry = LedgerEntry.objects.get(tenant=tenant, kind="capture")
    assert entry.pricing == [[1, 2, "0.1300"], [2, 1, "0.1100"]]


def test_month_rollover_in_the_tenant_time_zone(tenant):
    fund(tenant, "100")
    march_end = datetime(2026, 3, 31, 23, 59, tzinfo=SH)
    april_start = datetime(2026, 4, 1, 0, 1, tzinfo=SH)  # still 31 March in UTC
    MonthlyUsage.objects.create(tenant=tenant, month=month_of(tenant, march_end), delivered_segments=100_000)
    charged = services.ledger_capture_batch(
        items=[(tenant.pk, 1, 1, "alert", march_end), (tenant.pk, 2, 1, "alert", april_start)]
    )
    assert charged == {1: Decimal("0.1100"), 2: Decimal("0.1300")}
    usage = dict(MonthlyUsage.objects.filter(tenant=tenant).values_list("month", "delivered_segments"))
    assert usage == {march_end.date().replace(day=1): 100_001, april_start.date().replace(day=1): 1}


def test_rich_messages_are_priced_per_message_and_do_not_move_the_tier(tenant):
    fund(tenant, "10")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 3, RICH)])
    assert balance(tenant) == Decimal("9.8000")  # default plan: ¥0.20 per rich message
    assert services.ledger_capture_batch(items=[(tenant.pk, 1, 3, RICH)]) == {1: Decimal("0.2000")}
    assert not MonthlyUsage.objects.filter(tenant=tenant, delivered_segments__gt=0).exists()


def test_batches_span_tenants(tenant, outsider):
    other = outsider.tenant
    fund(tenant, "1")
    fund(other, "1")
    services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "alert")])
    services.ledger_reserve_batch(tenant=other, items=[(2, 1, "alert")])
    services.ledger_capture_batch(items=[(other.pk, 2, 1, "alert"), (tenant.pk, 1, 1, "alert")])
    assert balance(tenant) == balance(other) == Decimal("0.8700")
    assert selectors.message_cost(tenant=other, message_id=1) is None  # not its message
    assert_consistent()


def test_unknown_class_is_refused(tenant):
    from smsportal.errors import ServiceError

    with pytest.raises(ServiceError) as caught:
        services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "spam")])
    assert caught.value.code == "invalid_message_class"


def test_a_reserve_arriving_after_the_message_settled_holds_nothing(tenant):
    fund(tenant, "10")
    services.ledger_capture_batch(items=[(tenant.pk, 3, 1, "alert")])
    services.ledger_release_batch(items=[(tenant.pk, 4)])  # nothing to release: no reserve
    LedgerEntry.objects.create(tenant=tenant, kind="release", message_id=4, amount=0, occurred_at=tenant.created_at)
    assert services.ledger_reserve_batch(tenant=tenant, items=[(3, 1, "alert"), (4, 1, "alert")]) == Decimal("0")
    assert Account.objects.get(tenant=tenant).reserved == Decimal("0")
    assert selectors.account_balance(tenant=tenant) == Decimal("9.8700")


def test_reserve_uses_the_plan_in_force_today_per_class(tenant):
    from datetime import timedelta

    from billing.pricing import local_date
    from smsportal.factories.billing import PlanAssignmentFactory, plan_with_tiers

    today = local_date(tenant)
    plan = plan_with_tiers([(1, 1000, "0.1000"), (1001, None, "0.0800")], rich_message_price=Decimal("0.3000"))
    plan_with_tiers([(1, None, "0.0500")], message_class="verification", plan=plan)
    PlanAssignmentFactory(tenant=tenant, plan=plan, starts_on=today)
    later = plan_with_tiers([(1, None, "0.0100")])
    PlanAssignmentFactory(tenant=tenant, plan=later, starts_on=today + timedelta(days=1))  # not yet in force
    fund(tenant, "10")
    reservation = services.ledger_reserve_new_messages(
        tenant=tenant,
        source_sql="SELECT * FROM unnest(%s::bigint[], %s::int[], %s::text[])",
        params=["{1,2,3}", "{2,1,3}", '{"verification","marketing","rich"}'],
    )
    # verification: its own table (0.05 × 2); marketing: the general table's highest tier; rich: per message
    assert reservation.amount == Decimal("0.1000") + Decimal("0.1000") + Decimal("0.3000")
    assert reservation.prices.plan_id == plan.pk
    amounts = dict(LedgerEntry.objects.filter(tenant=tenant, kind="reserve").values_list("message_id", "amount"))
    assert amounts == {1: Decimal("-0.1000"), 2: Decimal("-0.1000"), 3: Decimal("-0.3000")}
    assert_consistent()


def test_reserve_reports_the_months_volume_for_estimates(tenant):
    fund(tenant, "10")
    MonthlyUsage.objects.create(tenant=tenant, month=month_of(tenant), delivered_segments=99_999)
    reservation = services.ledger_reserve_new_messages(
        tenant=tenant, source_sql="SELECT 7::bigint, 2, 'notification'::text", fresh=True
    )
    assert reservation.month_segments == 99_999
    # the 100,000th segment at tier 1, the next at tier 2
    assert reservation.prices.amount("notification", after=reservation.month_segments, segments=2) == Decimal("0.2400")


def test_reserve_without_any_plan_rows_prices_at_the_default_and_creates_none(tenant):
    from billing import pricing
    from billing.models import PricePlan

    fund(tenant, "10")
    PricePlan.objects.all().delete()  # as a flushed table leaves it
    reservation = services.ledger_reserve_new_messages(
        tenant=tenant, source_sql="SELECT 5::bigint, 2, 'notification'::text", fresh=True
    )
    assert reservation.amount == Decimal("0.2600")  # the default's highest tier, 2 segments
    assert reservation.prices is pricing.DEFAULT_PRICES
    assert not PricePlan.objects.exists()  # made later, outside the accept (pricing.default_plan)
