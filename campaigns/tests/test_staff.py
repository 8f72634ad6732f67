"""Platform staff's view of campaigns across tenants, and the emergency pause."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns import selectors
from campaigns.models import Campaign
from compliance.models import AuditEvent
from smsportal.factories import MembershipFactory, TenantFactory
from smsportal.factories.messaging import MessageFactory
from smsportal.factories.reports import rollup_rows

BOARD = "/staff/campaigns/"


def campaign(tenant, name, status, **fields) -> Campaign:
    return Campaign.objects.create(tenant=tenant, name=name, status=status, **fields)


def rollup(tenant, campaign_obj, *, hour, accepted=0, submitted=0, delivered=0, failed=0, expired=0, rejected=0):
    return rollup_rows(
        tenant,
        hour,
        carrier="mobile",
        message_class="marketing",
        campaign_id=campaign_obj.pk,
        accepted=accepted,
        submitted=submitted,
        delivered=delivered,
        failed=failed,
        expired=expired,
        rejected=rejected,
    )


@pytest.fixture
def board(tenant):
    """Campaigns of two tenants in every state, with rollup counts for the running one."""
    other = TenantFactory(name="另一家企业")
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    running = campaign(
        tenant, "双十一大促", Campaign.Status.RUNNING, started_at=now - timedelta(minutes=10), audience_size=1000
    )
    Campaign.objects.filter(pk=running.pk).update(created_at=now - timedelta(hours=2))  # built before the start
    rollup(tenant, running, hour=hour, accepted=600, submitted=500, delivered=380, failed=15, expired=5, rejected=3)
    rollup(tenant, running, hour=hour - timedelta(hours=1), accepted=100, submitted=100, delivered=100)
    scheduled = campaign(
        other, "会员日提醒", Campaign.Status.SCHEDULED, send_at=now + timedelta(days=1), rate_per_minute=600
    )
    paused = campaign(other, "暂停中的活动", Campaign.Status.PAUSED, started_at=now - timedelta(hours=2))
    draft = campaign(tenant, "草稿", Campaign.Status.DRAFT)
    done = campaign(tenant, "已完成", Campaign.Status.COMPLETED)
    rollup(tenant, done, hour=hour, accepted=50, submitted=50, delivered=50)
    return {"running": running, "scheduled": scheduled, "paused": paused, "draft": draft, "done": done}


def test_board_lists_active_campaigns_of_every_tenant_with_counts(board, django_assert_num_queries):
    with django_assert_num_queries(2):  # the campaigns, then every campaign's counts at once
        rows = selectors.staff_campaign_board()
    assert [row.campaign.pk for row in rows] == [board["running"].pk, board["paused"].pk, board["scheduled"].pk]
    running = rows[0]
    assert (running.accepted, running.submitted, running.delivered, running.failed, running.rejected) == (
        700,
        600,
        480,
        20,
        3,
    )
    assert running.delivery_rate == pytest.approx(480 / 500)
    assert running.average_per_minute == 60  # 600 handed over in 10 minutes
    scheduled = rows[2]
    assert (scheduled.accepted, scheduled.delivery_rate, scheduled.average_per_minute) == (0, None, None)


def test_board_filters_by_state(board):
    rows = selectors.staff_campaign_board(states=(Campaign.Status.SCHEDULED,))
    assert [row.campaign.pk for row in rows] == [board["scheduled"].pk]


def test_board_is_empty_without_active_campaigns(tenant, django_assert_num_queries):
    campaign(tenant, "草稿", Campaign.Status.DRAFT)
    with django_assert_num_queries(1):
        assert selectors.staff_campaign_board() == []


def test_staff_page_shows_every_tenants_campaigns(staff_client, board, tenant):
    response = staff_client.get(BOARD)
    assert response.status_code == 200
    html = response.content.decode()
    for key in ("running", "scheduled", "paused"):
        assert f'data-campaign="{board[key].pk}"' in html
    for key in ("draft", "done"):
        assert f'data-campaign="{board[key].pk}"' not in html
    assert tenant.name in html and "另一家企业" in html
    assert "96.00%" in html  # the running campaign's delivery rate
    assert "跨企业营销活动" in html  # translated (zh-Hans is the default language)
    # The emergency pause is offered for running and scheduled campaigns, not for paused ones.
    assert f"/staff/campaigns/{board['running'].pk}/pause/" in html
    assert f"/staff/campaigns/{board['scheduled'].pk}/pause/" in html
    assert f"/staff/campaigns/{board['paused'].pk}/pause/" not in html


def test_staff_page_state_filter(staff_client, board):
    html = staff_client.get(BOARD, {"state": "paused"}).content.decode()
    assert f'data-campaign="{board["paused"].pk}"' in html
    assert f'data-campaign="{board["running"].pk}"' not in html
    # An unknown state shows the default list rather than failing.
    html = staff_client.get(BOARD, {"state": "draft"}).content.decode()
    assert f'data-campaign="{board["running"].pk}"' in html and f'data-campaign="{board["draft"].pk}"' not in html


def test_staff_emergency_pause_uses_the_pause_service_and_is_audited(staff_client, staff_user, board, tenant):
    running = board["running"]
    queued = MessageFactory(tenant=tenant, campaign_id=running.pk, message_class="marketing")
    response = staff_client.post(f"/staff/campaigns/{running.pk}/pause/")
    assert response.status_code == 302 and response["Location"] == BOARD
    running.refresh_from_db()
    assert running.status == Campaign.Status.PAUSED and running.paused_at is not None
    from messaging.dispatch import claim

    assert (queued.lane, queued.status) == ("bulk", "queued")  # claimable, were it not held
    assert claim("bulk", 10, now=timezone.now() + timedelta(days=1)) == []  # held from the commit on
    audit = AuditEvent.objects.get(tenant=tenant, action="campaign.paused")
    assert audit.actor == staff_user and audit.object_id == str(running.pk)


def test_pausing_a_paused_campaign_is_a_message_not_a_500(staff_client, board):
    paused = board["paused"]
    response = staff_client.post(f"/staff/campaigns/{paused.pk}/pause/", follow=True)
    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]]  # the service's refusal is shown
    paused.refresh_from_db()
    assert paused.status == Campaign.Status.PAUSED


def test_pause_unknown_campaign_is_404_and_get_is_refused(staff_client, board):
    assert staff_client.post("/staff/campaigns/999999999/pause/").status_code == 404
    assert staff_client.get(f"/staff/campaigns/{board['running'].pk}/pause/").status_code == 405


def test_members_outsiders_and_anonymous_are_refused(client, client_for, member, outsider, board):
    running = board["running"]
    viewer = MembershipFactory(tenant=member.tenant, role="viewer")
    for membership in (member, outsider, viewer):
        http = client_for(membership)
        assert http.get(BOARD).status_code == 404
        assert http.post(f"/staff/campaigns/{running.pk}/pause/").status_code == 404
    response = client.get(BOARD)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(f"/staff/campaigns/{running.pk}/pause/").status_code == 302
    running.refresh_from_db()
    assert running.status == Campaign.Status.RUNNING
