from datetime import timedelta

import pytest
from django.utils import timezone

from compliance import services
from compliance.models import ConsentRecord, TenantComplianceSettings
from compliance.retention import retention_purge_all, retention_purge_tenant
from compliance.tasks import COMPLAINT_SCHEDULE_NAME, RETENTION_SCHEDULE_NAME, ensure_schedules
from messaging.models import InboundMessage, Message
from smsportal.errors import Unprocessable
from smsportal.factories.compliance import ConsentRecordFactory
from smsportal.factories.messaging import MessageFactory

NOW = timezone.now()
BODY = "【华美】会员日全场8折，回T退订"


def message(tenant, age, number="+8613800138001"):
    return MessageFactory(tenant=tenant, number=number, body=BODY, accepted_at=NOW - age, status="delivered")


def test_purges_exactly_what_is_older_than_the_retention(tenant):
    old = message(tenant, timedelta(days=180, seconds=1))
    older = message(tenant, timedelta(days=400), number="+8613001300001")
    edge = message(tenant, timedelta(days=180) - timedelta(seconds=1))
    fresh = message(tenant, timedelta(days=3))
    reply_old = InboundMessage.objects.create(
        tenant=tenant, number="+8613800138001", text="TD", received_at=NOW - timedelta(days=200)
    )
    reply_new = InboundMessage.objects.create(
        tenant=tenant, number="+8613800138001", text="好的", received_at=NOW - timedelta(days=10)
    )
    consent = ConsentRecordFactory(tenant=tenant, number="+8613800138001", occurred_at=NOW - timedelta(days=900))

    result = retention_purge_tenant(tenant=tenant, now=NOW, batch_size=1)  # batches of one: the loop must finish

    assert (result.messages, result.replies) == (2, 1)
    for purged, masked in ((old, "138****8001"), (older, "130****0001")):
        purged.refresh_from_db()
        assert purged.body == "" and purged.number == masked
        assert purged.status == "delivered" and purged.segments == 1  # aggregates keep adding up
    for kept in (edge, fresh):
        kept.refresh_from_db()
        assert kept.body == BODY and kept.number == "+8613800138001"
    reply_old.refresh_from_db()
    reply_new.refresh_from_db()
    assert reply_old.text == "" and reply_old.number == "138****8001"
    assert reply_new.text == "好的"
    consent.refresh_from_db()
    assert consent.number == "+8613800138001" and consent.evidence_text  # the proof is kept


def test_longer_retention_keeps_more(tenant, member):
    services.tenant_compliance_settings_update(tenant=tenant, actor=member.user, retention_days=365)
    kept = message(tenant, timedelta(days=300))
    gone = message(tenant, timedelta(days=366))
    retention_purge_tenant(tenant=tenant, now=NOW)
    kept.refresh_from_db()
    gone.refresh_from_db()
    assert kept.body == BODY and gone.body == ""


def test_other_tenants_follow_their_own_retention(tenant, outsider, member):
    services.tenant_compliance_settings_update(tenant=tenant, actor=member.user, retention_days=365)
    mine = message(tenant, timedelta(days=200))
    theirs = message(outsider.tenant, timedelta(days=200))
    retention_purge_all(now=NOW)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.body == BODY and theirs.body == ""


def test_second_run_starts_from_the_watermark_and_finds_nothing(tenant):
    message(tenant, timedelta(days=200))
    assert retention_purge_tenant(tenant=tenant, now=NOW).messages == 1
    assert retention_purge_tenant(tenant=tenant, now=NOW + timedelta(hours=1)).messages == 0
    assert TenantComplianceSettings.objects.get(tenant=tenant).purged_before is not None
    assert Message.objects.filter(body="").count() == 1


@pytest.mark.parametrize("days", [0, 30, 179])
def test_retention_never_below_six_months(tenant, member, days):
    with pytest.raises(Unprocessable) as error:
        services.tenant_compliance_settings_update(tenant=tenant, actor=member.user, retention_days=days)
    assert error.value.code == "retention_too_short"


def test_the_daily_schedule_is_ensured_once(db):
    from django_q.models import Schedule

    ensure_schedules()
    ensure_schedules()
    schedule = Schedule.objects.get(name=RETENTION_SCHEDULE_NAME)
    assert schedule.schedule_type == Schedule.DAILY and schedule.cluster == "bulk"
    assert schedule.func == "compliance.tasks.retention_purge_task"
    assert Schedule.objects.get(name=COMPLAINT_SCHEDULE_NAME).schedule_type == Schedule.HOURLY


def test_consent_records_survive(tenant):
    ConsentRecordFactory(tenant=tenant, occurred_at=NOW - timedelta(days=1000))
    retention_purge_tenant(tenant=tenant, now=NOW)
    assert ConsentRecord.objects.for_tenant(tenant).count() == 1
