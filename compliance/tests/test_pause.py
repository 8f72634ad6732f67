"""The complaint-rate pause is re-evaluated when staff change the rate settings, not only
when a complaint arrives; loosening a setting never lifts a pause."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from compliance import services
from compliance.gates import marketing_paused
from compliance.models import AuditEvent, PlatformComplianceSettings, TenantComplianceSettings
from smsportal.enums import MessageClass, MessageStatus
from smsportal.errors import Unprocessable
from smsportal.factories import MembershipFactory, TenantFactory
from smsportal.factories.compliance import ComplaintFactory
from smsportal.factories.messaging import MessageFactory
from tenants.models import Role


def traffic(tenant, *, delivered: int, complaints: int):
    """Complaints recorded straight in the table (no pause check), e.g. while the limit was higher."""
    MessageFactory.create_batch(
        delivered,
        tenant=tenant,
        message_class=MessageClass.MARKETING,
        status=MessageStatus.DELIVERED,
        done_at=timezone.now(),
    )
    ComplaintFactory.create_batch(complaints, tenant=tenant)


@pytest.fixture
def platform(db):
    row = PlatformComplianceSettings.load()
    row.complaint_rate_threshold = Decimal("500")  # per 10,000
    row.complaint_rate_min_delivered = 20
    row.save()
    return row


def update(actor, **values):
    return services.platform_compliance_settings_update(actor=actor, **values)


def test_lowering_the_threshold_pauses_tenants_now_above_it(
    platform, staff_user, tenant, member, outsider, mailoutbox, django_capture_on_commit_callbacks
):
    traffic(tenant, delivered=20, complaints=1)  # 500 per 10,000: not above 500
    traffic(outsider.tenant, delivered=40, complaints=1)  # 250 per 10,000
    assert not marketing_paused(tenant=tenant)

    with django_capture_on_commit_callbacks(execute=True):
        _row, paused = update(staff_user, complaint_rate_threshold=Decimal("300"))

    assert paused == [tenant.pk]
    assert marketing_paused(tenant=tenant) and not marketing_paused(tenant=outsider.tenant)
    row = TenantComplianceSettings.objects.get(tenant=tenant)
    assert row.marketing_paused_at is not None and "300" in row.marketing_paused_reason
    event = AuditEvent.objects.get(action="marketing.paused")
    assert event.tenant == tenant and event.after["trigger"] == "settings" and event.after["per_10k"] == "500.00"
    assert [m.to for m in mailoutbox] == [[member.user.email]]  # the notice, to owners and admins
    assert tenant.name in mailoutbox[0].subject
    # The settings change itself is audited too, with before and after.
    change = AuditEvent.objects.get(action="compliance.platform_settings_changed")
    assert (
        change.before["complaint_rate_threshold"] == "500.00" and change.after["complaint_rate_threshold"] == "300.00"
    )


def test_raising_the_threshold_does_not_lift_a_pause(platform, staff_user, tenant):
    traffic(tenant, delivered=20, complaints=2)  # 1000 per 10,000
    services.marketing_pause_check(tenant=tenant)
    assert marketing_paused(tenant=tenant)

    _row, paused = update(staff_user, complaint_rate_threshold=Decimal("5000"))

    assert paused == []
    assert marketing_paused(tenant=tenant)  # staff resume by hand, after looking at the cause
    assert AuditEvent.objects.filter(action="marketing.paused").count() == 1


def test_an_already_paused_tenant_is_not_paused_or_told_twice(platform, staff_user, tenant, member, mailoutbox):
    traffic(tenant, delivered=20, complaints=2)
    TenantComplianceSettings.objects.create(tenant=tenant, marketing_paused=True, marketing_paused_reason="手动")
    _row, paused = update(staff_user, complaint_rate_threshold=Decimal("1"))
    assert paused == []
    assert TenantComplianceSettings.objects.get(tenant=tenant).marketing_paused_reason == "手动"
    assert not AuditEvent.objects.filter(action="marketing.paused").exists() and mailoutbox == []


def test_lowering_the_minimum_sample_or_widening_the_window_counts_too(platform, staff_user, tenant):
    traffic(tenant, delivered=10, complaints=1)  # 1000 per 10,000 but only 10 delivered (< 20)
    update(staff_user, acknowledge_hours=12)  # not a rate setting: nothing re-evaluated
    assert not marketing_paused(tenant=tenant)
    _row, paused = update(staff_user, complaint_rate_min_delivered=10)
    assert paused == [tenant.pk] and marketing_paused(tenant=tenant)


def test_saving_unchanged_rate_settings_re_evaluates_nothing(platform, staff_user, tenant):
    traffic(tenant, delivered=20, complaints=2)  # above, but recorded without a check
    _row, paused = update(staff_user, complaint_rate_threshold=Decimal("500"), resolve_hours=48)
    assert paused == [] and not marketing_paused(tenant=tenant)


def test_re_evaluation_is_set_based(platform, staff_user):
    def run(count):
        tenants = [TenantFactory() for _ in range(count)]
        for each in tenants:
            traffic(each, delivered=20, complaints=1)
        PlatformComplianceSettings.objects.filter(pk=1).update(complaint_rate_threshold=Decimal("500"))
        with CaptureQueriesContext(connection) as queries:
            _row, paused = update(staff_user, complaint_rate_threshold=Decimal("100"))
        assert sorted(paused) == sorted(t.pk for t in tenants)
        return len(queries)

    assert run(2) == run(7)  # the same statements whatever the number of tenants


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"complaint_rate_threshold": Decimal("-1")}, "complaint_rate_threshold"),
        ({"complaint_rate_window_days": 0}, "complaint_rate_window_days"),
    ],
)
def test_bad_rate_settings_are_refused(platform, staff_user, values, field):
    with pytest.raises(Unprocessable) as error:
        update(staff_user, **values)
    assert error.value.code == "invalid_settings" and field in error.value.fields
    assert PlatformComplianceSettings.load().complaint_rate_threshold == Decimal("500")


def test_staff_settings_page_says_who_was_paused(platform, staff_client, tenant):
    MembershipFactory(tenant=tenant, role=Role.OWNER)
    traffic(tenant, delivered=20, complaints=1)
    data = {
        "code_per_minute": 1,
        "code_per_hour": 5,
        "code_per_day": 10,
        "marketing_per_template_day": 1,
        "notification_per_template_day": 10,
        "complaint_rate_threshold": "100",
        "complaint_rate_min_delivered": 20,
        "complaint_rate_window_days": 30,
        "acknowledge_hours": 24,
        "resolve_hours": 72,
    }
    response = staff_client.post(reverse("compliance_staff:settings"), data, follow=True)
    assert marketing_paused(tenant=tenant)
    assert any("1" in str(m) for m in response.context["messages"] if m.level_tag == "warning")
    response = staff_client.post(reverse("compliance_staff:settings"), data | {"complaint_rate_threshold": "-5"})
    assert response.status_code == 200 and "complaint_rate_threshold" in response.context["form"].errors
