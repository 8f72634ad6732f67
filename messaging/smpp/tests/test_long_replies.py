"""Long replies (concatenated MO, UDH or SAR TLVs) against the real local SMSC: parts on
different binds and connector processes, out of order, sent twice or never — one inbound message."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from messaging.models import InboundMessage
from messaging.smpp.encoding import DCS_DEFAULT, DCS_UCS2, decode_short_message, encode_text, join_parts
from messaging.smpp.models import SmppReplyPart
from smsportal.factories.smpp import SmppChannelFactory, smpp_settings

from .conftest import run_until

LONG_REPLY = (
    "您好，我上周收到了你们的会员活动短信，想问一下满三百减五十的优惠券是否可以和会员九五折一起使用，"
    "另外我的积分快过期了，能否延期到下个月底？麻烦尽快回复，谢谢！"
) * 3  # four UCS-2 parts


def bound(connector, channel, binds=1):
    return lambda: connector.engine.bound_transmitters(channel.pk) >= binds


def test_a_long_reply_out_of_order_on_two_binds_becomes_one_inbound_message(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, binds=2, extensions={str(tenant.pk): "01"}))
    connector = make_connector()
    run_until(connector, bound(connector, channel, 2), what="two binds")
    count = smsc.send_long_mo(
        system_id="esme", source="8613800138000", destination="1069000101", text=LONG_REPLY, order=[2, 0, 3, 1]
    )
    assert count == 4
    run_until(connector, lambda: InboundMessage.objects.filter(tenant=tenant).exists(), what="the assembled reply")
    reply = InboundMessage.objects.get(tenant=tenant)
    assert (reply.text, reply.number, reply.extension) == (LONG_REPLY, "+8613800138000", "01")
    assert SmppReplyPart.objects.filter(assembled_at__isnull=False).count() == 4
    # every part acknowledged once stored (the last answer may leave just after the commit)
    run_until(connector, lambda: smsc.smsc.deliver_responses >= 4, what="four deliver_sm_resp")


def test_sar_parts_sent_twice_are_assembled_once(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, extensions={str(tenant.pk): "01"}))
    connector = make_connector()
    run_until(connector, bound(connector, channel), what="bind")
    smsc.send_long_mo(
        system_id="esme",
        source="8613800138000",
        destination="1069000101",
        text=LONG_REPLY,
        concatenation="sar",
        reference=4321,
        repeat=(0, 3),
    )
    run_until(connector, lambda: InboundMessage.objects.exists(), what="the assembled reply")
    for _ in range(5):
        connector.step(0.02)
    assert list(InboundMessage.objects.values_list("text", flat=True)) == [LONG_REPLY]
    assert SmppReplyPart.objects.count() == 4  # the repeats were recognised, not stored again


def test_parts_spread_over_two_connector_processes_are_assembled_by_exactly_one(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, extensions={str(tenant.pk): "01"}))
    first, second = make_connector(label="a"), make_connector(label="b")
    run_until(first, bound(first, channel), what="first bind")
    run_until(second, bound(second, channel), what="second bind")
    smsc.send_long_mo(
        system_id="esme", source="8613800138000", destination="1069000101", text=LONG_REPLY, order=[3, 1, 0, 2]
    )

    def settled():
        second.step(0.02)
        return SmppReplyPart.objects.filter(assembled_at__isnull=False).count() == 4

    run_until(first, settled, what="every part stored and the set assembled")
    assert first.stats["reply_parts"] == second.stats["reply_parts"] == 2  # the SMSC took turns
    assert first.stats["replies"] + second.stats["replies"] == 1
    assert list(InboundMessage.objects.values_list("text", flat=True)) == [LONG_REPLY]


def test_an_incomplete_reply_is_passed_on_after_the_timeout_with_its_gap_marked(smsc, tenant, make_connector):
    channel = SmppChannelFactory(
        settings=smpp_settings(smsc.port, extensions={str(tenant.pk): "01"}, reply_parts_timeout_seconds=60)
    )
    connector = make_connector()
    run_until(connector, bound(connector, channel), what="bind")
    smsc.send_long_mo(
        system_id="esme", source="8613800138000", destination="1069000101", text=LONG_REPLY, order=[0, 2, 3]
    )
    run_until(connector, lambda: SmppReplyPart.objects.count() == 3, what="three parts stored")
    assert connector.sweep_reply_parts() == 0  # not yet: the set may still complete
    assert not InboundMessage.objects.exists()

    later = timezone.now() + timedelta(seconds=61)
    assert connector.sweep_reply_parts(now=later) == 1
    reply = InboundMessage.objects.get(tenant=tenant)
    parts = encode_text(LONG_REPLY, reference=42).parts
    texts = [decode_short_message(p.short_message, data_coding=DCS_UCS2, esm_class=p.esm_class).text for p in parts]
    assert reply.text == texts[0] + "[…]" + texts[2] + texts[3]
    assert connector.sweep_reply_parts(now=later) == 0  # handed on once

    # the missing part arriving late is kept (a new set) and assembled parts are purged later
    connector.sweep_reply_parts(now=later + timedelta(minutes=11))
    assert not SmppReplyPart.objects.filter(assembled_at__isnull=False).exists()


def test_a_long_td_reply_suppresses_the_number(smsc, tenant, make_connector):
    from compliance.gates import blocked_numbers
    from smsportal.enums import FailureReason

    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, extensions={str(tenant.pk): "01"}))
    connector = make_connector()
    run_until(connector, bound(connector, channel), what="bind")
    smsc.send_long_mo(system_id="esme", source="8613800138000", destination="1069000101", text="TD " + "x" * 200)
    run_until(connector, lambda: InboundMessage.objects.exists(), what="the reply")
    assert InboundMessage.objects.get().text.startswith("TD ")
    blocked = blocked_numbers(tenant=tenant, numbers=["+8613800138000"], message_class="marketing")
    assert blocked == {"+8613800138000": FailureReason.SUPPRESSED}


def test_join_parts_keeps_a_surrogate_pair_split_across_ucs2_parts_and_decodes_packed_gsm7():
    text = "a" * 66 + "😀" + "b" * 10  # the emoji's two UTF-16 units fall into two parts
    raw = text.encode("utf-16-be")
    parts = [(1, raw[:134], 0), (2, raw[134:], 0)]
    assert join_parts(parts, total=2, data_coding=DCS_UCS2) == text
    assert join_parts([(2, raw[134:], 0)], total=2, data_coding=DCS_UCS2).startswith("[…]")

    gsm = "Hello {world} " * 20
    encoded = encode_text(gsm, reference=7, gsm7_packed=True)
    decoded = [
        decode_short_message(p.short_message, data_coding=DCS_DEFAULT, esm_class=p.esm_class, gsm7_packed=True)
        for p in encoded.parts
    ]
    joined = join_parts(
        [(d.seq, d.payload, d.fill_bits) for d in reversed(decoded)],
        total=len(decoded),
        data_coding=DCS_DEFAULT,
        gsm7_packed=True,
    )
    assert joined == gsm
