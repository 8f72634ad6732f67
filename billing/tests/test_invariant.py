"""Whatever order operations and receipts come in, the cached balance equals the ledger sum,
each (message, kind) exists at most once, and the sum follows the documented formula."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import selectors, services
from billing.models import LedgerEntry
from smsportal.errors import PaymentRequired
from smsportal.factories import TenantFactory, UserFactory

MESSAGES = st.integers(min_value=1, max_value=12)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("top_up"), st.integers(min_value=1, max_value=500)),
        st.tuples(st.just("adjust"), st.integers(min_value=-300, max_value=300).filter(bool)),
        st.tuples(st.just("reserve"), MESSAGES, st.integers(min_value=1, max_value=4)),
        st.tuples(st.just("capture"), MESSAGES, st.integers(min_value=1, max_value=4)),
        st.tuples(st.just("release"), MESSAGES),
        st.tuples(st.just("refund"), st.integers(min_value=1, max_value=100)),
    ),
    max_size=25,
)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=OPERATIONS)
def test_ledger_sum_invariant(operations):
    tenant = TenantFactory()
    staff = UserFactory(is_staff=True)
    for number, operation in enumerate(operations):
        match operation:
            case ("top_up", cents):
                services.account_top_up(tenant=tenant, actor=staff, amount=Decimal(cents) / 100, reference=f"T{number}")
            case ("adjust", cents):
                services.account_adjust(tenant=tenant, actor=staff, amount=Decimal(cents) / 100, reason="fix")
            case ("reserve", message_id, segments):
                try:
                    services.ledger_reserve_batch(tenant=tenant, items=[(message_id, segments, "notification")])
                except PaymentRequired:
                    pass
            case ("capture", message_id, segments):
                services.ledger_capture_batch(items=[(tenant.pk, message_id, segments, "notification")])
            case ("release", message_id):
                services.ledger_release_batch(items=[(tenant.pk, message_id)])
            case ("refund", cents):
                services.account_refund(tenant=tenant, actor=staff, amount=Decimal(cents) / 100, reason="投诉")
    assert selectors.ledger_check() == []
    call_command("billing_check")  # raises CommandError on a mismatch
    entries = list(LedgerEntry.objects.filter(tenant=tenant))
    keys = [(e.message_id, e.kind) for e in entries if e.message_id is not None]
    assert len(keys) == len(set(keys))

    def total(kind):
        return sum((e.amount for e in entries if e.kind == kind), Decimal(0))

    reserves = {e.message_id: e.amount for e in entries if e.kind == "reserve"}
    released = {e.message_id for e in entries if e.kind == "release"}
    active_reserves = -sum((a for m, a in reserves.items() if m not in released), Decimal(0))
    expected = total("top_up") + total("capture") - active_reserves + total("refund") + total("adjustment")
    assert selectors.account_balance(tenant=tenant) == expected
    assert all(e.message_id in released for e in entries if e.kind == "capture" and e.message_id in reserves)


@pytest.mark.django_db
def test_billing_check_fails_on_a_mismatch(tenant):
    from django.core.management.base import CommandError

    from billing.models import Account
    from smsportal.factories.billing import fund

    fund(tenant, "5")
    call_command("billing_check")
    Account.objects.filter(tenant=tenant).update(balance=Decimal("6"))
    with pytest.raises(CommandError):
        call_command("billing_check")
