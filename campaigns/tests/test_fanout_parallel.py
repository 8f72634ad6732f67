"""The fan-out on several connections (campaigns without a rate cap, outside a transaction):
chunks are built side by side but committed in order, so the cursor always marks a
gap-free prefix and nothing is queued or reserved twice. These tests commit for real
(transactional_db): the chunk connections cannot see a test transaction's rows."""

from decimal import Decimal

import pytest
from django.db import connection

from billing.models import Account, LedgerEntry
from billing.pricing import prices_in_force
from billing.services import account_adjust
from campaigns import fanout
from campaigns.models import Campaign, CampaignRecipient
from messaging.models import Message
from smsportal.factories import UserFactory
from smsportal.factories.campaigns import (
    ContactListFactory,
    add_contacts,
    grant_consent,
    marketing_template,
    started_campaign,
)


@pytest.fixture
def audience(transactional_db, tenant):
    contact_list = ContactListFactory(tenant=tenant, name="会员")
    rows = [(f"1380000{i:04d}", {"name": "会员", "points": str(i)}) for i in range(1, 12)]
    add_contacts(contact_list, rows)
    grant_consent(tenant, [raw for raw, _attributes in rows])
    return contact_list


def _start(member, contact_list):
    campaign, review = started_campaign(member, marketing_template(member.tenant), contact_list)
    campaign.segments_each = review["segments"] // review["messages"]  # the same text length for all
    return campaign


def test_chunks_built_side_by_side_queue_and_reserve_every_recipient_once(member, audience, monkeypatch):
    monkeypatch.setattr(fanout, "CHUNK", 3)  # four chunks over two connections
    campaign = _start(member, audience)
    assert not connection.in_atomic_block  # the parallel path, not the one-transaction loop

    assert fanout.campaign_fanout_run(campaign_id=campaign.pk) == 11

    campaign.refresh_from_db()
    messages = Message.objects.filter(campaign_id=campaign.pk)
    assert sorted(messages.values_list("number", flat=True)) == sorted(
        CampaignRecipient.objects.filter(campaign=campaign).values_list("number", flat=True)
    )
    assert campaign.fanout_status == Campaign.Fanout.DONE and campaign.queued_count == 11
    last = CampaignRecipient.objects.filter(campaign=campaign).order_by("-id").values_list("id", flat=True)[0]
    assert campaign.fanout_cursor == last
    reserves = LedgerEntry.objects.filter(tenant=member.tenant, kind="reserve", message_id__in=messages.values("id"))
    assert reserves.count() == 11
    assert Account.objects.get(tenant=member.tenant).reserved == -sum(r.amount for r in reserves)
    assert fanout.campaign_fanout_run(campaign_id=campaign.pk) == 0  # done: a second run adds nothing


def test_running_out_of_money_keeps_the_chunks_before_and_nothing_after(member, audience, monkeypatch):
    monkeypatch.setattr(fanout, "CHUNK", 3)
    campaign = _start(member, audience)
    unit = prices_in_force(tenant=member.tenant).highest_price("marketing") * campaign.segments_each
    account = Account.objects.get(tenant=member.tenant)
    staff = UserFactory(is_staff=True)
    # Room for one chunk and a half: the second chunk's reservation fails as a whole.
    account_adjust(tenant=member.tenant, actor=staff, amount=unit * Decimal("4.5") - account.balance, reason="测试")

    assert fanout.campaign_fanout_run(campaign_id=campaign.pk) == 3

    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.PAUSED and campaign.error_message
    recipients = CampaignRecipient.objects.filter(campaign=campaign).order_by("id")
    first_three = list(recipients.values_list("id", "number"))[:3]
    assert campaign.fanout_cursor == first_three[-1][0]
    assert sorted(Message.objects.filter(campaign_id=campaign.pk).values_list("number", flat=True)) == sorted(
        number for _id, number in first_three
    )
    assert LedgerEntry.objects.filter(tenant=member.tenant, kind="reserve").count() == 3
