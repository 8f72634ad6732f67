"""The set-based fan-out: SQL rendering, gates and reservation agree with the Python rules."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from campaigns import fanout
from campaigns.links import code_for, code_sql, recipient_id_from_code
from campaigns.models import CampaignRecipient
from campaigns.schedule import Pacer, SendWindow
from messaging.models import Message
from smsportal.enums import MessageClass
from smsportal.errors import PaymentRequired
from smsportal.factories.campaigns import (
    ContactListFactory,
    add_contacts,
    grant_consent,
    marketing_template,
    started_campaign,
)
from smsportal.factories.compliance import (
    ConsentRecordFactory,
    PlatformSuppressionFactory,
    SuppressionFactory,
)
from smsportal.factories.messaging import MessageFactory
from smsportal.numbers import normalize


def test_links_signed_in_sql_are_the_links_python_signs_and_old_codes_still_resolve(db):
    import base64
    import hashlib

    from campaigns.links import _b62, _key

    ids = [1, 61, 62, 3844, 99_999_999, 2**40 + 7, 2**63 - 1]
    expression, params = code_sql("v.id")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT v.id, {expression} FROM unnest(%s::bigint[]) AS v(id)", [*params, ids])
        for recipient_id, code in cursor.fetchall():
            assert code == code_for(recipient_id)
            assert recipient_id_from_code(code) == recipient_id
    digest = hashlib.blake2b((4242).to_bytes(8, "big"), key=_key(), digest_size=6).digest()
    legacy = base64.urlsafe_b64encode(digest)[:5].decode() + _b62(4242)  # a link sent before this change
    assert recipient_id_from_code(legacy) == 4242
    assert recipient_id_from_code("AAAAA" + _b62(4242)) is None


@pytest.mark.parametrize("message_class", [MessageClass.MARKETING, MessageClass.NOTIFICATION, MessageClass.ALERT])
def test_refusal_sql_agrees_with_the_python_gates(tenant, message_class):
    from compliance import gates
    from compliance.models import ConsentAction, Purpose, TenantComplianceSettings

    template = marketing_template(tenant)
    numbers = [normalize(f"138{i:08d}").e164 for i in range(10)]
    purpose = Purpose.MARKETING if message_class == MessageClass.MARKETING else Purpose.NOTIFICATION
    for number in numbers[:7]:
        ConsentRecordFactory(tenant=tenant, number=number, purpose=purpose)
    ConsentRecordFactory(  # granted, then revoked: the latest fact counts
        tenant=tenant, number=numbers[1], purpose=purpose, action=ConsentAction.REVOKE, occurred_at=timezone.now()
    )
    SuppressionFactory(tenant=tenant, number=numbers[2], scope="marketing")
    SuppressionFactory(tenant=tenant, number=numbers[3], scope="all")
    PlatformSuppressionFactory(number=numbers[4], scope="all")
    TenantComplianceSettings.objects.update_or_create(
        tenant=tenant, defaults={"marketing_per_template_day": 1, "notification_per_template_day": 1}
    )
    MessageFactory(tenant=tenant, number=numbers[5], message_class=message_class, template=template)  # at the cap
    MessageFactory(  # rejected messages do not count
        tenant=tenant, number=numbers[6], message_class=message_class, template=template, status="rejected"
    )
    MessageFactory(  # older than a day: out of the window
        tenant=tenant,
        number=numbers[6],
        message_class=message_class,
        template=template,
        accepted_at=timezone.now() - dt.timedelta(days=2),
    )
    now = timezone.now()
    expected = gates.blocked_numbers(tenant=tenant, numbers=numbers, message_class=message_class)
    free = [n for n in numbers if n not in expected]
    for number in gates.frequency_capped(
        tenant=tenant, numbers=free, message_class=message_class, template_id=template.pk, now=now
    ):
        expected[number] = "rate_limited"
    sql, params = gates.refusal_sql(
        tenant=tenant,
        message_class=message_class,
        template_id=template.pk,
        number_sql="v.number",
        tenant_sql="v.tenant_id",
        now=now,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT v.number, {sql} FROM unnest(%s::text[]) AS v(number), (SELECT %s::bigint AS tenant_id) t".replace(
                "v.tenant_id", "t.tenant_id"
            ),
            [*params, numbers, tenant.pk],
        )
        found = {number: reason for number, reason in cursor.fetchall() if reason}
    assert found == expected
    assert "rate_limited" in found.values() or message_class == MessageClass.ALERT


@pytest.fixture
def odd_members(tenant):
    """Contacts whose values take every path: plain (rendered in SQL), values only Python
    may judge (surrounding spaces, a dot, JSON numbers, emoji), and values that do not fit."""
    contact_list = ContactListFactory(tenant=tenant, name="会员")
    rows = [
        ("13800000001", {"name": "会员1", "points": "120"}),
        ("13800000002", {"name": "Li Lei", "points": "5"}),  # inner space: Python path, valid
        ("13800000003", {"name": " 张三 ", "points": "7"}),  # stripped by Python
        ("13800000004", {"name": "王.五", "points": "8"}),  # a dot, but no link
        ("13800000005", {"name": "赵六", "points": 42}),  # a JSON number
        ("13800000006", {"name": "孙七😀", "points": "9"}),  # outside the BMP: segments by count_segments
        ("13800000007", {"name": "周八", "points": "1.5"}),  # a decimal number is a number
        ("13800000008", {"name": "hm.example.com", "points": "3"}),  # a link in a value: not sent
        ("13800000009", {"name": "吴九"}),  # missing value: not sent
        ("13800000010", {"name": "郑十" * 11, "points": "1"}),  # too long: not sent
        ("13800000011", {"name": "冯十一", "points": "0012"}),
    ]
    add_contacts(contact_list, rows)
    grant_consent(tenant, [raw for raw, _attributes in rows])
    return contact_list


def test_sql_rendering_matches_python_rendering_row_for_row(member, odd_members, monkeypatch):
    from templates.selectors import template_for_sending

    template = marketing_template(member.tenant)
    monkeypatch.setattr(fanout, "CHUNK", 4)  # several chunks, each mixing SQL and Python rows
    campaign, review = started_campaign(member, template, odd_members)
    assert fanout.campaign_fanout_run(campaign_id=campaign.pk) == review["messages"] == 8
    renderer = fanout.Renderer(
        campaign=campaign, version=template_for_sending(tenant=member.tenant, template_id=template.pk)
    )
    assert renderer.sql(row="c") is not None  # this template renders in SQL
    sent = {m.number: m for m in Message.objects.filter(campaign_id=campaign.pk)}
    assert len(sent) == 8 and all(m.status == "queued" for m in sent.values())
    for recipient in CampaignRecipient.objects.filter(campaign=campaign).select_related("contact"):
        expected = renderer.render(recipient.pk, recipient.contact.attributes)
        if expected is None:
            assert recipient.number not in sent
        else:
            message = sent[recipient.number]
            assert (message.body, message.segments) == expected
            assert code_for(recipient.pk) in message.body
    assert sent["+8613800000003"].body.count("尊敬的张三，") == 1
    assert sent["+8613800000006"].segments == 2


def test_a_template_sql_cannot_count_goes_through_python(member, odd_members):
    template = marketing_template(
        member.tenant, body="Hi ${name}, ${points} points: https://hm.example.cn/${link} reply T to stop"
    )
    campaign, review = started_campaign(member, template, odd_members)
    assert fanout.campaign_fanout_run(campaign_id=campaign.pk) == review["messages"]
    body = Message.objects.filter(campaign_id=campaign.pk, number="+8613800000001").get().body
    assert body.startswith("【") and "Hi 会员1, 120 points" in body


def test_rate_cap_paces_across_chunks_and_statements_like_the_pacer(member, odd_members, monkeypatch):
    monkeypatch.setattr(fanout, "CHUNK", 3)
    campaign, _review = started_campaign(member, marketing_template(member.tenant), odd_members, rate_per_minute=60)
    fanout.campaign_fanout_run(campaign_id=campaign.pk)
    times = sorted(Message.objects.filter(campaign_id=campaign.pk).values_list("send_at", flat=True))
    assert [later - earlier for earlier, later in itertools.pairwise(times)] == [dt.timedelta(seconds=1)] * 7


def test_pacer_plan_and_advance_hand_out_what_next_would():
    from zoneinfo import ZoneInfo

    start = dt.datetime(2026, 5, 1, 12, 58, 30, tzinfo=dt.UTC)  # 20:58:30 in Shanghai
    window = SendWindow(dt.time(8, 0), dt.time(21, 0), ZoneInfo("Asia/Shanghai"))
    for rate, count in [(0, 50), (60, 50), (60, 200), (1, 3)]:
        reference = Pacer(start=start, rate_per_minute=rate, window=window)
        expected = [reference.next() for _ in range(count)]
        pacer = Pacer(start=start, rate_per_minute=rate, window=window)
        plan = pacer.plan(count)
        got = plan if isinstance(plan, list) else [plan[0] + plan[1] * k for k in range(count)]
        assert got == expected
        pacer.advance(count)
        assert pacer.next() == reference.next()


def test_reserve_new_messages_all_or_nothing_one_entry_each(tenant):
    from billing.models import Account, LedgerEntry
    from billing.services import ledger_reserve_new_messages
    from smsportal.factories.billing import fund

    fund(tenant, "0.50")
    messages = [MessageFactory(tenant=tenant, message_class=MessageClass.MARKETING, segments=2) for _ in range(3)]
    source = "SELECT id, segments, message_class FROM messaging_message WHERE id = ANY(%s)"
    with pytest.raises(PaymentRequired) as refused:  # 3 × 2 segments × ¥0.13 = ¥0.78 > ¥0.50
        ledger_reserve_new_messages(tenant=tenant, source_sql=source, params=[[m.pk for m in messages]])
    assert refused.value.shortfall == Decimal("0.2800")
    assert not LedgerEntry.objects.filter(tenant=tenant, kind="reserve").exists()
    reservation = ledger_reserve_new_messages(
        tenant=tenant, source_sql=source, params=[[m.pk for m in messages[:1]] * 2]
    )
    assert (reservation.count, reservation.amount) == (1, Decimal("0.2600"))
    assert (reservation.prices.highest_price(MessageClass.MARKETING), reservation.month_segments) == (
        Decimal("0.1300"),
        0,
    )
    account = Account.objects.get(tenant=tenant)
    assert (account.balance, account.reserved) == (Decimal("0.2400"), Decimal("0.2600"))
    entry = LedgerEntry.objects.get(tenant=tenant, kind="reserve")
    assert (entry.message_id, entry.amount, entry.segments) == (messages[0].pk, Decimal("-0.2600"), 2)
    assert ledger_reserve_new_messages(tenant=tenant, source_sql=source, params=[[messages[0].pk]]).count == 0
