from django.utils import timezone

from compliance.gates import blocked_numbers
from compliance.models import AuditEvent, ConsentAction, ConsentRecord, ConsentSource, Suppression
from compliance.services import inbound_reply_handle
from smsportal.factories.compliance import ConsentRecordFactory

A = "+8613800138001"


def test_opt_out_reply_revokes_consent_and_suppresses(tenant):
    ConsentRecordFactory(tenant=tenant, number=A)
    assert inbound_reply_handle(tenant=tenant, number="13800138001", text="ＴＤ", received_at=timezone.now()) is True
    latest = ConsentRecord.objects.for_tenant(tenant).filter(number=A).first()
    assert latest.action == ConsentAction.REVOKE and latest.source == ConsentSource.REPLY
    assert "ＴＤ" in latest.evidence_text
    suppression = Suppression.objects.for_tenant(tenant).get(number=A)
    assert suppression.reason == "unsubscribe" and suppression.scope == "marketing"
    assert blocked_numbers(tenant=tenant, numbers=[A], message_class="marketing") == {A: "suppressed"}
    assert blocked_numbers(tenant=tenant, numbers=[A], message_class="verification") == {}
    assert AuditEvent.objects.filter(tenant=tenant, action="consent.unsubscribe_reply").count() == 1


def test_opt_out_without_consent_still_suppresses(tenant):
    assert inbound_reply_handle(tenant=tenant, number=A, text="退订", received_at=timezone.now()) is True
    assert not ConsentRecord.objects.for_tenant(tenant).exists()
    assert Suppression.objects.for_tenant(tenant).filter(number=A, removed_at__isnull=True).count() == 1


def test_repeated_opt_out_is_idempotent(tenant):
    ConsentRecordFactory(tenant=tenant, number=A)
    for _ in range(2):
        inbound_reply_handle(tenant=tenant, number=A, text="stop", received_at=timezone.now())
    assert ConsentRecord.objects.for_tenant(tenant).filter(number=A, action="revoke").count() == 1
    assert Suppression.objects.for_tenant(tenant).filter(number=A).count() == 1


def test_other_reply_changes_nothing(tenant):
    ConsentRecordFactory(tenant=tenant, number=A)
    assert inbound_reply_handle(tenant=tenant, number=A, text="好的", received_at=timezone.now()) is False
    assert not Suppression.objects.for_tenant(tenant).exists()
    assert ConsentRecord.objects.for_tenant(tenant).count() == 1


def test_opt_out_only_affects_that_tenant(tenant, outsider):
    inbound_reply_handle(tenant=tenant, number=A, text="TD", received_at=timezone.now())
    assert not Suppression.objects.for_tenant(outsider.tenant).exists()
