"""Rollups: the incremental path (status listener + sweep) and the rebuild give identical rows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.models import LedgerEntry
from messaging.events import emit_status_changes
from messaging.models import Message
from reports import selectors
from reports.models import MessageRollup
from reports.rollups import rollup_rebuild, rollup_refresh

NOW = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)
ROLLUP_FIELDS = [
    "tenant_id",
    "hour",
    "grain",
    "carrier",
    "province",
    "channel_id",
    "template_id",
    "message_class",
    "campaign_id",
    "accepted",
    "rejected",
    "submitted",
    "delivered",
    "failed",
    "expired",
    "failures",
    "segments",
    "cost",
    "lat_1",
    "lat_2",
    "lat_3",
    "lat_5",
    "lat_10",
    "lat_30",
    "lat_60",
    "lat_more",
]


def make_messages(tenant, specs):
    """specs: (accepted offset minutes, carrier, class, status, reason, arrival seconds, segments)."""
    rows = []
    for minutes, carrier, message_class, status, reason, arrival, segments in specs:
        accepted = NOW + timedelta(minutes=minutes)
        rows.append(
            Message(
                tenant=tenant,
                number="+8613800138000",
                carrier=carrier,
                province="北京市",
                message_class=message_class,
                lane="bulk",
                status=status,
                failure_reason=reason,
                segments=segments,
                accepted_at=accepted,
                submitted_at=accepted if status != "rejected" else None,
                done_at=accepted + timedelta(seconds=arrival) if arrival is not None else None,
            )
        )
    return Message.objects.bulk_create(rows)


def capture(message, amount):
    LedgerEntry.objects.create(
        tenant_id=message.tenant_id,
        kind="capture",
        amount=-Decimal(amount),
        occurred_at=message.done_at,
        message_id=message.id,
        message_class=message.message_class,
        segments=message.segments,
    )


def snapshot():
    return sorted(tuple(str(row[f]) for f in ROLLUP_FIELDS) for row in MessageRollup.objects.values(*ROLLUP_FIELDS))


@pytest.fixture
def traffic(tenant):
    messages = make_messages(
        tenant,
        [
            (0, "mobile", "verification", "delivered", "", 0.8, 1),
            (5, "mobile", "verification", "delivered", "", 2.5, 1),
            (10, "unicom", "marketing", "failed", "vacant_number", 4, 2),
            (15, "unicom", "marketing", "delivered", "", 40, 2),
            (-70, "telecom", "notification", "expired", "", None, 1),
            (20, "mobile", "marketing", "rejected", "no_consent", None, 1),
            (25, "mobile", "verification", "submitted", "", None, 1),
        ],
    )
    capture(messages[0], "0.13")
    capture(messages[1], "0.13")
    capture(messages[3], "0.26")
    return messages


def test_rebuild_counts(tenant, traffic):
    rollup_rebuild(start=NOW - timedelta(hours=3), end=NOW + timedelta(hours=2), tenant_ids=[tenant.id])
    period = selectors.Period(NOW - timedelta(hours=3), NOW + timedelta(hours=2))
    total = selectors.totals(tenant=tenant, period=period)
    assert (total.accepted, total.rejected, total.delivered, total.failed, total.expired) == (6, 1, 3, 1, 1)
    assert total.submitted == 6
    assert total.segments == 4
    assert total.cost == Decimal("0.52")
    assert total.latency == [1, 0, 1, 0, 0, 0, 1, 0]  # 0.8 s, 2.5 s, 40 s
    assert total.delivery_rate == pytest.approx(3 / 5)
    assert dict(selectors.failures(tenant=tenant, period=period)) == {"vacant_number": 1, "expired": 1, "no_consent": 1}


def test_incremental_equals_rebuild(tenant, traffic):
    # Incremental: the sweep picks up the recent hours; a late receipt for the old hour comes
    # through the status listener.
    rollup_refresh(now=NOW + timedelta(minutes=30))
    pending = traffic[6]
    Message.objects.filter(pk=pending.pk).update(status="delivered", done_at=pending.accepted_at + timedelta(seconds=1))
    old = traffic[4]
    Message.objects.filter(pk=old.pk).update(
        status="delivered", failure_reason="", done_at=old.accepted_at + timedelta(seconds=3)
    )
    emit_status_changes({tenant.id: [(pending.pk, "delivered", ""), (old.pk, "delivered", "")]})
    rollup_refresh(now=NOW + timedelta(hours=3))  # the old hour is outside the sweep window now
    incremental = snapshot()

    MessageRollup.objects.all().delete()
    rollup_rebuild(start=NOW - timedelta(hours=3), end=NOW + timedelta(hours=2), tenant_ids=[tenant.id])
    assert snapshot() == incremental
    period = selectors.Period(NOW - timedelta(hours=3), NOW + timedelta(hours=2))
    assert selectors.totals(tenant=tenant, period=period).delivered == 5


def test_rollups_are_per_tenant(tenant, outsider, traffic):
    make_messages(outsider.tenant, [(0, "mobile", "verification", "delivered", "", 1, 1)])
    rollup_rebuild(start=NOW - timedelta(hours=3), end=NOW + timedelta(hours=2))
    period = selectors.Period(NOW - timedelta(hours=3), NOW + timedelta(hours=2))
    assert selectors.totals(tenant=outsider.tenant, period=period).accepted == 1
    assert selectors.totals(tenant=tenant, period=period).accepted == 6


def test_hour_of_day_is_in_the_tenant_timezone(tenant, traffic):
    rollup_rebuild(start=NOW - timedelta(hours=3), end=NOW + timedelta(hours=2), tenant_ids=[tenant.id])
    period = selectors.Period(NOW - timedelta(hours=3), NOW + timedelta(hours=2))
    hours = selectors.by_hour_of_day(tenant=tenant, period=period)
    assert set(hours) == {17, 18}  # 09:20 and 10:xx UTC are 17:xx and 18:xx in Asia/Shanghai


def test_every_grain_adds_up_to_the_hours_total(tenant, traffic):
    rollup_rebuild(start=NOW - timedelta(hours=3), end=NOW + timedelta(hours=2), tenant_ids=[tenant.id])
    period = selectors.Period(NOW - timedelta(hours=3), NOW + timedelta(hours=2))
    total = selectors.totals(tenant=tenant, period=period)
    for dimension in selectors.DIMENSION_FIELDS:
        rows = selectors.breakdown(tenant=tenant, period=period, dimension=dimension)
        assert sum(t.accepted for _v, t in rows) == total.accepted, dimension
        assert sum(t.delivered for _v, t in rows) == total.delivered, dimension
        assert sum(t.cost for _v, t in rows) == total.cost, dimension
    by_carrier = dict(selectors.breakdown(tenant=tenant, period=period, dimension="carrier"))
    assert (by_carrier["mobile"].accepted, by_carrier["mobile"].rejected) == (3, 1)
    assert by_carrier["unicom"].latency == [0, 0, 0, 0, 0, 0, 1, 0]
    # A total filtered on one dimension reads that dimension's rows.
    marketing = selectors.totals(tenant=tenant, period=period, message_class="marketing")
    assert (marketing.accepted, marketing.delivered, marketing.failed) == (2, 1, 1)
    # The recompute writes every grain.
    grains = set(MessageRollup.objects.values_list("grain", flat=True))
    assert grains == set(MessageRollup.Grain.values)


def test_a_filter_on_two_dimensions_is_refused(tenant, traffic):
    # No grain holds carrier × class; an answer summed from the wrong grain would be wrong silently.
    period = selectors.Period(NOW - timedelta(hours=3), NOW + timedelta(hours=2))
    with pytest.raises(ValueError, match="one dimension"):
        selectors.totals(tenant=tenant, period=period, carrier="mobile", message_class="marketing")
