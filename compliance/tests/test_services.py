from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import services
from compliance.gates import blocked_numbers, marketing_paused
from compliance.models import (
    AuditEvent,
    ComplaintStatus,
    ConsentRecord,
    PlatformComplianceSettings,
    Suppression,
)
from compliance.selectors import complaint_rates
from smsportal.enums import MessageClass, MessageStatus
from smsportal.errors import Conflict, Unprocessable
from smsportal.factories.compliance import ConsentRecordFactory
from smsportal.factories.messaging import MessageFactory

A = "+8613800138001"


def test_consent_record_and_revoke_append_facts(member):
    grant = services.consent_record(
        tenant=member.tenant,
        actor=member.user,
        number="138 0013 8001",
        purpose="marketing",
        source="web_form",
        evidence_text="注册页勾选",
    )
    assert grant.number == A and grant.carrier == "mobile" and grant.recorded_by == member.user
    revoke = services.consent_revoke(tenant=member.tenant, actor=member.user, number=A, purpose="marketing")
    grant.refresh_from_db()
    assert grant.action == "grant"  # never edited
    assert revoke.action == "revoke"
    assert ConsentRecord.objects.for_tenant(member.tenant).count() == 2
    actions = set(AuditEvent.objects.filter(tenant=member.tenant).values_list("action", flat=True))
    assert {"consent.granted", "consent.revoked"} <= actions


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({"number": "1380013"}, "invalid_number", "number"),
        ({"number": "02161234567"}, "invalid_number", "number"),
        ({"purpose": "ads"}, "unknown_purpose", "purpose"),
        ({"source": "pigeon"}, "unknown_source", "source"),
        ({"evidence_text": ""}, "evidence_required", "evidence_text"),
        ({"occurred_at": timezone.now() + timedelta(days=1)}, "time_in_future", "occurred_at"),
    ],
)
def test_consent_record_bad_input(member, kwargs, code, field):
    values = {"number": A, "purpose": "marketing", "source": "paper", "evidence_text": "x", **kwargs}
    with pytest.raises(Unprocessable) as error:
        services.consent_record(tenant=member.tenant, actor=member.user, **values)
    assert error.value.code == code and field in error.value.fields


def test_revocation_without_consent_is_refused(member):
    with pytest.raises(Conflict) as error:
        services.consent_revoke(tenant=member.tenant, actor=member.user, number=A, purpose="marketing")
    assert error.value.code == "no_consent"


def test_bulk_suppression_add_and_remove(member):
    result = services.suppression_add_bulk(
        tenant=member.tenant, actor=member.user, numbers=[A, "13001300001", "123", A], scope="marketing"
    )
    assert sorted(result.added) == ["+8613001300001", A] and list(result.errors) == ["123"]
    again = services.suppression_add_bulk(tenant=member.tenant, actor=member.user, numbers=[A], scope="marketing")
    assert again.added == [] and again.unchanged == [A]
    wider = services.suppression_add_bulk(tenant=member.tenant, actor=member.user, numbers=[A], scope="all")
    assert wider.added == [A]
    assert Suppression.objects.for_tenant(member.tenant).get(number=A, removed_at__isnull=True).scope == "all"
    removed = services.suppression_remove_bulk(tenant=member.tenant, actor=member.user, numbers=[A, "13001300001"])
    assert len(removed.added) == 2
    assert blocked_numbers(tenant=member.tenant, numbers=[A], message_class="verification") == {}
    assert Suppression.objects.for_tenant(member.tenant).filter(number=A).count() == 2  # history kept
    actions = list(AuditEvent.objects.filter(tenant=member.tenant).values_list("action", flat=True))
    assert actions.count("suppression.added") == 2 and actions.count("suppression.removed") == 1


def test_complaint_suppresses_and_has_deadlines(member):
    complaint = services.complaint_record(
        tenant=member.tenant, actor=member.user, source="12321", number=A, text="未经同意发送营销短信"
    )
    assert complaint.status == ComplaintStatus.RECEIVED
    assert complaint.acknowledge_due - complaint.received_at == timedelta(hours=24)
    assert complaint.resolve_due - complaint.received_at == timedelta(hours=72)
    assert blocked_numbers(tenant=member.tenant, numbers=[A], message_class="marketing") == {A: "suppressed"}
    assert blocked_numbers(tenant=member.tenant, numbers=[A], message_class="verification") == {}


def test_complaint_workflow(member):
    complaint = services.complaint_record(
        tenant=member.tenant, actor=member.user, source="customer", number=A, text="投诉"
    )
    step = services.complaint_advance
    complaint = step(tenant=member.tenant, actor=member.user, complaint_id=complaint.pk, step="acknowledge")
    assert complaint.status == "acknowledged" and complaint.acknowledged_at
    with pytest.raises(Conflict):
        step(tenant=member.tenant, actor=member.user, complaint_id=complaint.pk, step="acknowledge")
    complaint = step(tenant=member.tenant, actor=member.user, complaint_id=complaint.pk, step="investigate")
    with pytest.raises(Unprocessable) as error:
        step(tenant=member.tenant, actor=member.user, complaint_id=complaint.pk, step="resolve", note=" ")
    assert error.value.code == "note_required"
    complaint = step(
        tenant=member.tenant, actor=member.user, complaint_id=complaint.pk, step="resolve", note="已加入黑名单并致歉"
    )
    assert complaint.status == "resolved" and complaint.resolution_note == "已加入黑名单并致歉"


def test_overdue_timers(tenant):
    from smsportal.factories.compliance import ComplaintFactory

    complaint = ComplaintFactory(tenant=tenant, received_at=timezone.now() - timedelta(hours=30))
    assert complaint.acknowledge_overdue() and not complaint.resolve_overdue()


def delivered_marketing(tenant, count):
    MessageFactory.create_batch(
        count,
        tenant=tenant,
        message_class=MessageClass.MARKETING,
        status=MessageStatus.DELIVERED,
        done_at=timezone.now(),
    )


def test_complaint_rate_per_10k(tenant, member):
    delivered_marketing(tenant, 40)
    MessageFactory(tenant=tenant, message_class=MessageClass.NOTIFICATION, status="delivered", done_at=timezone.now())
    for number in ("13800138001", "13001300001"):
        services.complaint_record(tenant=tenant, actor=member.user, source="carrier", number=number, text="投诉")
    rate = complaint_rates(tenant_ids=[tenant.pk])[tenant.pk]
    assert (rate.complaints, rate.delivered, str(rate.per_10k)) == (2, 40, "500.00")


def test_complaint_threshold_pauses_marketing(tenant, member):
    platform = PlatformComplianceSettings.load()
    platform.complaint_rate_threshold = 100  # per 10,000
    platform.complaint_rate_min_delivered = 50
    platform.save()
    delivered_marketing(tenant, 100)
    ConsentRecordFactory(tenant=tenant, number="+8618912345678")
    services.complaint_record(tenant=tenant, actor=member.user, source="carrier", number=A, text="投诉")
    assert not marketing_paused(tenant=tenant)  # 1 per 100 = exactly 100 per 10,000: not above
    services.complaint_record(tenant=tenant, actor=member.user, source="carrier", number="13001300001", text="投诉")
    assert marketing_paused(tenant=tenant)  # 200 per 10,000
    assert blocked_numbers(tenant=tenant, numbers=["+8618912345678"], message_class="marketing") == {
        "+8618912345678": "marketing_paused"
    }
    assert blocked_numbers(tenant=tenant, numbers=["+8618912345678"], message_class="verification") == {}
    assert AuditEvent.objects.filter(tenant=tenant, action="marketing.paused").exists()
    services.marketing_resume(tenant=tenant, actor=member.user, note="整改完成")
    assert not marketing_paused(tenant=tenant)


def test_few_deliveries_do_not_trigger_a_pause(tenant, member):
    delivered_marketing(tenant, 5)  # below the 1,000 minimum by default
    services.complaint_record(tenant=tenant, actor=member.user, source="carrier", number=A, text="投诉")
    assert not marketing_paused(tenant=tenant)


def test_tenant_caps_may_only_tighten(member):
    with pytest.raises(Unprocessable) as error:
        services.tenant_compliance_settings_update(
            tenant=member.tenant, actor=member.user, retention_days=180, caps={"code_per_day": 50}
        )
    assert "code_per_day" in error.value.fields
    row = services.tenant_compliance_settings_update(
        tenant=member.tenant, actor=member.user, retention_days=200, caps={"code_per_day": 3}
    )
    assert row.code_per_day == 3
    staff_row = services.tenant_compliance_settings_update(
        tenant=member.tenant, actor=member.user, retention_days=200, caps={"code_per_day": 50}, by_staff=True
    )
    assert staff_row.code_per_day == 50


def test_complaint_message_must_be_the_tenants_own(member, outsider):
    theirs = MessageFactory(tenant=outsider.tenant)
    with pytest.raises(Unprocessable) as error:
        services.complaint_record(
            tenant=member.tenant, actor=member.user, source="carrier", number=A, text="投诉", message_id=theirs.pk
        )
    assert error.value.code == "unknown_message"
    mine = MessageFactory(tenant=member.tenant, number=A)
    complaint = services.complaint_record(
        tenant=member.tenant, actor=member.user, source="carrier", number=A, text="投诉", message_id=mine.pk
    )
    assert complaint.message_id == mine.pk


def test_overdue_complaints_are_emailed_once_to_owners_and_admins(tenant, member, outsider, mailoutbox):
    from smsportal.factories import MembershipFactory
    from smsportal.factories.compliance import ComplaintFactory
    from tenants.models import Role

    admin = MembershipFactory(tenant=tenant, role=Role.ADMIN)
    MembershipFactory(tenant=tenant, role=Role.VIEWER)
    now = timezone.now()
    late = ComplaintFactory(tenant=tenant, number=A, received_at=now - timedelta(hours=25))
    ComplaintFactory(tenant=tenant, received_at=now - timedelta(hours=2))  # still in time
    ComplaintFactory(tenant=outsider.tenant, received_at=now - timedelta(hours=1))

    assert services.complaint_overdue_notify(now=now) == 1
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert sorted(email.to) == sorted([member.user.email, admin.user.email])
    assert "138****8001" in email.body and "+8613800138001" not in email.body
    assert services.complaint_overdue_notify(now=now + timedelta(minutes=30)) == 0  # told once
    late.refresh_from_db()
    assert late.acknowledge_overdue_notified_at is not None and late.resolve_overdue_notified_at is None
    # Two days on: this tenant's resolution is late too, and so is the other tenant's acknowledgement.
    assert services.complaint_overdue_notify(now=now + timedelta(hours=48)) == 2
    assert {m.to[0] for m in mailoutbox[1:]} >= {outsider.user.email}
