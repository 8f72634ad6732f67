from datetime import timedelta

import pytest
from django.utils import timezone

from messaging import breaker
from messaging.dispatch import Claimed, channel_minutes_add
from messaging.models import BreakerState, Channel
from messaging.routing import Router
from smsportal.factories.messaging import ChannelFactory
from smsportal.factories.tenants import TenantFactory


def msg(tenant_id=1, carrier="mobile", province="广东省", message_class="verification", id=1):
    return Claimed(id, tenant_id, "+8613800138000", carrier, province, message_class, "x", 1, [], 1, 1)


@pytest.mark.django_db
class TestCandidates:
    def test_carrier_province_and_class_must_match(self):
        ChannelFactory(name="unicom-only", carriers=["unicom"])
        ChannelFactory(name="beijing-only", provinces=["北京市"])
        ChannelFactory(name="marketing-only", message_classes=["marketing"])
        ChannelFactory(name="disabled", enabled=False)
        good = ChannelFactory(name="good", provinces=["广东省"])
        for i in range(20):
            assert Router().choose(msg(id=i)).channel == good

    def test_nothing_serving_is_no_route(self):
        ChannelFactory(carriers=["telecom"])
        choice = Router().choose(msg())
        assert choice.channel is None and not choice.waiting

    def test_open_breaker_is_skipped_and_waits_when_alone(self):
        only = ChannelFactory(breaker_state=BreakerState.OPEN, breaker_opened_at=timezone.now())
        choice = Router().choose(msg())
        assert choice.channel is None and choice.waiting
        other = ChannelFactory()
        assert Router().choose(msg()).channel == other
        assert only.pk

    def test_pinned_tenant_uses_only_its_channels(self):
        tenant = TenantFactory()
        ChannelFactory(name="shared", weight=1000)
        pinned = ChannelFactory(name="dedicated", weight=1)
        pinned.pinned_tenants.add(tenant)
        for i in range(20):
            choice = Router().choose(msg(tenant_id=tenant.pk, id=i))
            assert choice.channel == pinned and choice.reason.startswith("pinned")
        unpinned = {Router().choose(msg(tenant_id=tenant.pk + 1000, id=i)).channel.name for i in range(50)}
        assert "shared" in unpinned

    def test_weight_spreads_traffic(self):
        ChannelFactory(name="heavy", weight=900)
        ChannelFactory(name="light", weight=100)
        router = Router()
        picks = [router.choose(msg(id=i)).channel.name for i in range(1000)]
        assert 800 < picks.count("heavy") < 980

    def test_cheaper_channel_preferred_at_equal_weight(self):
        ChannelFactory(name="cheap", cost_per_message="0.0100")
        ChannelFactory(name="dear", cost_per_message="0.0900")
        router = Router()
        picks = [router.choose(msg(id=i)).channel.name for i in range(1000)]
        assert picks.count("cheap") > picks.count("dear")

    def test_unhealthy_channel_loses_its_traffic(self):
        sick = ChannelFactory(name="sick")
        ChannelFactory(name="fine")
        now = timezone.now()
        channel_minutes_add([(sick.pk, now, {"submitted": 100, "delivered": 50, "failed": 50})])
        router = Router()
        picks = [router.choose(msg(id=i)).channel.name for i in range(500)]
        assert picks.count("sick") < 60

    def test_excluded_channel_is_not_chosen_again(self):
        first = ChannelFactory(name="first")
        second = ChannelFactory(name="second")
        choice = Router().choose(msg(), exclude={first.pk})
        assert choice.channel == second and "another channel" in choice.reason


@pytest.mark.django_db
class TestBreaker:
    def test_opens_after_repeated_errors_half_opens_after_cool_down_and_closes_on_success(self):
        channel = ChannelFactory()
        for _ in range(breaker.OPEN_AFTER - 1):
            breaker.record_failure(channel)
        assert channel.breaker_state == BreakerState.CLOSED and breaker.allow(channel)
        breaker.record_failure(channel)
        assert Channel.objects.get(pk=channel.pk).breaker_state == BreakerState.OPEN
        assert not breaker.allow(channel)
        later = timezone.now() + breaker.COOL_DOWN + timedelta(seconds=1)
        assert breaker.allow(channel, now=later)
        assert Channel.objects.get(pk=channel.pk).breaker_state == BreakerState.HALF_OPEN
        breaker.record_success(channel)
        fresh = Channel.objects.get(pk=channel.pk)
        assert fresh.breaker_state == BreakerState.CLOSED and fresh.consecutive_errors == 0

    def test_a_failed_probe_opens_again(self):
        channel = ChannelFactory(breaker_state=BreakerState.HALF_OPEN, consecutive_errors=5)
        breaker.record_failure(channel)
        assert Channel.objects.get(pk=channel.pk).breaker_state == BreakerState.OPEN

    def test_a_success_resets_the_error_count(self):
        channel = ChannelFactory()
        breaker.record_failure(channel)
        breaker.record_failure(channel)
        breaker.record_success(channel)
        assert Channel.objects.get(pk=channel.pk).consecutive_errors == 0


def test_dispatcher_trips_the_breaker_on_an_outage(tenant, member, code_template):
    from messaging.lanes import lane_pass
    from messaging.services import message_accept_batch

    down = ChannelFactory(settings={"outage": True})
    for i in range(breaker.OPEN_AFTER):
        message_accept_batch(
            tenant=tenant,
            actor=member.user,
            template_id=code_template.pk,
            recipients=[{"number": f"1380013801{i}", "variables": {"code": "123456"}}],
        )
        lane_pass("urgent")
    assert Channel.objects.get(pk=down.pk).breaker_state == BreakerState.OPEN


def test_health_score_from_counters_with_latency(db):
    # PostgreSQL returns sums of integer counters as numeric: the score must still compute.
    from messaging.models import ChannelMinute
    from messaging.routing import channel_health

    slow, fast = ChannelFactory(), ChannelFactory()
    minute = timezone.now().replace(second=0, microsecond=0)
    ChannelMinute.objects.create(
        channel=slow,
        minute=minute,
        submitted=100,
        delivered=90,
        failed=10,
        latency_ms_sum=100 * 6000,
        latency_count=100,
    )
    ChannelMinute.objects.create(
        channel=fast, minute=minute, submitted=100, delivered=99, failed=1, latency_ms_sum=100 * 500, latency_count=100
    )
    health = channel_health([slow.pk, fast.pk])
    assert health[slow.pk].latency_ms == pytest.approx(6000)
    assert health[slow.pk].score == pytest.approx(0.9 * 0.5)
    assert health[fast.pk].score > health[slow.pk].score
    assert isinstance(health[fast.pk].samples, int)
