from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from compliance.gates import frequency_capped
from compliance.models import TenantComplianceSettings
from smsportal.enums import MessageClass, MessageStatus
from smsportal.factories.messaging import MessageFactory
from smsportal.factories.templates import MessageTemplateFactory

A = "+8613800138001"
B = "+8613001300001"
NOW = timezone.now()


def codes(tenant, number, *ages, status=MessageStatus.DELIVERED):
    for age in ages:
        MessageFactory(
            tenant=tenant,
            number=number,
            message_class=MessageClass.VERIFICATION,
            accepted_at=NOW - age,
            status=status,
        )


def capped_code(tenant, numbers=(A,)):
    return frequency_capped(
        tenant=tenant, numbers=list(numbers), message_class="verification", template_id=None, now=NOW
    )


def test_first_code_goes(tenant):
    assert capped_code(tenant) == set()


def test_one_code_per_minute_boundary(tenant):
    codes(tenant, A, timedelta(seconds=59))
    assert capped_code(tenant, [A, B]) == {A}


def test_a_code_exactly_a_minute_ago_has_left_the_window(tenant):
    codes(tenant, A, timedelta(seconds=60))
    assert capped_code(tenant) == set()


def test_five_per_hour(tenant):
    codes(tenant, A, *[timedelta(minutes=m) for m in (2, 10, 20, 30)])
    assert capped_code(tenant) == set()  # the 5th is allowed
    codes(tenant, A, timedelta(minutes=50))
    assert capped_code(tenant) == {A}  # the 6th is not


def test_hour_window_boundary(tenant):
    codes(tenant, A, *[timedelta(minutes=m) for m in (2, 10, 20, 30)], timedelta(hours=1))
    assert capped_code(tenant) == set()


def test_ten_per_day(tenant):
    codes(tenant, A, *[timedelta(hours=h) for h in range(2, 11)])  # 9 in the day, 0 in the last hour
    assert capped_code(tenant) == set()
    codes(tenant, A, timedelta(hours=11))
    assert capped_code(tenant) == {A}
    codes(tenant, B, *[timedelta(hours=h) for h in range(2, 11)], timedelta(hours=24))
    assert capped_code(tenant, [B]) == set()


def test_rejected_messages_do_not_count(tenant):
    codes(tenant, A, timedelta(seconds=5), status=MessageStatus.REJECTED)
    assert capped_code(tenant) == set()


def test_other_tenants_messages_do_not_count(tenant, outsider):
    codes(outsider.tenant, A, timedelta(seconds=5))
    assert capped_code(tenant) == set()


def test_other_classes_do_not_count_toward_codes(tenant):
    MessageFactory(tenant=tenant, number=A, message_class=MessageClass.NOTIFICATION, accepted_at=NOW)
    assert capped_code(tenant) == set()


def test_repeating_a_number_in_one_batch_counts(tenant):
    assert capped_code(tenant, [A, A]) == {A}


def test_tenant_override_tightens_the_cap(tenant):
    TenantComplianceSettings.objects.create(tenant=tenant, code_per_day=2)
    codes(tenant, A, timedelta(hours=2), timedelta(hours=3))
    assert capped_code(tenant) == {A}


def test_marketing_per_template_per_day(tenant):
    TenantComplianceSettings.objects.create(tenant=tenant, marketing_per_template_day=2)
    template = MessageTemplateFactory(tenant=tenant, kind=MessageClass.MARKETING)
    other = MessageTemplateFactory(tenant=tenant, kind=MessageClass.MARKETING)
    for age in (timedelta(hours=1), timedelta(hours=23, minutes=59)):
        MessageFactory(
            tenant=tenant, number=A, template=template, message_class=MessageClass.MARKETING, accepted_at=NOW - age
        )
    MessageFactory(
        tenant=tenant,
        number=B,
        template=template,
        message_class=MessageClass.MARKETING,
        accepted_at=NOW - timedelta(days=1),
    )

    def capped(template_id):
        return frequency_capped(
            tenant=tenant, numbers=[A, B], message_class="marketing", template_id=template_id, now=NOW
        )

    assert capped(template.pk) == {A}
    assert capped(other.pk) == set()


def test_notification_default_cap(tenant):
    template = MessageTemplateFactory(tenant=tenant, kind=MessageClass.NOTIFICATION)
    for minutes in range(10):
        MessageFactory(tenant=tenant, number=A, template=template, accepted_at=NOW - timedelta(minutes=minutes + 1))
    assert frequency_capped(
        tenant=tenant, numbers=[A], message_class="notification", template_id=template.pk, now=NOW
    ) == {A}


def test_alerts_are_not_capped(tenant):
    for _ in range(3):
        MessageFactory(tenant=tenant, number=A, message_class=MessageClass.ALERT, accepted_at=NOW)
    assert frequency_capped(tenant=tenant, numbers=[A], message_class="alert", template_id=None, now=NOW) == set()


@pytest.mark.parametrize("size", [1, 3000])
def test_one_grouped_query_whatever_the_batch(tenant, size, platform_settings):
    numbers = [f"+86138{i:08d}" for i in range(size)]
    with CaptureQueriesContext(connection) as queries:
        frequency_capped(tenant=tenant, numbers=numbers, message_class="verification", template_id=None, now=NOW)
    message_queries = [q for q in queries if "messaging_message" in q["sql"]]
    assert len(message_queries) == 1
