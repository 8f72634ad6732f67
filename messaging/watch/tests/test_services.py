from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from messaging.models import ChannelMinute, ReceiptRaw
from messaging.watch.models import ChannelHealthSnapshot, Incident
from messaging.watch.services import incident_acknowledge, incident_resolve, watch_run
from messaging.webhooks.testing import RecordingServer
from smsportal.errors import Forbidden
from smsportal.factories.messaging import ChannelFactory, MessageFactory

pytestmark = pytest.mark.django_db


def _minute(channel, now, **counts):
    ChannelMinute.objects.create(channel=channel, minute=now.replace(second=0, microsecond=0), **counts)


def test_breaker_open_opens_one_incident_alerts_once_and_recovery_resolves(staff_user, settings):
    settings.ONCALL_WEBHOOK_URL = ""
    channel = ChannelFactory(name="移动-主通道", breaker_state="open", breaker_opened_at=timezone.now())

    first = watch_run()
    assert [(i.kind, i.subject) for i in first.opened] == [("breaker_open", f"channel:{channel.pk}")]
    assert len(mail.outbox) == 1 and staff_user.email in mail.outbox[0].to
    assert "移动-主通道" in mail.outbox[0].subject
    assert "/staff/messaging/incidents/" in mail.outbox[0].body

    second = watch_run(now=timezone.now() + timedelta(minutes=1))
    assert second.opened == [] and Incident.objects.count() == 1
    assert len(mail.outbox) == 1  # still open: no new alert

    channel.breaker_state = "closed"
    channel.save()
    third = watch_run(now=timezone.now() + timedelta(minutes=2))
    [incident] = third.resolved
    assert incident.resolved_at and incident.recovered_at and incident.resolved_by is None
    assert len(mail.outbox) == 2
    assert [n["event"] for n in Incident.objects.get().notifications] == ["incident.opened", "incident.resolved"]

    channel.breaker_state = "open"
    channel.save()
    watch_run(now=timezone.now() + timedelta(minutes=3))
    assert Incident.objects.count() == 2  # a new occurrence is a new incident


def test_disabled_channels_are_not_watched(staff_user):
    ChannelFactory(enabled=False, breaker_state="open")
    assert watch_run().opened == []


def test_low_delivery_rate_needs_a_sample_and_a_bad_rate(staff_user):
    now = timezone.now()
    bad = ChannelFactory(name="bad")
    good = ChannelFactory(name="good")
    few = ChannelFactory(name="few")
    _minute(bad, now, submitted=100, delivered=60, failed=30, expired=10)
    _minute(good, now, submitted=100, delivered=98, failed=2)
    _minute(few, now, submitted=5, delivered=1, failed=4)
    _minute(good, now - timedelta(minutes=30), submitted=100, failed=100)  # outside the window

    report = watch_run(now=now)
    assert [(i.kind, i.channel_id) for i in report.opened] == [("low_delivery_rate", bad.pk)]
    assert report.opened[0].details["delivery_rate"] == 0.6
    snapshots = {s.channel_id: s for s in ChannelHealthSnapshot.objects.all()}
    assert snapshots[good.pk].delivery_rate == 0.98 and snapshots[few.pk].delivery_rate is None


def test_slow_arrival_of_codes_on_a_channel(tenant, staff_user):
    now = timezone.now()
    slow = ChannelFactory(name="slow")
    fast = ChannelFactory(name="fast")
    for channel, seconds in ((slow, 6.0), (fast, 0.8)):
        for _ in range(25):
            accepted = now - timedelta(seconds=30)
            message = MessageFactory(
                tenant=tenant,
                channel=channel,
                message_class="verification",
                status="delivered",
                accepted_at=accepted,
                submitted_at=accepted + timedelta(milliseconds=100),
            )
            ReceiptRaw.objects.create(
                channel=channel,
                message_id=message.id,
                delivered=True,
                raw_status="DELIVRD",
                reported_at=accepted + timedelta(seconds=seconds),
            )
    report = watch_run(now=now)
    assert [(i.kind, i.subject) for i in report.opened] == [("slow_arrival", f"channel:{slow.pk}:verification")]
    snapshot = ChannelHealthSnapshot.objects.get(channel=fast)
    assert 600 < snapshot.receipt_p50_ms < 800 and snapshot.arrival_p95_ms == 800


def test_lane_backlog_older_than_its_class_target(tenant, staff_user):
    now = timezone.now()
    MessageFactory(tenant=tenant, message_class="verification", status="queued", accepted_at=now - timedelta(seconds=8))
    MessageFactory(tenant=tenant, message_class="alert", status="queued", accepted_at=now - timedelta(seconds=0.5))
    MessageFactory(tenant=tenant, message_class="marketing", status="queued", accepted_at=now - timedelta(hours=1))
    MessageFactory(
        tenant=tenant,
        message_class="notification",
        status="queued",
        accepted_at=now - timedelta(hours=1),
        send_at=now + timedelta(minutes=5),  # scheduled: not due yet
    )
    report = watch_run(now=now)
    assert [(i.kind, i.subject, i.lane) for i in report.opened] == [("lane_backlog", "class:verification", "urgent")]
    assert report.opened[0].details["target_seconds"] == 3


def test_oncall_webhook_receives_open_and_resolve(staff_user, settings):
    with RecordingServer() as oncall:
        settings.ONCALL_WEBHOOK_URL = oncall.url + "/alerts"
        channel = ChannelFactory(breaker_state="open")
        watch_run()
        channel.breaker_state = "closed"
        channel.save()
        watch_run(now=timezone.now() + timedelta(minutes=1))
    assert [r.json()["event"] for r in oncall.requests] == ["incident.opened", "incident.resolved"]
    assert oncall.requests[0].path == "/alerts"
    assert oncall.requests[0].json()["incident"]["kind"] == "breaker_open"
    incident = Incident.objects.get()
    assert any(n["via"] == "webhook" and n["ok"] for n in incident.notifications)


def test_an_unreachable_oncall_tool_is_recorded_not_fatal(staff_user, settings):
    settings.ONCALL_WEBHOOK_URL = "http://127.0.0.1:9/down"
    ChannelFactory(breaker_state="open")
    report = watch_run()
    [incident] = report.opened
    incident.refresh_from_db()
    assert [n["ok"] for n in incident.notifications if n["via"] == "webhook"] == [False]


def test_acknowledge_and_resolve_measure_time_to_acknowledge(staff_user):
    ChannelFactory(breaker_state="open")
    started = timezone.now()
    [incident] = watch_run(now=started).opened
    incident = incident_acknowledge(actor=staff_user, incident_id=incident.id, now=started + timedelta(minutes=12))
    assert incident.time_to_acknowledge == timedelta(minutes=12)
    # A second acknowledgement keeps the first time.
    incident = incident_acknowledge(actor=staff_user, incident_id=incident.id, now=started + timedelta(minutes=50))
    assert incident.time_to_acknowledge == timedelta(minutes=12)
    incident = incident_resolve(actor=staff_user, incident_id=incident.id, note="switched to backup")
    assert incident.resolved_by == staff_user and incident.details["resolution_note"] == "switched to backup"


def test_only_staff_handle_incidents(member):
    ChannelFactory(breaker_state="open")
    [incident] = watch_run().opened
    with pytest.raises(Forbidden):
        incident_acknowledge(actor=member.user, incident_id=incident.id)
    with pytest.raises(Forbidden):
        incident_resolve(actor=member.user, incident_id=incident.id)


def test_ensure_schedules_is_idempotent():
    from django_q.models import Schedule

    from messaging.watch.tasks import ensure_schedules
    from messaging.webhooks.tasks import ensure_schedules as ensure_webhook_schedules

    for _ in range(2):
        ensure_schedules()
        ensure_webhook_schedules()
    names = sorted(Schedule.objects.values_list("name", "cluster"))
    assert names == [
        ("watch.prune", "bulk"),
        ("watch.run", "urgent"),
        ("webhooks.deliver", "bulk"),
        ("webhooks.prune", "bulk"),
    ]


def test_an_incident_nobody_acknowledges_in_30_minutes_is_escalated_once(staff_user, settings):
    settings.ONCALL_WEBHOOK_URL = ""
    ChannelFactory(breaker_state="open")
    start = timezone.now()
    [incident] = watch_run(now=start).opened
    assert watch_run(now=start + timedelta(minutes=29)).overdue == []
    assert [i.id for i in watch_run(now=start + timedelta(minutes=31)).overdue] == [incident.id]
    assert watch_run(now=start + timedelta(minutes=32)).overdue == []
    assert len(mail.outbox) == 2 and "30" in mail.outbox[1].subject
    incident.refresh_from_db()
    assert [n["event"] for n in incident.notifications] == ["incident.opened", "incident.overdue"]


def test_an_acknowledged_incident_is_not_escalated(staff_user):
    ChannelFactory(breaker_state="open")
    start = timezone.now()
    [incident] = watch_run(now=start).opened
    incident_acknowledge(actor=staff_user, incident_id=incident.id, now=start + timedelta(minutes=5))
    assert watch_run(now=start + timedelta(minutes=40)).overdue == []
