"""Factories for billing: plans with tiers, assignments, and funded accounts (through services)."""

from __future__ import annotations

from decimal import Decimal

import factory

from billing.models import PlanAssignment, PricePlan, PriceTier
from smsportal.factories.tenants import TenantFactory


class PricePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PricePlan

    name = factory.Sequence(lambda n: f"测试价格方案 {n}")
    rich_message_price = Decimal("0.2500")


class PriceTierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PriceTier

    plan = factory.SubFactory(PricePlanFactory)
    message_class = ""
    first_segment = 1
    last_segment = None
    unit_price = Decimal("0.1000")


def plan_with_tiers(tiers, *, message_class: str = "", plan: PricePlan | None = None, **plan_fields) -> PricePlan:
    """tiers: [(first, last|None, "price"), ...]."""
    plan = plan or PricePlanFactory(**plan_fields)
    for first, last, price in tiers:
        PriceTierFactory(
            plan=plan, message_class=message_class, first_segment=first, last_segment=last, unit_price=Decimal(price)
        )
    return plan


class PlanAssignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanAssignment

    tenant = factory.SubFactory(TenantFactory)
    plan = factory.SubFactory(PricePlanFactory)
    starts_on = factory.Faker("past_date")


def fund(tenant, amount="1000", *, reference="TEST-TOPUP", actor=None) -> None:
    """Give a tenant money the way staff do: a recorded bank transfer top-up."""
    from billing.services import account_top_up
    from smsportal.factories.tenants import UserFactory

    actor = actor or UserFactory(is_staff=True)
    account_top_up(tenant=tenant, actor=actor, amount=Decimal(amount), reference=reference)
