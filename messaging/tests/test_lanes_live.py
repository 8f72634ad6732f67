"""Both lanes as real django-q2 clusters (separate processes, as in production): a code
accepted while a marketing backlog drains on `bulk` is submitted by `urgent` while that
backlog is still there."""

import pytest

from messaging.models import Message
from messaging.services import message_accept_batch
from messaging.tasks import ensure_schedules
from messaging.tests.processes import start, stop, wait_for
from smsportal.enums import MessageClass
from smsportal.factories.messaging import ChannelFactory, insert_messages, ready_to_send
from smsportal.factories.tenants import MembershipFactory, TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)

BACKLOG = 20000


def queued_marketing():
    return Message.objects.filter(message_class="marketing", status="queued").count()


def test_a_code_is_not_delayed_by_a_marketing_backlog():
    tenant = TenantFactory()
    member = MembershipFactory(tenant=tenant)
    template = ready_to_send(tenant, kind=MessageClass.VERIFICATION)
    ChannelFactory(name="codes", message_classes=["verification", "alert"])
    # The bulk channel is slow on purpose, so the backlog lasts.
    ChannelFactory(name="bulk", message_classes=["marketing", "notification"], rate_limit=300, batch_size=100)
    insert_messages(tenant, BACKLOG)
    ensure_schedules()

    bulk = start(["qcluster"], Q_CLUSTER_NAME="bulk")
    urgent = start(["qcluster"], Q_CLUSTER_NAME="urgent")
    try:
        from django_q.tasks import async_task

        async_task("messaging.tasks.lane_run", "bulk", cluster="bulk")
        wait_for(lambda: queued_marketing() < BACKLOG, timeout=120)  # the bulk lane is draining
        [result] = message_accept_batch(
            tenant=tenant,
            actor=member.user,
            template_id=template.pk,
            recipients=[{"number": "13800138000", "variables": {"code": "123456"}}],
        )
        code = wait_for(
            lambda: Message.objects.filter(pk=result.message_id, status__in=["submitted", "delivered"]).first(),
            timeout=120,
        )
        backlog_left = queued_marketing()
        assert code.channel.name == "codes"
        assert backlog_left > 0, "the backlog was gone before the code went out: the test proved nothing"
    finally:
        stop(urgent)
        stop(bulk)
