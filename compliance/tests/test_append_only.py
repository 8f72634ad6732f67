"""The audit log and consent records refuse edits and deletions in the database itself."""

import pytest
from django.db import DatabaseError, transaction

from compliance.audit import audit_record
from compliance.models import AuditEvent, ConsentRecord
from smsportal.factories import UserFactory
from smsportal.factories.compliance import ConsentRecordFactory


def refused(action):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        action()


def test_audit_events_cannot_be_edited_or_deleted(tenant):
    event = audit_record(tenant=tenant, actor=None, action="consent.granted", after={"n": 1})
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(action="consent.revoked"))
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(after={"n": 2}))
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())
    event.refresh_from_db()
    assert event.action == "consent.granted" and event.after == {"n": 1}


def test_consent_records_cannot_be_edited_or_deleted(tenant):
    record = ConsentRecordFactory(tenant=tenant)
    refused(lambda: ConsentRecord.objects.filter(pk=record.pk).update(action="revoke"))
    refused(lambda: ConsentRecord.objects.filter(pk=record.pk).delete())
    assert ConsentRecord.objects.get(pk=record.pk).action == "grant"


def test_deleting_a_user_keeps_their_events_and_records_by_label(tenant):
    user = UserFactory()
    event = audit_record(tenant=tenant, actor=user, action="consent.granted")
    record = ConsentRecordFactory(tenant=tenant, recorded_by=user, recorded_by_label=user.email)
    label = user.email
    user.delete()
    event.refresh_from_db()
    record.refresh_from_db()
    assert event.actor_id is None and event.actor_label == label
    assert record.recorded_by_id is None and record.recorded_by_label == label
    # Only setting the reference to NULL is allowed, not pointing it at someone else.
    other = UserFactory()
    refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(actor=other))
