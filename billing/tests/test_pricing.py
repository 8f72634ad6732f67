from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing import pricing
from billing.models import RICH, MonthlyUsage
from smsportal.factories.billing import PlanAssignmentFactory, plan_with_tiers

pytestmark = pytest.mark.django_db


def set_usage(tenant, segments, month=None):
    MonthlyUsage.objects.update_or_create(
        tenant=tenant, month=month or pricing.month_of(tenant), defaults={"delivered_segments": segments}
    )


def test_default_plan_tiers_at_the_boundaries(tenant):
    prices = pricing.prices_in_force(tenant=tenant)
    one = lambda after: prices.price_segments("notification", after=after, segments=1)  # noqa: E731
    assert one(0) == [(1, 1, Decimal("0.1300"))]
    assert one(99_999) == [(1, 1, Decimal("0.1300"))]  # segment 100,000
    assert one(100_000) == [(2, 1, Decimal("0.1100"))]  # segment 100,001
    assert one(499_999) == [(2, 1, Decimal("0.1100"))]  # segment 500,000
    assert one(500_000) == [(3, 1, Decimal("0.0900"))]  # segment 500,001


def test_a_message_straddling_a_boundary_prices_each_segment_at_its_tier(tenant):
    prices = pricing.prices_in_force(tenant=tenant)
    parts = prices.price_segments("marketing", after=99_998, segments=3)
    assert parts == [(1, 2, Decimal("0.1300")), (2, 1, Decimal("0.1100"))]
    assert prices.amount("marketing", after=99_998, segments=3) == Decimal("0.3700")


def test_unit_price_follows_this_months_volume(tenant):
    assert pricing.unit_price(tenant=tenant, message_class="verification") == Decimal("0.1300")
    set_usage(tenant, 100_000)
    assert pricing.unit_price(tenant=tenant, message_class="verification") == Decimal("0.1100")
    set_usage(tenant, 500_000)
    assert pricing.unit_price(tenant=tenant, message_class="verification") == Decimal("0.0900")


def test_last_months_volume_does_not_count_this_month(tenant):
    this_month = pricing.month_of(tenant)
    previous = date(this_month.year - (this_month.month == 1), (this_month.month - 2) % 12 + 1, 1)
    assert pricing.next_month(previous) == this_month
    set_usage(tenant, 600_000, month=previous)
    assert pricing.unit_price(tenant=tenant, message_class="alert") == Decimal("0.1300")


def test_reserve_price_is_the_highest_tier_and_estimates(tenant):
    assert pricing.reserve_price(tenant=tenant, message_class="notification") == Decimal("0.1300")
    set_usage(tenant, 99_999)
    assert pricing.estimate(tenant=tenant, message_class="notification", segments=2, count=1) == Decimal("0.2400")
    assert pricing.estimate(tenant=tenant, message_class="notification", segments=2, count=3, basis="reserve") == (
        Decimal("0.7800")
    )


def test_per_class_table_and_rich_messages(tenant):
    plan = plan_with_tiers([(1, None, "0.0500")])
    plan_with_tiers([(1, 1000, "0.2000"), (1001, None, "0.1500")], message_class="marketing", plan=plan)
    PlanAssignmentFactory(tenant=tenant, plan=plan, starts_on=date(2020, 1, 1))
    assert pricing.unit_price(tenant=tenant, message_class="verification") == Decimal("0.0500")
    assert pricing.unit_price(tenant=tenant, message_class="marketing") == Decimal("0.2000")
    assert pricing.reserve_price(tenant=tenant, message_class=RICH) == Decimal("0.2500")
    assert pricing.estimate(tenant=tenant, message_class=RICH, segments=1, count=4) == Decimal("1.0000")


def test_plan_assignment_applies_from_its_date(tenant):
    plan = plan_with_tiers([(1, None, "0.0800")])
    PlanAssignmentFactory(tenant=tenant, plan=plan, starts_on=date(2030, 1, 1))
    assert pricing.plan_in_force(tenant=tenant, on=date(2029, 12, 31)).is_default
    assert pricing.plan_in_force(tenant=tenant, on=date(2030, 1, 1)) == plan


@pytest.mark.parametrize(
    ("bands", "fine"),
    [
        ([(1, 100, Decimal("1")), (101, None, Decimal("1"))], True),
        ([(1, 100, Decimal("1")), (102, None, Decimal("1"))], False),  # gap
        ([(1, 100, Decimal("1")), (100, None, Decimal("1"))], False),  # overlap
        ([(2, None, Decimal("1"))], False),  # does not start at 1
        ([(1, 100, Decimal("1"))], False),  # bounded last tier
        ([(1, None, Decimal("-1"))], False),  # negative price
        ([], False),
    ],
)
def test_validate_bands(bands, fine):
    assert (pricing.validate_bands(bands) == []) is fine


def test_month_uses_the_tenants_time_zone(tenant):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    # 2026-01-31 17:00 UTC is already 1 February in Shanghai.
    at = datetime(2026, 1, 31, 17, 0, tzinfo=ZoneInfo("UTC"))
    assert pricing.month_of(tenant, at) == date(2026, 2, 1)
    tenant.timezone = "Europe/London"
    assert pricing.month_of(tenant, at) == date(2026, 1, 1)


def test_local_calendar_agrees_with_local_date_across_midnight(tenant):
    from datetime import UTC, datetime, timedelta

    calendar = pricing.LocalCalendar(tenant)  # Asia/Shanghai: midnight is 16:00 UTC
    start = datetime(2026, 1, 31, 15, 0, tzinfo=UTC)
    instants = [start + timedelta(minutes=7 * n) for n in range(40)] + [start, start - timedelta(days=40)]
    assert [calendar.day(at) for at in instants] == [pricing.local_date(tenant, at) for at in instants]
    assert calendar.day(datetime(2026, 1, 31, 15, 59, 59, 999999, tzinfo=UTC)) == date(2026, 1, 31)
    assert calendar.day(datetime(2026, 1, 31, 16, 0, tzinfo=UTC)) == date(2026, 2, 1)
