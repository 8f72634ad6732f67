"""The compliance gates through the real accept path (messaging.services.message_accept_batch):
a marketing send to a revoked, unsubscribed or suppressed number is refused, a code to the same
number still goes unless the suppression's scope is "all"; a paused tenant's marketing is
refused; a capped code is rejected with `rate_limited`."""

from decimal import Decimal

import pytest
from django.utils import timezone

from compliance import services
from compliance.models import PlatformComplianceSettings
from messaging.services import message_accept_batch
from smsportal.enums import FailureReason, MessageClass, MessageStatus
from smsportal.factories.compliance import ConsentRecordFactory
from smsportal.factories.messaging import MessageFactory, ready_to_send

REVOKED, SUPPRESSED, UNSUBSCRIBED, FINE = "+8613800138001", "+8613001300001", "+8618912345678", "+8613900139000"


@pytest.fixture
def templates(tenant):
    marketing = ready_to_send(tenant, kind=MessageClass.MARKETING, body="双十一全场五折，回T退订", variables=[])
    code = ready_to_send(tenant, kind=MessageClass.VERIFICATION, balance="")
    return {"marketing": marketing, "code": code}


def send(member, template, numbers, **variables):
    results = message_accept_batch(
        tenant=member.tenant,
        actor=member.user,
        template_id=template.pk,
        recipients=[{"number": n, "variables": variables} for n in numbers],
    )
    return {r.number: (r.status, r.reason) for r in results}


@pytest.fixture
def consented(tenant):
    for number in (REVOKED, SUPPRESSED, UNSUBSCRIBED, FINE):
        ConsentRecordFactory(tenant=tenant, number=number)


def test_marketing_is_refused_where_consent_or_suppression_says_so_codes_still_go(member, templates, consented):
    tenant = member.tenant
    services.consent_revoke(tenant=tenant, actor=member.user, number=REVOKED, purpose="marketing")
    services.suppression_add(tenant=tenant, actor=member.user, number=SUPPRESSED, reason="manual", scope="marketing")
    services.inbound_reply_handle(tenant=tenant, number=UNSUBSCRIBED, text=" 退订。", received_at=timezone.now())

    marketing = send(member, templates["marketing"], [REVOKED, SUPPRESSED, UNSUBSCRIBED, FINE])
    assert marketing == {
        REVOKED: (MessageStatus.REJECTED, FailureReason.NO_CONSENT),
        SUPPRESSED: (MessageStatus.REJECTED, FailureReason.SUPPRESSED),
        UNSUBSCRIBED: (MessageStatus.REJECTED, FailureReason.SUPPRESSED),
        FINE: (MessageStatus.QUEUED, ""),
    }
    codes = send(member, templates["code"], [REVOKED, SUPPRESSED, UNSUBSCRIBED], code="123456")
    assert {status for status, _reason in codes.values()} == {MessageStatus.QUEUED}

    # Widened to "all messages": now even a verification code is refused.
    services.suppression_add(tenant=tenant, actor=member.user, number=SUPPRESSED, reason="manual", scope="all")
    later = send(member, templates["code"], [SUPPRESSED], code="654321")
    assert later == {SUPPRESSED: (MessageStatus.REJECTED, FailureReason.SUPPRESSED)}


def test_a_paused_tenants_marketing_is_refused_codes_still_go(member, templates, consented):
    tenant = member.tenant
    PlatformComplianceSettings.objects.filter(pk=1).delete()
    PlatformComplianceSettings.objects.create(
        pk=1, complaint_rate_threshold=Decimal("100"), complaint_rate_min_delivered=10
    )
    MessageFactory.create_batch(
        10, tenant=tenant, message_class=MessageClass.MARKETING, status=MessageStatus.DELIVERED, done_at=timezone.now()
    )
    services.complaint_record(tenant=tenant, actor=member.user, source="carrier", number=REVOKED, text="投诉")

    assert send(member, templates["marketing"], [FINE]) == {
        FINE: (MessageStatus.REJECTED, FailureReason.MARKETING_PAUSED)
    }
    assert send(member, templates["code"], [FINE], code="123456")[FINE][0] == MessageStatus.QUEUED
    services.marketing_resume(tenant=tenant, actor=member.user, note="整改完成")
    assert send(member, templates["marketing"], [FINE])[FINE][0] == MessageStatus.QUEUED


def test_a_capped_code_is_rejected_rate_limited(member, templates):
    first = send(member, templates["code"], [FINE], code="111111")
    second = send(member, templates["code"], [FINE], code="222222")
    assert first[FINE] == (MessageStatus.QUEUED, "")
    assert second[FINE] == (MessageStatus.REJECTED, FailureReason.RATE_LIMITED)
