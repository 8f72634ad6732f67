"""Dispatch → simulated carrier → receipts → money, driven in-process (the lanes' own code)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import LedgerEntry
from messaging.adapters.base import ReceiptReport
from messaging.adapters.simulated import simulated_events_release
from messaging.dispatch import claim, lane_dispatch_batch, leases_recover
from messaging.lanes import lane_pass
from messaging.models import Message, ReceiptRaw, SimulatedSubmission
from messaging.receipts import messages_expire, receipts_apply_batch, receipts_store
from messaging.services import message_accept_batch
from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, MessageFactory, ready_to_send


def send_codes(tenant, member, template, numbers):
    results = message_accept_batch(
        tenant=tenant,
        actor=member.user,
        template_id=template.pk,
        recipients=[{"number": n, "variables": {"code": "123456"}} for n in numbers],
    )
    return [r.message_id for r in results]


def later(seconds=30):
    return timezone.now() + timedelta(seconds=seconds)


def drain_receipts():
    simulated_events_release(now=later(300))
    while receipts_apply_batch():
        pass


def kinds(message_id):
    return sorted(LedgerEntry.objects.filter(message_id=message_id).values_list("kind", flat=True))


def test_code_goes_queued_submitted_delivered_and_is_captured(tenant, member, code_template, channel):
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    assert lane_dispatch_batch("urgent") == 1
    message = Message.objects.get(pk=mid)
    assert message.status == "submitted" and message.channel == channel and message.channel_ref
    assert "candidate" in message.route_reason
    drain_receipts()
    message.refresh_from_db()
    assert message.status == "delivered" and message.done_at and message.raw_status == "DELIVRD"
    assert "capture" in kinds(mid)


def test_failure_reason_from_the_carrier_and_reservation_released(tenant, member, code_template):
    ChannelFactory(
        settings={
            "seed": 1,
            "fail_numbers": {"+8613800138001": "vacant_number"},
            "duplicate_rate": 0,
            "lost_rate": 0,
            "failure_scale": 0,
            "latency_median_ms": 1,
        }
    )
    [mid] = send_codes(tenant, member, code_template, ["13800138001"])
    lane_pass("urgent")
    drain_receipts()
    message = Message.objects.get(pk=mid)
    assert message.status == "failed" and message.failure_reason == "vacant_number" and message.raw_status == "MK:0001"
    assert "release" in kinds(mid) and "capture" not in kinds(mid)


def test_duplicate_and_late_receipts_change_nothing(tenant, member, code_template, channel):
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    drain_receipts()
    done_at = Message.objects.get(pk=mid).done_at
    entries = kinds(mid)
    assert "capture" in entries
    receipts_store(
        channel=channel,
        reports=[
            ReceiptReport(message_id=mid, delivered=True, raw_status="DELIVRD"),
            ReceiptReport(message_id=mid, delivered=False, raw_status="UNDELIV", failure_reason="unreachable"),
        ],
    )
    receipts_apply_batch()
    message = Message.objects.get(pk=mid)
    assert message.status == "delivered" and message.done_at == done_at
    assert kinds(mid) == entries


def test_multipart_settles_as_a_whole_in_any_order(tenant, member, channel):
    template = ready_to_send(tenant, kind=MessageClass.NOTIFICATION, body="长" * 150, variables=[])
    [result] = message_accept_batch(
        tenant=tenant,
        actor=member.user,
        template_id=template.pk,
        recipients=[{"number": "13800138000", "variables": {}}],
    )
    mid = result.message_id
    assert result.segments == 3
    lane_pass("bulk")
    for part in (2, 0, 2):
        receipts_store(channel=channel, reports=[ReceiptReport(message_id=mid, part_index=part, raw_status="DELIVRD")])
        receipts_apply_batch()
        assert Message.objects.get(pk=mid).status == "submitted"
    receipts_store(channel=channel, reports=[ReceiptReport(message_id=mid, part_index=1, raw_status="DELIVRD")])
    receipts_apply_batch()
    assert Message.objects.get(pk=mid).status == "delivered"


def test_a_failed_part_fails_the_whole_message(tenant, member, channel):
    template = ready_to_send(tenant, kind=MessageClass.NOTIFICATION, body="长" * 150, variables=[])
    [result] = message_accept_batch(
        tenant=tenant,
        actor=member.user,
        template_id=template.pk,
        recipients=[{"number": "13800138000", "variables": {}}],
    )
    lane_pass("bulk")
    receipts_store(
        channel=channel,
        reports=[
            ReceiptReport(message_id=result.message_id, part_index=0, raw_status="DELIVRD"),
            ReceiptReport(
                message_id=result.message_id,
                part_index=1,
                delivered=False,
                raw_status="MK:0005",
                failure_reason="unreachable",
            ),
        ],
    )
    receipts_apply_batch()
    message = Message.objects.get(pk=result.message_id)
    assert message.status == "failed" and message.failure_reason == "unreachable"


def test_receipt_before_the_submit_is_recorded(tenant, member, code_template, channel):
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    claim("urgent", 10)
    receipts_store(channel=channel, reports=[ReceiptReport(message_id=mid, raw_status="DELIVRD")])
    receipts_apply_batch()
    assert Message.objects.get(pk=mid).status == "delivered"


def test_receipt_matched_by_channel_reference(tenant, member, code_template, channel):
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    ref = Message.objects.get(pk=mid).channel_ref
    receipts_store(channel=channel, reports=[ReceiptReport(channel_ref=ref, raw_status="DELIVRD")])
    receipts_apply_batch()
    assert Message.objects.get(pk=mid).status == "delivered"


def test_no_receipt_within_the_timeout_expires_and_releases(tenant, member, code_template):
    ChannelFactory(receipt_timeout_seconds=60, settings={"lost_rate": 1.0, "failure_scale": 0})
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    assert messages_expire() == 0
    assert messages_expire(now=later(61)) == 1
    message = Message.objects.get(pk=mid)
    assert message.status == "expired" and message.failure_reason == "expired"
    assert "release" in kinds(mid)
    drain_receipts()  # nothing arrives; a late one would not revive it either
    assert Message.objects.get(pk=mid).status == "expired"


def test_retriable_error_moves_to_another_channel_once(tenant, member, code_template):
    down = ChannelFactory(name="down", weight=1000000, settings={"outage": True})
    up = ChannelFactory(name="up", weight=1)
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    message = Message.objects.get(pk=mid)
    assert message.status in ("submitted", "delivered") and message.channel == up
    assert "another channel" in message.route_reason
    assert down.pk in message.tried_channel_ids


def test_retriable_everywhere_goes_back_to_the_queue_then_fails(tenant, member, code_template):
    ChannelFactory(name="down-1", settings={"outage": True})
    ChannelFactory(name="down-2", settings={"outage": True})
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    message = Message.objects.get(pk=mid)
    assert message.status == "queued" and message.send_at > timezone.now()
    for _ in range(3):
        Message.objects.filter(pk=mid).update(send_at=None)
        lane_pass("urgent")
    message.refresh_from_db()
    assert message.status == "failed" and message.failure_reason == "channel_error"
    assert "release" in kinds(mid)


def test_no_channel_fails_with_no_route(tenant, member, code_template):
    ChannelFactory(carriers=["unicom"])
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    message = Message.objects.get(pk=mid)
    assert message.status == "failed" and message.failure_reason == "no_route"


def test_lease_recovery_asks_the_channel(tenant, member, code_template, channel):
    sent, unsent, unrouted = send_codes(tenant, member, code_template, ["13800138000", "13800138002", "13800138004"])
    claim("urgent", 10)
    Message.objects.filter(pk__in=[sent, unsent]).update(channel=channel)
    SimulatedSubmission.objects.create(channel=channel, message_id=sent, channel_ref="REF-1")
    assert leases_recover() == {"submitted": 0, "queued": 0, "unknown": 0}  # leases still running
    counts = leases_recover(now=later(3600))
    assert counts == {"submitted": 1, "queued": 2, "unknown": 0}
    assert Message.objects.get(pk=sent).status == "submitted"
    assert Message.objects.get(pk=sent).channel_ref == "REF-1"
    assert Message.objects.get(pk=unsent).status == "queued"
    assert Message.objects.get(pk=unrouted).status == "queued"


def test_lanes_claim_only_their_own_classes(tenant, channel):
    MessageFactory.create_batch(30, tenant=tenant, message_class=MessageClass.MARKETING, priority=9)
    codes = MessageFactory.create_batch(2, tenant=tenant, message_class=MessageClass.VERIFICATION, priority=1)
    claimed = claim("urgent", 10)
    assert sorted(m.id for m in claimed) == sorted(m.id for m in codes)
    assert not claim("urgent", 10)
    assert {m.message_class for m in claim("bulk", 100)} == {"marketing"}


def test_claims_are_ordered_by_priority_then_age(tenant, channel):
    marketing = MessageFactory(tenant=tenant, message_class=MessageClass.MARKETING, priority=9)
    notice = MessageFactory(tenant=tenant, message_class=MessageClass.NOTIFICATION, priority=5)
    assert [m.id for m in claim("bulk", 1)] == [notice.id]
    assert [m.id for m in claim("bulk", 1)] == [marketing.id]


def test_scheduled_messages_wait_for_their_time(tenant, channel):
    MessageFactory(tenant=tenant, send_at=later(600))
    assert not claim("bulk", 10)


def test_within_a_priority_the_earliest_due_goes_first_and_a_future_backlog_is_never_read(tenant, channel):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    parked = MessageFactory.create_batch(50, tenant=tenant, message_class=MessageClass.MARKETING, send_at=later(3600))
    retried = MessageFactory(tenant=tenant, send_at=later(-30))  # re-queued with a backoff that has passed
    fresh = MessageFactory(tenant=tenant)  # accepted now, due now
    queued_later_but_due_first = MessageFactory(tenant=tenant, send_at=later(-60))
    with CaptureQueriesContext(connection) as queries:
        claimed = [m.id for m in claim("bulk", 10)]
    assert claimed == [queued_later_but_due_first.id, retried.id, fresh.id]
    # The parked marketing rows stay untouched and are found again once due.
    assert Message.objects.filter(pk__in=[m.pk for m in parked], status="queued").count() == 50
    assert len(claim("bulk", 100, now=later(3601))) == 50
    plans = []
    with connection.cursor() as cursor:
        for query in queries.captured_queries:
            if "FOR UPDATE SKIP LOCKED" in query["sql"]:
                cursor.execute("EXPLAIN " + query["sql"])
                plans.append("\n".join(row[0] for row in cursor.fetchall()))
    # One claim per priority present (notification, marketing), each bounded by the due time
    # inside the queue index rather than filtered after reading every queued row.
    assert len(plans) == 2 and all("msg_queue" in plan and "COALESCE" in plan.split("Filter")[0] for plan in plans)


def test_raw_receipts_are_kept(tenant, member, code_template, channel):
    [mid] = send_codes(tenant, member, code_template, ["13800138000"])
    lane_pass("urgent")
    drain_receipts()
    assert ReceiptRaw.objects.filter(message_id=mid, applied_at__isnull=False).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_appliers_settle_each_message_once(tenant, member, code_template, channel):
    """The bulk lane applies receipts in two threads. With every receipt sent three times (the
    copies shuffled so both appliers hold some of each message's), every message is
    settled exactly once: one final status, one capture, no deadlock, nothing left behind."""
    import random
    import threading

    from django.db import connection

    numbers = [f"1380013{i:04d}" for i in range(300)]
    ids = send_codes(tenant, member, code_template, numbers)
    while lane_dispatch_batch("urgent"):
        pass
    reports = [ReceiptReport(message_id=mid, delivered=True, raw_status="DELIVRD") for mid in ids] * 3
    random.Random(5).shuffle(reports)  # every batch shares messages with the batches beside it
    receipts_store(channel=channel, reports=reports)
    errors = []

    def applier():
        try:
            while receipts_apply_batch(limit=37):
                pass
        except Exception as error:  # reported below, with the thread's own failure
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=applier) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert not ReceiptRaw.objects.filter(applied_at__isnull=True).exists()
    assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"delivered"}
    captures = LedgerEntry.objects.filter(message_id__in=ids, kind="capture")
    assert captures.count() == len(ids)
    assert LedgerEntry.objects.filter(message_id__in=ids, kind="release").count() == len(ids)
