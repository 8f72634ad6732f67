from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance import services
from compliance.gates import blocked_numbers, marketing_paused
from compliance.models import ConsentAction, Purpose, SuppressionScope, TenantComplianceSettings
from smsportal.factories.compliance import ConsentRecordFactory, PlatformSuppressionFactory, SuppressionFactory

A = "+8613800138001"
B = "+8613001300001"
C = "+8618912345678"


@pytest.fixture
def consented(tenant):
    for number in (A, B, C):
        ConsentRecordFactory(tenant=tenant, number=number, purpose=Purpose.MARKETING)
    return tenant


def test_marketing_needs_an_active_consent(tenant):
    ConsentRecordFactory(tenant=tenant, number=A)
    assert blocked_numbers(tenant=tenant, numbers=[A, B], message_class="marketing") == {B: "no_consent"}


def test_notification_consent_does_not_allow_marketing(tenant):
    ConsentRecordFactory(tenant=tenant, number=A, purpose=Purpose.NOTIFICATION)
    assert blocked_numbers(tenant=tenant, numbers=[A], message_class="marketing") == {A: "no_consent"}


def test_marketing_to_a_revoked_number_is_refused(consented, member):
    services.consent_revoke(tenant=consented, actor=member.user, number=A, purpose="marketing")
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="marketing") == {A: "no_consent"}


def test_a_grant_after_a_revocation_counts_again(tenant):
    now = timezone.now()
    ConsentRecordFactory(tenant=tenant, number=A, occurred_at=now - timedelta(days=3))
    ConsentRecordFactory(tenant=tenant, number=A, action=ConsentAction.REVOKE, occurred_at=now - timedelta(days=2))
    assert blocked_numbers(tenant=tenant, numbers=[A], message_class="marketing") == {A: "no_consent"}
    ConsentRecordFactory(tenant=tenant, number=A, occurred_at=now - timedelta(days=1))
    assert blocked_numbers(tenant=tenant, numbers=[A], message_class="marketing") == {}


def test_another_tenants_consent_does_not_count(consented, outsider):
    assert blocked_numbers(tenant=outsider.tenant, numbers=[A], message_class="marketing") == {A: "no_consent"}


def test_marketing_only_suppression_blocks_marketing_but_codes_still_go(consented):
    SuppressionFactory(tenant=consented, number=A, scope=SuppressionScope.MARKETING)
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="marketing") == {A: "suppressed"}
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="verification") == {}
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="alert") == {}
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="notification") == {}


def test_all_scope_suppression_blocks_codes_too(consented):
    SuppressionFactory(tenant=consented, number=A, scope=SuppressionScope.ALL)
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="verification") == {A: "suppressed"}
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="marketing") == {A: "suppressed"}


def test_removed_suppression_no_longer_blocks(consented):
    SuppressionFactory(tenant=consented, number=A, scope=SuppressionScope.ALL, removed_at=timezone.now())
    assert blocked_numbers(tenant=consented, numbers=[A], message_class="verification") == {}


def test_other_tenants_suppression_does_not_block(consented, outsider):
    SuppressionFactory(tenant=outsider.tenant, number=A, scope=SuppressionScope.ALL)
    assert blocked_numbers(tenant=consented, numbers=[A], message_class="marketing") == {}


def test_platform_suppression_blocks_every_tenant(consented):
    PlatformSuppressionFactory(number=B, scope=SuppressionScope.ALL)
    PlatformSuppressionFactory(number=C, scope=SuppressionScope.MARKETING)
    assert blocked_numbers(tenant=consented, numbers=[A, B, C], message_class="marketing") == {
        B: "suppressed",
        C: "suppressed",
    }
    assert blocked_numbers(tenant=consented, numbers=[A, B, C], message_class="verification") == {B: "suppressed"}


def test_explicitly_revoked_notification_consent_blocks_notifications(tenant):
    ConsentRecordFactory(tenant=tenant, number=A, purpose=Purpose.NOTIFICATION, action=ConsentAction.REVOKE)
    assert blocked_numbers(tenant=tenant, numbers=[A, B], message_class="notification") == {A: "no_consent"}
    assert blocked_numbers(tenant=tenant, numbers=[A, B], message_class="verification") == {}


def test_paused_marketing_blocks_every_marketing_number(consented):
    TenantComplianceSettings.objects.create(tenant=consented, marketing_paused=True)
    assert marketing_paused(tenant=consented) is True
    assert blocked_numbers(tenant=consented, numbers=[A, B], message_class="marketing") == {
        A: "marketing_paused",
        B: "marketing_paused",
    }
    assert blocked_numbers(tenant=consented, numbers=[A], message_class="verification") == {}


def test_gate_query_count_does_not_grow_with_the_batch(tenant):
    numbers = [f"+86138{i:08d}" for i in range(5000)]
    with CaptureQueriesContext(connection) as small:
        blocked_numbers(tenant=tenant, numbers=numbers[:3], message_class="marketing")
    with CaptureQueriesContext(connection) as large:
        result = blocked_numbers(tenant=tenant, numbers=numbers, message_class="marketing")
    assert len(large) == len(small) <= 3
    assert len(result) == 5000


def test_empty_batch(tenant):
    assert blocked_numbers(tenant=tenant, numbers=[], message_class="marketing") == {}
