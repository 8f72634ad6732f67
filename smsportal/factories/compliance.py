"""Factories for the compliance app (consent, suppression, complaints)."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from compliance.models import (
    Complaint,
    ComplaintSource,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    PlatformSuppression,
    Purpose,
    Suppression,
    SuppressionReason,
    SuppressionScope,
)
from smsportal.factories.tenants import TenantFactory

# Valid mainland mobile numbers on different carriers (phonenumbers knows them).
NUMBERS = {
    "mobile": "+8613800138001",
    "unicom": "+8613001300001",
    "telecom": "+8618912345678",
}


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConsentRecord

    tenant = factory.SubFactory(TenantFactory)
    number = factory.Sequence(lambda n: f"+86138{n % 100000000:08d}")
    carrier = "mobile"
    purpose = Purpose.MARKETING
    action = ConsentAction.GRANT
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    source = ConsentSource.WEB_FORM
    evidence_text = "会员注册页勾选“接收优惠信息”"
    recorded_by_label = "factory"


class SuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suppression

    tenant = factory.SubFactory(TenantFactory)
    number = factory.Sequence(lambda n: f"+86139{n % 100000000:08d}")
    reason = SuppressionReason.MANUAL
    scope = SuppressionScope.MARKETING
    added_by_label = "factory"


class PlatformSuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlatformSuppression

    number = factory.Sequence(lambda n: f"+86137{n % 100000000:08d}")
    reason = SuppressionReason.COMPLAINT
    scope = SuppressionScope.ALL
    added_by_label = "factory"


class ComplaintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Complaint

    tenant = factory.SubFactory(TenantFactory)
    source = ComplaintSource.CARRIER
    number = factory.Sequence(lambda n: f"+86189{n % 100000000:08d}")
    text = "用户投诉收到未订阅的营销短信"
    received_at = factory.LazyFunction(timezone.now)
    acknowledge_due = factory.LazyAttribute(lambda o: o.received_at + timedelta(hours=24))
    resolve_due = factory.LazyAttribute(lambda o: o.received_at + timedelta(hours=72))
    recorded_by_label = "factory"
