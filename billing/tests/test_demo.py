from __future__ import annotations

import pytest
from django.core.management import call_command

from billing import selectors
from billing.models import LedgerEntry, PlanAssignment, Statement
from tenants.models import Tenant


@pytest.mark.django_db
def test_demo_seed_creates_billing_data():
    from smsportal import demo

    assert demo.seed() is True
    huamei = Tenant.objects.get(slug="huamei-retail")
    kuaida = Tenant.objects.get(slug="kuaida-logistics")
    assert LedgerEntry.objects.filter(tenant=huamei, kind="top_up").count() == 2
    assert LedgerEntry.objects.filter(tenant=kuaida, kind="top_up").exclude(reference="").exists()
    assert PlanAssignment.objects.filter(tenant=kuaida).exists()
    assert selectors.account_balance(tenant=huamei) > 0
    for tenant in (huamei, kuaida):
        # Made by billing's seed, or by billing.demo.finish() once the traffic seed has run.
        assert Statement.objects.filter(tenant=tenant).exists()
    call_command("billing_check")
