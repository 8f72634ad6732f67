"""Staff bookkeeping, plans, alerts and the refusals of bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core import mail

from billing import selectors, services
from billing.models import Account, LedgerEntry, PricePlan
from billing.payments import GATEWAYS
from compliance.models import AuditEvent
from smsportal.errors import Conflict, Forbidden, NotFound, ServiceError, Unprocessable
from smsportal.factories import MembershipFactory
from smsportal.factories.billing import fund
from tenants.models import Role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", ["0", "-10", "0.00001", "abc", None])
def test_top_up_refuses_non_positive_or_garbage(tenant, staff, amount):
    with pytest.raises(ServiceError) as caught:
        services.account_top_up(tenant=tenant, actor=staff, amount=amount, reference="R")
    assert caught.value.code == "invalid_amount"
    assert not LedgerEntry.objects.exists()


def test_top_up_needs_a_unique_reference_and_staff(tenant, staff, member):
    with pytest.raises(ServiceError) as caught:
        services.account_top_up(tenant=tenant, actor=staff, amount="5", reference="  ")
    assert caught.value.code == "reference_required"
    services.account_top_up(tenant=tenant, actor=staff, amount="5", reference="BOC-1")
    with pytest.raises(Conflict):
        services.account_top_up(tenant=tenant, actor=staff, amount="5", reference="BOC-1")
    with pytest.raises(Forbidden):
        services.account_top_up(tenant=tenant, actor=member.user, amount="5", reference="BOC-2")
    assert AuditEvent.objects.filter(tenant=tenant, action="billing.top_up").count() == 1
    assert selectors.account_balance(tenant=tenant) == Decimal("5")


def test_adjustment_needs_a_reason_and_a_non_zero_amount(tenant, staff):
    with pytest.raises(ServiceError) as caught:
        services.account_adjust(tenant=tenant, actor=staff, amount="5", reason="")
    assert caught.value.code == "reason_required"
    with pytest.raises(Unprocessable):
        services.account_adjust(tenant=tenant, actor=staff, amount="0", reason="x")
    services.account_adjust(tenant=tenant, actor=staff, amount="-2.5", reason="渠道退费更正")
    assert selectors.account_balance(tenant=tenant) == Decimal("-2.5")


def test_refund_of_a_message(tenant, staff):
    fund(tenant, "10", actor=staff)
    services.ledger_capture_batch(items=[(tenant.pk, 9, 2, "notification")])
    with pytest.raises(NotFound):
        services.account_refund(tenant=tenant, actor=staff, reason="投诉", message_id=10)
    with pytest.raises(Unprocessable) as caught:
        services.account_refund(tenant=tenant, actor=staff, reason="投诉", message_id=9, amount="1")
    assert caught.value.code == "refund_too_large"
    entry = services.account_refund(tenant=tenant, actor=staff, reason="投诉", message_id=9)
    assert entry.amount == Decimal("0.2600")
    with pytest.raises(Conflict):
        services.account_refund(tenant=tenant, actor=staff, reason="投诉", message_id=9)
    with pytest.raises(ServiceError):
        services.account_refund(tenant=tenant, actor=staff, reason="", amount="1")
    assert selectors.account_balance(tenant=tenant) == Decimal("10")
    assert selectors.ledger_check() == []


def test_credit_limit_and_threshold_refuse_negatives(tenant, staff):
    with pytest.raises(Unprocessable):
        services.account_set_credit_limit(tenant=tenant, actor=staff, credit_limit="-1")
    with pytest.raises(Unprocessable):
        services.account_set_threshold(tenant=tenant, actor=staff, threshold="-1")


@pytest.mark.parametrize(
    ("tiers", "fragment"),
    [
        ({"": [(1, 100, "0.1"), (102, None, "0.09")]}, "Gap"),
        ({"": [(1, 100, "0.1"), (90, None, "0.09")]}, "overlap"),
        ({"": [(5, None, "0.1")]}, "segment 1"),
        ({"": [(1, 100, "0.1")]}, "upper bound"),
        ({"marketing": [(1, None, "0.1")]}, "general"),
        ({"": [(1, None, "0.1")], "spam": [(1, None, "0.1")]}, "Unknown"),
    ],
)
def test_plan_tier_tables_with_gaps_or_overlaps_are_refused(staff, tiers, fragment):
    from django.utils import translation

    tiers = {c: [(a, b, Decimal(p)) for a, b, p in bands] for c, bands in tiers.items()}
    with translation.override("en"), pytest.raises(Unprocessable) as caught:
        services.price_plan_create(actor=staff, name="x", tiers=tiers)
    assert caught.value.code == "invalid_tiers"
    assert fragment.lower() in " ".join(caught.value.fields["tiers"]).lower()
    assert not PricePlan.objects.filter(name="x").exists()


def test_plan_create_and_refusals(staff, member):
    good = {"": [(1, None, Decimal("0.1"))]}
    with pytest.raises(Forbidden):
        services.price_plan_create(actor=member.user, name="a", tiers=good)
    plan = services.price_plan_create(actor=staff, name="a", tiers=good, monthly_fee="10")
    assert plan.monthly_fee == Decimal("10")
    with pytest.raises(Conflict):
        services.price_plan_create(actor=staff, name="a", tiers=good)
    with pytest.raises(Unprocessable):
        services.price_plan_create(actor=staff, name="b", tiers=good, monthly_fee="-1")


def test_low_balance_alert_once_per_dip(tenant, staff, django_capture_on_commit_callbacks):
    owner = MembershipFactory(tenant=tenant, role=Role.OWNER)
    MembershipFactory(tenant=tenant, role=Role.VIEWER)
    fund(tenant, "1", actor=staff)
    services.account_set_threshold(tenant=tenant, actor=staff, threshold="0.8")
    with django_capture_on_commit_callbacks() as callbacks:
        services.ledger_reserve_batch(tenant=tenant, items=[(1, 1, "alert"), (2, 1, "alert")])  # 0.74 left
    assert len(callbacks) == 1
    assert Account.objects.get(tenant=tenant).low_balance_alerted_at is not None
    with django_capture_on_commit_callbacks() as callbacks:
        services.ledger_capture_batch(items=[(tenant.pk, 1, 1, "alert")])
    assert callbacks == []  # still below: no second alert for the same dip
    assert services.low_balance_alert_send(tenant=tenant) == 1
    assert mail.outbox[-1].to == [owner.user.email]
    assert "0.7400" in mail.outbox[-1].subject
    fund(tenant, "5", reference="again", actor=staff)  # back above: re-armed
    assert Account.objects.get(tenant=tenant).low_balance_alerted_at is None


def test_bank_transfer_is_the_only_gateway():
    assert list(GATEWAYS) == ["bank_transfer"]
    assert GATEWAYS["bank_transfer"].confirm(payload={}, headers={}) is None
