import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import fanout, services
from campaigns.links import code_for
from campaigns.models import Campaign, CampaignRecipient, LinkClick
from campaigns.selectors import Audience, audience_count, campaign_stats
from messaging.models import Message
from smsportal.errors import Conflict, PaymentRequired, Unprocessable
from smsportal.factories.campaigns import (
    ContactListFactory,
    add_contacts,
    grant_consent,
    marketing_template,
    sample_numbers,
)
from smsportal.factories.compliance import SuppressionFactory
from smsportal.numbers import normalize


@pytest.fixture
def template(tenant):
    return marketing_template(tenant)


@pytest.fixture
def members(tenant):
    numbers = sample_numbers(30)
    contact_list = ContactListFactory(tenant=tenant, name="会员")
    add_contacts(contact_list, [(n, {"name": f"会员{i}", "points": str(i * 10)}) for i, n in enumerate(numbers)])
    return contact_list, numbers


def make_campaign(member, template, lists, **kwargs):
    options = {
        "name": "双11",
        "template_id": template.pk,
        "list_ids": [cl.pk for cl in lists],
        "link_variable": "link",
        "link_url": "https://hm.example.cn/double11",
        "respect_quiet_hours": False,
    }
    options.update(kwargs)
    return services.campaign_save(tenant=member.tenant, actor=member.user, **options)


def queued_ids(campaign):
    return list(
        Message.objects.filter(tenant=campaign.tenant, campaign_id=campaign.pk, status="queued").values_list(
            "id", flat=True
        )
    )


def test_audience_filters_count_set_based(member, members):
    contact_list, numbers = members
    other = ContactListFactory(tenant=member.tenant, name="其他")
    add_contacts(other, [(numbers[0], {"name": "重复"}), ("13900000001", {"name": "新", "points": "999"})])
    both = Audience(list_ids=[contact_list.pk, other.pk])
    assert audience_count(tenant=member.tenant, audience=both) == 31  # the shared number counts once
    mobile = Audience(list_ids=[contact_list.pk], carriers=["mobile"])
    assert audience_count(tenant=member.tenant, audience=mobile) == 10
    rich = Audience(list_ids=[contact_list.pk], conditions=[{"field": "points", "op": "gte", "value": "200"}])
    assert audience_count(tenant=member.tenant, audience=rich) == 10  # points 200..290
    named = Audience(list_ids=[contact_list.pk], conditions=[{"field": "name", "op": "contains", "value": "会员1"}])
    assert audience_count(tenant=member.tenant, audience=named) == 11  # 会员1, 会员10..19
    grant_consent(member.tenant, numbers[:4])
    consented = Audience(list_ids=[contact_list.pk], consent="granted")
    assert audience_count(tenant=member.tenant, audience=consented) == 4
    assert (
        audience_count(tenant=member.tenant, audience=Audience(list_ids=[contact_list.pk], consent="not_granted")) == 26
    )
    with pytest.raises(Unprocessable):
        audience_count(tenant=member.tenant, audience=Audience(list_ids=[contact_list.pk], carriers=["nokia"]))


def test_bad_campaign_input_is_refused_and_nothing_is_created(member, members, template):
    contact_list, _numbers = members
    from smsportal.factories.templates import MessageTemplateFactory

    draft_only = MessageTemplateFactory(tenant=member.tenant, kind="marketing")
    with pytest.raises(Conflict) as caught:
        make_campaign(member, draft_only, [contact_list])
    assert caught.value.code == "template_not_approved"
    with pytest.raises(Unprocessable) as caught:
        make_campaign(member, template, [contact_list], send_at=timezone.now() - dt.timedelta(hours=1))
    assert caught.value.code == "schedule_in_past"
    with pytest.raises(Unprocessable) as caught:
        make_campaign(member, template, [contact_list], link_variable="")
    assert caught.value.code == "invalid_variables"
    outsider_list = ContactListFactory()
    with pytest.raises(Unprocessable):
        make_campaign(member, template, [outsider_list])
    assert not Campaign.objects.exists()


def test_review_counts_removed_by_each_rule_then_fanout_queues_and_reserves(member, members, template):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers[:20])
    SuppressionFactory(tenant=member.tenant, number=normalize(numbers[0]).e164)
    campaign = make_campaign(member, template, [contact_list])
    review = services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    assert review["audience"] == 30
    assert review["removed"] == {"no_consent": 10, "suppressed": 1}
    assert review["messages"] == 19
    assert review["shortfall"] == "0.0000"
    assert "会员" in review["sample"]["text"]

    services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    assert fanout.campaign_fanout_run(campaign_id=campaign.pk) == 19
    campaign.refresh_from_db()
    assert (campaign.status, campaign.fanout_status, campaign.queued_count) == ("running", "done", 19)
    messages = Message.objects.filter(tenant=member.tenant, campaign_id=campaign.pk)
    assert messages.filter(status="queued").count() == 19
    assert set(messages.filter(status="rejected").values_list("failure_reason", flat=True)) == {
        "no_consent",
        "suppressed",
    }
    body = messages.filter(status="queued").order_by("id").first().body
    assert body.startswith("【") and "campaigns/s/" in body
    from billing.models import LedgerEntry

    assert LedgerEntry.objects.filter(tenant=member.tenant, kind="reserve").count() == 19


def test_fanout_resumes_after_a_crash_without_duplicates(member, members, template, monkeypatch):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers)
    campaign = make_campaign(member, template, [contact_list])
    services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    monkeypatch.setattr(fanout, "CHUNK", 8)
    import billing.services

    real_reserve = billing.services.ledger_reserve_new_messages
    calls = {"n": 0}

    def crash_on_third_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real_reserve(**kwargs)

    monkeypatch.setattr(billing.services, "ledger_reserve_new_messages", crash_on_third_chunk)
    with pytest.raises(RuntimeError):
        fanout.campaign_fanout_run(campaign_id=campaign.pk)
    assert len(queued_ids(campaign)) == 16  # two chunks committed, the third rolled back whole
    monkeypatch.setattr(billing.services, "ledger_reserve_new_messages", real_reserve)
    fanout.campaign_fanout_run(campaign_id=campaign.pk)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), count(DISTINCT number) FROM messaging_message WHERE campaign_id = %s", [campaign.pk]
        )
        assert cursor.fetchone() == (30, 30)


def test_pause_holds_queued_messages_resume_releases_cancel_releases_reserves(member, members, template):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers)
    campaign = make_campaign(member, template, [contact_list], rate_per_minute=600)
    services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    fanout.campaign_fanout_run(campaign_id=campaign.pk)
    due = Message.objects.filter(campaign_id=campaign.pk, status="queued").order_by("id")
    first, last = due.first().send_at, due.last().send_at
    assert last - first == dt.timedelta(seconds=29 * 0.1)  # 600 per minute: one every 0.1 s

    services.campaign_pause(tenant=member.tenant, actor=member.user, campaign=campaign)
    from messaging.dispatch import claim

    # Effective at once, before the background parking has touched a single message.
    assert Message.objects.filter(campaign_id=campaign.pk, status="queued", send_at__lt=fanout.HELD_UNTIL).count() == 30
    assert claim("bulk", 100, now=timezone.now() + dt.timedelta(hours=1)) == []
    assert services.campaign_hold_rest(campaign_id=campaign.pk) == 30  # the background task
    assert not Message.objects.filter(campaign_id=campaign.pk, status="queued", send_at__lt=fanout.HELD_UNTIL).exists()

    campaign.refresh_from_db()
    services.campaign_resume(tenant=member.tenant, actor=member.user, campaign=campaign)
    assert Message.objects.filter(
        campaign_id=campaign.pk, send_at__lte=timezone.now() + dt.timedelta(seconds=1)
    ).exists()
    claimed = claim("bulk", 5, now=timezone.now() + dt.timedelta(hours=1))  # re-paced, claimable again
    assert len(claimed) == 5

    campaign.refresh_from_db()
    services.campaign_cancel(tenant=member.tenant, actor=member.user, campaign=campaign)
    assert not Message.objects.filter(campaign_id=campaign.pk, status="queued").exists()
    assert Message.objects.filter(campaign_id=campaign.pk, failure_reason="cancelled").count() == 25
    from billing.models import LedgerEntry

    assert LedgerEntry.objects.filter(tenant=member.tenant, kind="release").count() == 25
    with pytest.raises(Conflict):
        services.campaign_resume(tenant=member.tenant, actor=member.user, campaign=campaign)


def test_start_refused_when_balance_is_short(member, members):
    contact_list, numbers = members
    template = marketing_template(member.tenant, balance="0.10")
    grant_consent(member.tenant, numbers)
    campaign = make_campaign(member, template, [contact_list])
    review = services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    assert review["shortfall"] != "0.0000"
    with pytest.raises(PaymentRequired):
        services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "draft"
    assert not Message.objects.filter(campaign_id=campaign.pk).exists()


def test_scheduled_campaign_starts_on_the_tick_and_completes(member, members, template):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers)
    at = timezone.now() + dt.timedelta(hours=2)
    campaign = make_campaign(member, template, [contact_list], send_at=at)
    services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    assert services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign).status == "scheduled"
    assert services.campaigns_tick()["started"] == 0
    assert services.campaigns_tick(now=at + dt.timedelta(seconds=1))["started"] == 1
    fanout.campaign_fanout_run(campaign_id=campaign.pk)
    Message.objects.filter(campaign_id=campaign.pk).update(status="delivered")
    assert services.campaigns_tick()["completed"] == 1
    campaign.refresh_from_db()
    assert campaign.status == "completed"


def test_quiet_hours_push_marketing_to_the_next_window(member, members, template):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers)
    settings = services.campaign_settings_for(tenant=member.tenant)
    now_local = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=8)))
    # A one-hour window that opens in two hours: nothing may be due now.
    opening = (now_local + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    closing = (now_local + dt.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    services.campaign_settings_update(
        tenant=member.tenant,
        actor=member.user,
        send_window_start=opening,
        send_window_end=closing,
        quiet_classes=settings.quiet_classes,
    )
    campaign = make_campaign(member, template, [contact_list], respect_quiet_hours=True)
    services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    fanout.campaign_fanout_run(campaign_id=campaign.pk)
    times = set(Message.objects.filter(campaign_id=campaign.pk).values_list("send_at", flat=True))
    assert len(times) == 1
    assert times.pop() > timezone.now() + dt.timedelta(minutes=100)


def test_short_link_redirects_and_counts_clicks(member, members, template, client):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers)
    campaign = make_campaign(member, template, [contact_list])
    services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    recipient = CampaignRecipient.objects.filter(campaign=campaign).order_by("id").first()
    url = f"/campaigns/s/{code_for(recipient.pk)}"
    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == "https://hm.example.cn/double11"
    other = CampaignRecipient.objects.filter(campaign=campaign).order_by("id")[1]
    client.get(f"/campaigns/s/{code_for(other.pk)}")
    hour = LinkClick.objects.get(campaign=campaign)
    assert (hour.clicks, hour.unique_clicks) == (4, 2)
    stats = campaign_stats(tenant=member.tenant, campaign=campaign)
    assert (stats.clicks, stats.unique_clicks) == (4, 2)
    tampered = code_for(recipient.pk)[:-1] + ("A" if code_for(recipient.pk)[-1] != "A" else "B")
    assert client.get(f"/campaigns/s/{tampered}").status_code == 404
    assert client.get("/campaigns/s/zzzzzzzzz").status_code == 404


def test_fast_segment_count_matches_templates_count_segments(member, template):
    import random

    from templates.segments import count_segments
    from templates.selectors import template_for_sending

    version = template_for_sending(tenant=member.tenant, template_id=template.pk)
    campaign = Campaign(tenant=member.tenant, link_variable="link")
    renderer = fanout.Renderer(campaign=campaign, version=version)
    assert renderer.always_ucs2
    rng = random.Random(3)
    for length in range(0, 300, 7):
        text = "".join(rng.choice("会员积分ab1{[€😀 ") for _ in range(length))
        assert renderer.segments(text) == count_segments(text).segments, text


def test_tick_holds_the_backlog_when_the_window_closes(member, members, template):
    contact_list, numbers = members
    grant_consent(member.tenant, numbers)
    campaign = make_campaign(member, template, [contact_list], respect_quiet_hours=True)
    services.campaign_review(tenant=member.tenant, actor=member.user, campaign=campaign)
    services.campaign_start(tenant=member.tenant, actor=member.user, campaign=campaign)
    # The window was open while fanning out: everything became due at once.
    services.campaign_settings_update(
        tenant=member.tenant,
        actor=member.user,
        send_window_start=dt.time(0, 0),
        send_window_end=dt.time(0, 0),
        quiet_classes=["marketing"],
    )
    fanout.campaign_fanout_run(campaign_id=campaign.pk)
    assert Message.objects.filter(campaign_id=campaign.pk, status="queued", send_at__lte=timezone.now()).count() == 30
    # Then the window closes (a one-minute window that is never "now" in Shanghai at this instant).
    shanghai_now = timezone.now().astimezone(dt.timezone(dt.timedelta(hours=8)))
    opens = (shanghai_now + dt.timedelta(hours=3)).time().replace(second=0, microsecond=0)
    closes = (shanghai_now + dt.timedelta(hours=4)).time().replace(second=0, microsecond=0)
    services.campaign_settings_update(
        tenant=member.tenant,
        actor=member.user,
        send_window_start=opens,
        send_window_end=closes,
        quiet_classes=["marketing"],
    )
    assert services.campaigns_tick()["held"] == 30
    assert not Message.objects.filter(campaign_id=campaign.pk, send_at__lte=timezone.now()).exists()
