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


# --- Contact lists, uploads, campaign recipients, webhooks ------------------------------


OLD = timedelta(days=200)


def age(model, objects, delta, *, created=True):
    """Backdate rows (updated_at is auto_now: only an UPDATE can set it)."""
    values = {"updated_at": NOW - delta}
    if created:
        values["created_at"] = NOW - delta
    model.objects.filter(pk__in=[o.pk for o in objects]).update(**values)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def contact_list(tenant, numbers, *, old=(), list_age=None):
    from campaigns.models import Contact, ContactList
    from smsportal.factories.campaigns import ContactListFactory, add_contacts

    made = ContactListFactory(tenant=tenant)
    contacts = add_contacts(made, [(n, {"name": "张三"}) for n in numbers])
    age(Contact, [c for c in contacts if c.number in old], OLD)
    if list_age is not None:
        age(ContactList, [made], list_age)
    return made


def campaign(tenant, status, lists=(), *, finished=None, edited=None):
    from campaigns.models import Campaign

    made = Campaign.objects.create(tenant=tenant, name=f"活动{status}", status=status, finished_at=finished)
    made.contact_lists.set(lists)
    if edited is not None:
        Campaign.objects.filter(pk=made.pk).update(updated_at=edited)
    return made


def upload(contact_list_obj, *, old: bool, rejections=2):
    from django.core.files.base import ContentFile

    from campaigns.models import ContactImport, ImportRejection

    made = ContactImport.objects.create(
        tenant_id=contact_list_obj.tenant_id,
        contact_list=contact_list_obj,
        file=ContentFile("手机号\n13800138001\n".encode(), name="members.csv"),
        original_name="members.csv",
        file_format="csv",
        status=ContactImport.Status.DONE,
    )
    rows = ImportRejection.objects.bulk_create(
        [
            ImportRejection(tenant_id=made.tenant_id, contact_import=made, row_number=i + 2, raw_number="1380013")
            for i in range(rejections)
        ]
    )
    if old:
        age(ContactImport, [made], OLD)
        age(ImportRejection, rows, OLD)
    return made


X, Y, Z = "+8613800138001", "+8613001300001", "+8618912345678"


def test_contacts_not_imported_again_within_the_period_are_deleted(tenant, outsider):
    from campaigns.models import Contact, ContactList

    mine = contact_list(tenant, [X, Y, Z], old=[X, Y])
    theirs = contact_list(outsider.tenant, [X, Y], old=[X, Y])

    result = retention_purge_tenant(tenant=tenant, now=NOW, batch_size=1)

    assert result.contacts == 2
    assert list(Contact.objects.filter(contact_list=mine).values_list("number", flat=True)) == [Z]
    assert ContactList.objects.get(pk=mine.pk).contact_count == 1  # the count follows
    assert Contact.objects.filter(contact_list=theirs).count() == 2  # their own retention, their own run
    assert result.contact_lists == 0  # the list still has a contact


def test_lists_a_campaign_may_still_send_to_keep_their_contacts(tenant):
    from campaigns.models import Contact, ContactList

    running = contact_list(tenant, [X], old=[X], list_age=OLD)
    paused = contact_list(tenant, [X], old=[X], list_age=OLD)
    fresh_draft = contact_list(tenant, [X], old=[X], list_age=OLD)
    stale_draft = contact_list(tenant, [X], old=[X], list_age=OLD)
    finished = contact_list(tenant, [X], old=[X], list_age=OLD)
    campaign(tenant, "running", [running])
    campaign(tenant, "paused", [paused])
    campaign(tenant, "draft", [fresh_draft], edited=NOW - timedelta(days=3))
    campaign(tenant, "draft", [stale_draft], edited=NOW - OLD)
    done = campaign(tenant, "completed", [finished], finished=NOW - timedelta(days=2))

    result = retention_purge_tenant(tenant=tenant, now=NOW)

    assert result.contacts == 2 and result.contact_lists == 2
    left = set(Contact.objects.for_tenant(tenant).values_list("contact_list_id", flat=True))
    assert left == {running.pk, paused.pk, fresh_draft.pk}
    assert not ContactList.objects.filter(pk__in=[stale_draft.pk, finished.pk]).exists()
    assert list(done.contact_lists.all()) == []  # the finished campaign stays, without the list


def test_an_import_in_progress_keeps_its_list(tenant, media):
    from campaigns.models import Contact, ContactImport

    busy = contact_list(tenant, [X], old=[X], list_age=OLD)
    running_import = upload(busy, old=True)
    ContactImport.objects.filter(pk=running_import.pk).update(status=ContactImport.Status.RUNNING)
    result = retention_purge_tenant(tenant=tenant, now=NOW)
    assert result.contacts == 0 and Contact.objects.filter(contact_list=busy).count() == 1
    running_import.refresh_from_db()
    assert running_import.file and running_import.rejections.count() == 2


def test_an_empty_list_untouched_for_the_period_goes_with_its_uploads(tenant, media):
    from campaigns.models import ContactImport, ContactList, ImportRejection

    stale = contact_list(tenant, [X, Y], old=[X, Y], list_age=OLD)
    stale_upload = upload(stale, old=True)
    path = media / stale_upload.file.name
    assert path.exists()
    recent = contact_list(tenant, [X], old=[X])  # emptied now, but created within the period: stays

    result = retention_purge_tenant(tenant=tenant, now=NOW)

    assert (result.contacts, result.contact_lists, result.contact_files, result.import_rejections) == (3, 1, 1, 2)
    assert not ContactList.objects.filter(pk=stale.pk).exists()
    assert not ContactImport.objects.filter(pk=stale_upload.pk).exists()
    assert not ImportRejection.objects.exists() and not path.exists()
    assert ContactList.objects.get(pk=recent.pk).contact_count == 0


def test_old_uploads_of_a_living_list_lose_their_file_and_rejections(tenant, media):
    living = contact_list(tenant, [X])
    old_upload = upload(living, old=True)
    new_upload = upload(living, old=False)
    old_path, new_path = media / old_upload.file.name, media / new_upload.file.name

    result = retention_purge_tenant(tenant=tenant, now=NOW, batch_size=1)

    assert (result.contact_files, result.import_rejections) == (1, 2)
    old_upload.refresh_from_db()
    new_upload.refresh_from_db()
    assert not old_upload.file and not old_path.exists() and old_upload.rejections.count() == 0
    assert old_upload.imported == 0 and old_upload.original_name == "members.csv"  # the summary stays
    assert new_upload.file and new_path.exists() and new_upload.rejections.count() == 2


def test_finished_campaigns_recipients_lose_their_numbers_not_their_clicks(tenant, outsider):
    from campaigns.models import CampaignRecipient

    def recipients(made, clicks=(0, 3)):
        return CampaignRecipient.objects.bulk_create(
            [
                CampaignRecipient(tenant_id=made.tenant_id, campaign=made, number=number, clicks=count)
                for number, count in zip((X, Y), clicks, strict=True)
            ]
        )

    old_done = campaign(tenant, "completed", finished=NOW - OLD)
    old_cancelled = campaign(tenant, "cancelled", edited=NOW - OLD)
    recent = campaign(tenant, "completed", finished=NOW - timedelta(days=10))
    theirs = campaign(outsider.tenant, "completed", finished=NOW - OLD)
    for made in (old_done, old_cancelled, recent, theirs):
        recipients(made)

    result = retention_purge_tenant(tenant=tenant, now=NOW, batch_size=3)

    assert result.campaign_recipients == 4
    for made in (old_done, old_cancelled):
        rows = list(CampaignRecipient.objects.filter(campaign=made).order_by("id"))
        assert [r.number for r in rows] == [f"#{r.pk}" for r in rows]
        assert sum(r.clicks for r in rows) == 3
    for made in (recent, theirs):
        assert set(CampaignRecipient.objects.filter(campaign=made).values_list("number", flat=True)) == {X, Y}
    assert retention_purge_tenant(tenant=tenant, now=NOW).campaign_recipients == 0  # idempotent


def test_old_webhook_events_and_their_attempts_go(tenant, outsider):
    from messaging.webhooks.models import WebhookAttempt, WebhookEvent
    from smsportal.factories.webhooks import WebhookEventFactory

    def event(owner, status, *, old, give_up_in=timedelta(hours=24)):
        made = WebhookEventFactory(
            tenant=owner,
            status=status,
            payload={"number": X, "text": "退订"},
            give_up_at=NOW + give_up_in,
        )
        WebhookAttempt.objects.create(
            tenant=owner, event=made, number=1, attempted_at=NOW, url="http://127.0.0.1:9/hook", outcome="delivered"
        )
        if old:
            age(WebhookEvent, [made], OLD)
        return made

    gone = [
        event(tenant, "delivered", old=True),
        event(tenant, "failed", old=True),
        event(tenant, "pending", old=True, give_up_in=-OLD),  # long given up, never marked
    ]
    kept = [
        event(tenant, "pending", old=True),  # still retrying: the delivery worker settles it
        event(tenant, "delivered", old=False),
        event(outsider.tenant, "delivered", old=True),
    ]

    result = retention_purge_tenant(tenant=tenant, now=NOW, batch_size=2)

    assert (result.webhook_events, result.webhook_attempts) == (3, 3)
    assert not WebhookEvent.objects.filter(pk__in=[e.pk for e in gone]).exists()
    assert not WebhookAttempt.objects.filter(event_id__in=[e.pk for e in gone]).exists()
    assert WebhookEvent.objects.filter(pk__in=[e.pk for e in kept]).count() == 3
    assert WebhookAttempt.objects.filter(event_id__in=[e.pk for e in kept]).count() == 3


def test_the_proof_and_the_audit_log_are_kept(tenant, member, media):
    from compliance.models import AuditEvent, Complaint, Suppression
    from smsportal.factories.compliance import ComplaintFactory, SuppressionFactory

    ConsentRecordFactory(tenant=tenant, number=X, occurred_at=NOW - timedelta(days=10))
    SuppressionFactory(tenant=tenant, number=X)
    ComplaintFactory(tenant=tenant, number=X, received_at=NOW - timedelta(days=10))
    services.suppression_add_bulk(tenant=tenant, actor=member.user, numbers=[Y])
    contact_list(tenant, [X], old=[X], list_age=OLD)
    message(tenant, OLD, number=X)
    later = NOW + timedelta(days=1000)  # everything above is far older than the period then

    result = retention_purge_tenant(tenant=tenant, now=later)

    assert result.messages == 1 and result.contacts == 1 and result.contact_lists == 1
    assert ConsentRecord.objects.for_tenant(tenant).get().number == X
    assert Suppression.objects.for_tenant(tenant).filter(number__in=[X, Y]).count() == 2
    assert Complaint.objects.for_tenant(tenant).get().number == X
    assert AuditEvent.objects.filter(tenant=tenant, action="suppression.added").exists()
    purge = AuditEvent.objects.get(tenant=tenant, action="retention.purged")
    assert purge.after["contacts"] == 1 and purge.after["messages"] == 1 and purge.after["retention_days"] == 180


def test_the_daily_task_reports_every_kind(tenant):
    from compliance.tasks import retention_purge_task

    message(tenant, OLD)
    report = retention_purge_task()[str(tenant.pk)]
    assert report["messages"] == 1 and {"contacts", "webhook_events", "campaign_recipients"} <= set(report)


def test_the_purge_is_set_based(tenant, media):
    """The same statements whatever the number of rows (all within one batch)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.models import CampaignRecipient
    from smsportal.factories.campaigns import sample_numbers

    def run(count, start):
        numbers = [f"+86{n}" for n in sample_numbers(count, start=start)]
        for number in numbers:
            message(tenant, OLD, number=number)
        contact_list(tenant, numbers, old=numbers)
        done = campaign(tenant, "completed", finished=NOW - OLD)
        CampaignRecipient.objects.bulk_create(
            [CampaignRecipient(tenant_id=tenant.pk, campaign=done, number=n) for n in numbers]
        )
        TenantComplianceSettings.objects.filter(tenant=tenant).update(purged_before=None)
        with CaptureQueriesContext(connection) as queries:
            result = retention_purge_tenant(tenant=tenant, now=NOW)
        assert (result.messages, result.contacts, result.campaign_recipients) == (count, count, count)
        return len(queries)

    TenantComplianceSettings.objects.create(tenant=tenant)
    assert run(3, 0) == run(30, 100)
