"""Kill a real dispatcher process with SIGKILL in the middle of a batch; after the leases run
out every message is sent exactly once or explained, nothing stays `submitting`, and no
reservation leaks."""

import signal
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import LedgerEntry
from messaging.adapters.simulated import simulated_events_release
from messaging.dispatch import leases_recover
from messaging.lanes import lane_pass
from messaging.models import Message, SimulatedSubmission
from messaging.receipts import messages_expire, receipts_apply_batch
from messaging.services import message_accept_batch
from messaging.tests.processes import start, stop, wait_for
from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, ready_to_send
from smsportal.factories.tenants import MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)


def counts():
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM messaging_message GROUP BY status")
        return dict(cursor.fetchall())


def test_sigkill_mid_batch_then_recovery():
    tenant = TenantFactory()
    member = MembershipFactory(tenant=tenant)
    template = ready_to_send(
        tenant, kind=MessageClass.NOTIFICATION, body="您的包裹已到达驿站。", variables=[], balance="10000"
    )
    # Slow on purpose (200 msg/s in chunks of 50) so the kill lands inside a batch.
    ChannelFactory(
        rate_limit=200,
        batch_size=50,
        settings={"seed": 3, "latency_median_ms": 5, "lost_rate": 0, "duplicate_rate": 0.05},
    )
    numbers = [f"138{i:08d}" for i in range(1500)]
    results = message_accept_batch(
        tenant=tenant,
        actor=member.user,
        template_id=template.pk,
        recipients=[{"number": n, "variables": {}} for n in numbers],
    )
    ids = [r.message_id for r in results if r.status == "queued"]
    assert len(ids) == 1500

    dispatcher = start(["messaging_lane", "bulk", "--seconds", "120"])
    try:
        wait_for(
            lambda: (c := counts()).get("submitting", 0) > 0 and c.get("submitted", 0) + c.get("delivered", 0) > 100,
            interval=0.05,
        )
        stop(dispatcher, signal.SIGKILL)
    finally:
        stop(dispatcher, signal.SIGKILL)
    stranded = counts().get("submitting", 0)
    assert stranded > 0, counts()

    # Before the lease runs out nobody touches them; after it, the channel is asked.
    assert leases_recover()["submitted"] + leases_recover()["queued"] == 0
    recovered = leases_recover(now=timezone.now() + timedelta(hours=1))
    assert recovered["submitted"] + recovered["queued"] == stranded
    assert counts().get("submitting", 0) == 0

    for _ in range(200):
        if not lane_pass("bulk"):
            break
    simulated_events_release(now=timezone.now() + timedelta(minutes=5), limit=100000)
    while receipts_apply_batch():
        pass
    messages_expire(now=timezone.now() + timedelta(days=1))

    statuses = Counter(Message.objects.filter(pk__in=ids).values_list("status", flat=True))
    assert set(statuses) <= {"delivered", "failed", "expired"}, statuses
    unexplained = Message.objects.filter(pk__in=ids).exclude(status="delivered").filter(failure_reason="")
    assert not unexplained.exists()
    # Exactly once: the carrier accepted each message one time.
    submissions = Counter(SimulatedSubmission.objects.values_list("message_id", flat=True))
    assert set(submissions) == set(ids) and max(submissions.values()) == 1
    # No reservation leak: every reserved message was captured or released.
    kinds = {}
    for message_id, kind in LedgerEntry.objects.filter(message_id__in=ids).values_list("message_id", "kind"):
        kinds.setdefault(message_id, set()).add(kind)
    assert all("reserve" in k and ({"capture", "release"} & k) for k in kinds.values())
    assert len(kinds) == len(ids)
