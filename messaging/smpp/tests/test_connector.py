"""The connector against a real SMSC: binds, windowed submits, receipts, long messages,
throttling, drops, replies, wrong credentials."""

from __future__ import annotations

from collections import Counter

import pytest

from messaging.models import Channel, Message, ReceiptRaw
from messaging.smpp.models import SmppBindStatus, SmppPart, SmppReview
from smsportal.enums import FailureReason, MessageStatus
from smsportal.factories.smpp import HandedOffMessageFactory, SmppChannelFactory, smpp_settings

from .conftest import run_until

CHINESE = (
    "【华美零售】尊敬的会员您好，双十一大促今晚八点开始，全场商品满三百减五十，会员再享九五折，"
    "点击链接领取优惠券，详情请见会员中心。如有疑问请致电客服热线四零零八八八八八八八，回复TD退订。"
) * 2


def statuses(messages):
    return Counter(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", flat=True))


def all_final(messages, status=MessageStatus.DELIVERED):
    return lambda: statuses(messages) == Counter({status: len(messages)})


def hand_off(channel, tenant, count, first=0, **kwargs):
    return [
        HandedOffMessageFactory(tenant=tenant, channel=channel, number=f"+86139{i:08d}", **kwargs)
        for i in range(first, first + count)
    ]


def test_binds_submits_within_the_window_and_settles_by_receipts(smsc, smpp_channel, tenant, make_connector):
    smsc.behaviour.submit_latency = 0.05  # keeps the window busy
    messages = hand_off(smpp_channel, tenant, 40)
    connector = make_connector()
    run_until(connector, all_final(messages), what="every message delivered")

    assert len(smsc.smsc.bound_sessions("esme")) == 2
    assert 1 < smsc.smsc.max_in_flight <= 10  # windowed, not stop-and-wait, and never past the window
    assert len(smsc.smsc.submits) == 40
    assert {r.destination for r in smsc.smsc.submits} == {m.number.lstrip("+") for m in messages}
    assert all(r.source == "10690001" and r.data_coding == 8 for r in smsc.smsc.submits)  # Chinese: UCS-2
    message = Message.objects.get(pk=messages[0].pk)
    assert message.channel_ref and message.submitted_at and message.done_at
    assert not SmppPart.objects.exists()  # single-part receipts are matched in memory or by channel_ref
    assert ReceiptRaw.objects.filter(channel=smpp_channel, delivered=True).count() == 40

    connector.write_status()
    status = SmppBindStatus.objects.get(channel=smpp_channel)
    assert status.state == SmppBindStatus.State.BOUND
    assert (status.binds_bound, status.binds_total, status.window_size) == (2, 2, 20)
    assert status.submitted_total == 40


def test_undeliverable_receipts_map_through_the_channel_table_and_duplicates_are_harmless(smsc, tenant, make_connector):
    channel = SmppChannelFactory(
        settings=smpp_settings(smsc.port, error_map={"UNDELIV:004": FailureReason.CONTENT_BLOCKED})
    )
    smsc.behaviour.duplicate_receipts = True
    smsc.behaviour.outcomes = {
        "8613900000001": ("UNDELIV", "001"),
        "8613900000002": ("UNDELIV", "004"),
        "8613900000003": ("EXPIRED", "000"),
    }
    messages = hand_off(channel, tenant, 5)
    smsc.behaviour.receipt_tlvs = False  # the text form only
    connector = make_connector()
    run_until(
        connector,
        lambda: (
            sum(statuses(messages).values()) == statuses(messages)[MessageStatus.DELIVERED] + 3
            and not statuses(messages).get(MessageStatus.SUBMITTED)
            and not statuses(messages).get("submitting")
        ),
        what="every message settled",
    )

    by_number = {m.number: m for m in Message.objects.filter(pk__in=[m.pk for m in messages])}
    assert by_number["+8613900000000"].status == MessageStatus.DELIVERED
    assert by_number["+8613900000001"].failure_reason == FailureReason.VACANT_NUMBER
    assert by_number["+8613900000001"].raw_status == "UNDELIV:001"
    assert by_number["+8613900000002"].failure_reason == FailureReason.CONTENT_BLOCKED
    assert by_number["+8613900000003"].status == MessageStatus.FAILED
    assert by_number["+8613900000003"].failure_reason == FailureReason.EXPIRED
    # every receipt came twice; stored twice, applied once
    assert ReceiptRaw.objects.filter(channel=channel).count() == 10
    assert smsc.smsc.receipts_sent == 10


def test_long_chinese_message_goes_in_ucs2_parts_and_settles_as_a_whole(smsc, smpp_channel, tenant, make_connector):
    smsc.behaviour.receipts = False
    (message,) = hand_off(smpp_channel, tenant, 1, body=CHINESE)
    count = message.segments
    assert count >= 3
    connector = make_connector()
    run_until(connector, lambda: Message.objects.get(pk=message.pk).status == MessageStatus.SUBMITTED)

    parts = smsc.smsc.submits
    assert len(parts) == count  # each billed segment is one submit_sm
    assert all(p.data_coding == 8 and p.esm_class & 0x40 for p in parts)
    assert [p.seq for p in parts] == list(range(1, count + 1)) and {p.total for p in parts} == {count}
    assert len({p.reference for p in parts}) == 1
    assert "".join(p.text for p in parts) == CHINESE
    assert SmppPart.objects.filter(message_id=message.pk).count() == count  # receipts per part, after restarts

    for record in parts[:-1]:
        smsc.call(smsc.smsc.send_receipt, record.smsc_message_id)
    run_until(connector, lambda: ReceiptRaw.objects.filter(message_id=message.pk).count() == count - 1)
    assert Message.objects.get(pk=message.pk).status == MessageStatus.SUBMITTED  # not every part yet
    smsc.call(smsc.smsc.send_receipt, parts[-1].smsc_message_id)
    run_until(connector, lambda: Message.objects.get(pk=message.pk).status == MessageStatus.DELIVERED)


def test_sar_concatenation_when_the_channel_asks_for_it(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, concatenation="sar"))
    (message,) = hand_off(channel, tenant, 1, body=CHINESE)
    connector = make_connector()
    run_until(connector, all_final([message]))
    parts = smsc.smsc.submits
    assert len(parts) == message.segments and all(p.esm_class == 0 and 0x020C in p.tlvs for p in parts)
    assert "".join(p.text for p in sorted(parts, key=lambda p: p.seq)) == CHINESE


def test_throttled_and_queue_full_answers_slow_down_and_retry(smsc, smpp_channel, tenant, make_connector):
    smsc.behaviour.throttle_next = 6
    smsc.behaviour.queue_full_next = 3
    messages = hand_off(smpp_channel, tenant, 20)
    connector = make_connector()
    run_until(connector, all_final(messages), what="every message delivered after throttling")
    assert smsc.smsc.answers[0x58] == 6  # ESME_RTHROTTLED
    assert smsc.smsc.answers[0x14] == 3  # ESME_RMSGQFUL
    assert connector.engine.throttled == 9
    destinations = Counter(r.destination for r in smsc.smsc.submits)
    assert len(destinations) == 20 and set(destinations.values()) == {1}  # accepted once each


def test_rate_limit_paces_submits_without_errors(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port), rate_limit=50)
    smsc.behaviour.max_per_second = 60  # the SMSC would throttle above its own limit
    messages = hand_off(channel, tenant, 60)
    connector = make_connector()
    run_until(connector, all_final(messages), what="paced messages delivered")
    assert smsc.smsc.answers[0x58] == 0


def test_connection_dropped_mid_window_marks_in_flight_for_review_and_never_resends(
    smsc, smpp_channel, tenant, make_connector
):
    smsc.behaviour.submit_latency = 0.2
    smsc.behaviour.drop_after = 15
    messages = hand_off(smpp_channel, tenant, 40)
    connector = make_connector()

    def settled():
        counts = statuses(messages)
        reviewed = SmppReview.objects.filter(message__in=messages).count()
        return counts.get(MessageStatus.SUBMITTING, 0) == 0 and counts[MessageStatus.DELIVERED] + reviewed == 40

    run_until(connector, settled, what="every message delivered or under review")
    destinations = Counter(r.destination for r in smsc.smsc.submits)
    assert set(destinations.values()) == {1}  # nothing sent twice
    reviews = SmppReview.objects.filter(message__in=messages)
    assert reviews.exists()
    assert all(r.reason == SmppReview.Reason.DROPPED_IN_FLIGHT for r in reviews)
    for review in reviews:
        assert review.message.status == MessageStatus.SUBMITTED  # settled later by receipt or expiry
    assert len([a for a in smsc.smsc.bind_attempts if a[1]]) >= 3  # it reconnected


def test_connection_dropped_mid_window_resubmits_where_the_smsc_recognises_our_reference(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, window=10, dedupe_resubmissions=True))
    smsc.behaviour.submit_latency = 0.2
    smsc.behaviour.drop_after = 15
    smsc.behaviour.dedupe = True
    messages = hand_off(channel, tenant, 40)
    connector = make_connector()
    run_until(connector, all_final(messages), what="every message delivered after the drop")
    assert not SmppReview.objects.exists()
    assert len(smsc.smsc.submits) == 40  # each taken once; resubmissions answered with the first id
    assert len({m.channel_ref for m in Message.objects.filter(pk__in=[m.pk for m in messages])}) == 40


def test_enquire_link_keeps_the_bind_alive_and_a_drop_reconnects(smsc, tenant, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, enquire_link_seconds=1))
    connector = make_connector()
    run_until(connector, lambda: smsc.smsc.enquire_links >= 2, what="enquire_link")
    smsc.drop_all()
    run_until(connector, lambda: len([a for a in smsc.smsc.bind_attempts if a[1]]) >= 2, what="a new bind")
    (message,) = hand_off(channel, tenant, 1)
    run_until(connector, all_final([message]))


def test_wrong_credentials_open_the_breaker_and_traffic_moves_to_another_channel(smsc, tenant, make_connector):
    from messaging.dispatch import lane_dispatch_batch
    from smsportal.factories.messaging import ChannelFactory

    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, password="wrong"))
    other = ChannelFactory()
    messages = hand_off(channel, tenant, 5)
    connector = make_connector()
    run_until(connector, lambda: Channel.objects.get(pk=channel.pk).breaker_state == "open", what="the breaker")
    assert smsc.smsc.bind_attempts[0] == ("esme", False)
    assert not smsc.smsc.submits

    # what was handed to the refused channel goes back to the dispatcher, which routes elsewhere
    run_until(connector, lambda: statuses(messages) == Counter({MessageStatus.QUEUED: 5}), what="messages requeued")
    while lane_dispatch_batch("bulk"):
        pass
    routed = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {m.channel_id for m in routed} == {other.pk}
    assert {m.status for m in routed} <= {MessageStatus.SUBMITTED, MessageStatus.DELIVERED}

    connector.write_status()
    status = SmppBindStatus.objects.get(channel=channel)
    assert status.state == SmppBindStatus.State.REFUSED
    assert "ESME_RINVPASWD" in status.last_error


def test_inbound_td_reply_is_stored_and_suppresses_the_number(smsc, tenant, make_connector):
    from compliance.gates import blocked_numbers
    from messaging.models import InboundMessage

    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, extensions={str(tenant.pk): "01"}))
    connector = make_connector()
    run_until(connector, lambda: connector.engine.bound_transmitters(channel.pk) > 0, what="bind")
    smsc.send_mo(system_id="esme", source="8613800138000", destination="1069000101", text="TD")
    run_until(connector, lambda: InboundMessage.objects.filter(tenant=tenant).exists(), what="the reply")

    reply = InboundMessage.objects.get(tenant=tenant)
    assert (reply.number, reply.text, reply.channel_id) == ("+8613800138000", "TD", channel.pk)
    assert reply.is_opt_out
    blocked = blocked_numbers(tenant=tenant, numbers=["+8613800138000"], message_class="marketing")
    assert blocked == {"+8613800138000": FailureReason.SUPPRESSED}


def test_a_reply_in_chinese_to_another_tenant_stays_with_that_tenant(smsc, tenant, outsider, make_connector):
    from messaging.models import InboundMessage

    channel = SmppChannelFactory(
        settings=smpp_settings(smsc.port, extensions={str(tenant.pk): "01", str(outsider.tenant_id): "02"})
    )
    connector = make_connector()
    run_until(connector, lambda: connector.engine.bound_transmitters(channel.pk) > 0, what="bind")
    smsc.send_mo(system_id="esme", source="8613800138000", destination="1069000102", text="好的，收到")
    run_until(connector, lambda: InboundMessage.objects.exists(), what="the reply")
    reply = InboundMessage.objects.get()
    assert reply.tenant_id == outsider.tenant_id and reply.text == "好的，收到" and not reply.is_opt_out


@pytest.mark.parametrize("dedupe", [False, True])
def test_crash_recovery_asks_the_adapter(smsc, tenant, dedupe):
    from datetime import timedelta

    from django.utils import timezone

    from messaging.dispatch import leases_recover

    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, dedupe_resubmissions=dedupe))
    expired = timezone.now() - timedelta(minutes=5)
    sent, unknown = hand_off(channel, tenant, 2, lease_until=expired)
    SmppPart.objects.create(channel=channel, smsc_message_id="abc", tenant_id=tenant.pk, message_id=sent.pk)
    leases_recover()
    sent.refresh_from_db()
    unknown.refresh_from_db()
    assert (sent.status, sent.channel_ref) == (MessageStatus.SUBMITTED, "abc")
    if dedupe:
        assert unknown.status == MessageStatus.QUEUED  # the SMSC would recognise a resubmission
    else:
        assert (unknown.status, unknown.channel_ref) == (MessageStatus.SUBMITTED, "")
        assert SmppReview.objects.get(message=unknown).reason == SmppReview.Reason.CONNECTOR_CRASHED


def test_a_receipt_after_a_connector_restart_is_matched_by_reference(smsc, smpp_channel, tenant, make_connector):
    smsc.behaviour.receipts = False
    (single,) = hand_off(smpp_channel, tenant, 1)
    (long,) = hand_off(smpp_channel, tenant, 1, first=1, body=CHINESE)
    first = make_connector()
    run_until(first, lambda: statuses([single, long]) == Counter({MessageStatus.SUBMITTED: 2}))
    first.close()

    second = make_connector()
    second.unmatched_seconds = 0.2  # not its own submits: wait only briefly for a late submit_sm_resp
    for record in smsc.smsc.submits:
        smsc.call(smsc.smsc.send_receipt, record.smsc_message_id)
    run_until(second, all_final([single, long]), what="receipts matched after a restart")


@pytest.mark.django_db(transaction=True)
def test_threaded_claims_and_receipt_applier_on_their_own_connections(smsc, make_connector):
    from smsportal.factories import TenantFactory

    tenant = TenantFactory()
    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, binds=2, window=16))
    messages = hand_off(channel, tenant, 60)
    connector = make_connector(apply_receipts="thread", threaded=True)
    run_until(connector, all_final(messages), what="every message delivered with threads")
    assert connector.stats["claimed"] == 60 and connector.stats["receipts"] == 60
    connector.close()
    assert not connector.claimer.is_alive() and not connector.applier.is_alive()


def test_tls_link(tmp_path, tenant, make_connector):
    import ssl
    import subprocess

    from messaging.smpp.testserver import SmscThread

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with SmscThread(accounts={"esme": "secret"}, ssl_context=context) as tls_smsc:
        channel = SmppChannelFactory(settings=smpp_settings(tls_smsc.port, tls=True, tls_verify=False))
        untrusted = SmppChannelFactory(settings=smpp_settings(tls_smsc.port, tls=True))  # self-signed: refused
        messages = hand_off(channel, tenant, 3)
        connector = make_connector()
        run_until(connector, all_final(messages), what="delivery over TLS")
        assert len(tls_smsc.smsc.bound_sessions()) == 1
        connector.write_status()
        status = SmppBindStatus.objects.get(channel=untrusted)
        assert status.state == SmppBindStatus.State.DOWN and "CERTIFICATE_VERIFY_FAILED" in status.last_error
        connector.close()


def test_sender_number_carries_tenant_and_signature_extensions_and_replies_find_the_tenant(
    smsc, tenant, make_connector
):
    from messaging.models import InboundMessage
    from smsportal.factories.templates import approved_template

    template = approved_template(tenant=tenant)
    channel = SmppChannelFactory(
        settings=smpp_settings(
            smsc.port, extensions={str(tenant.pk): "01"}, signature_extensions={str(template.signature_id): "7"}
        )
    )
    (with_signature,) = hand_off(channel, tenant, 1, template=template)
    (plain,) = hand_off(channel, tenant, 1, first=1)
    connector = make_connector()
    run_until(connector, all_final([with_signature, plain]))
    sources = {r.destination: r.source for r in smsc.smsc.submits}
    assert sources == {"8613900000000": "10690001017", "8613900000001": "1069000101"}

    smsc.send_mo(system_id="esme", source="8613900000000", destination="10690001017", text="收到")
    run_until(connector, lambda: InboundMessage.objects.filter(tenant=tenant).exists(), what="the reply")
    assert InboundMessage.objects.get(tenant=tenant).extension == "017"


def test_receipt_codes_mapped_on_the_channel_code_page_apply_to_smpp_receipts(smsc, tenant, make_connector):
    from messaging.watch.models import ProviderCodeMapping

    channel = SmppChannelFactory(settings=smpp_settings(smsc.port, error_map={"UNDELIV:099": "unreachable"}))
    ProviderCodeMapping.objects.create(
        channel=channel, scope="receipt", code="UNDELIV:099", outcome="failed", failure_reason="carrier_blacklist"
    )
    ProviderCodeMapping.objects.create(
        channel=channel, scope="receipt", code="UNDELIV:098", outcome="failed", failure_reason="content_blocked"
    )
    smsc.behaviour.outcomes = {"8613900000000": ("UNDELIV", "099"), "8613900000001": ("UNDELIV", "098")}
    messages = hand_off(channel, tenant, 2)
    connector = make_connector()
    run_until(connector, all_final(messages, MessageStatus.FAILED), what="both failed")
    reasons = dict(Message.objects.filter(pk__in=[m.pk for m in messages]).values_list("number", "failure_reason"))
    # the operators' table wins over the settings' error_map, and adds codes it lacks
    assert reasons == {"+8613900000000": "carrier_blacklist", "+8613900000001": "content_blocked"}


def test_a_channel_with_invalid_settings_says_so_on_the_channels_page(db, make_connector):
    channel = SmppChannelFactory(settings=smpp_settings(2775, window=0))
    connector = make_connector()
    assert channel.pk not in connector.channels
    status = SmppBindStatus.objects.get(channel=channel)
    assert status.state == SmppBindStatus.State.DOWN and "window" in status.last_error


def test_transmitter_plus_receiver_binds_send_on_one_and_take_receipts_and_replies_on_the_other(
    smsc, tenant, make_connector
):
    from messaging.models import InboundMessage
    from messaging.smpp import pdu as P

    channel = SmppChannelFactory(
        settings=smpp_settings(smsc.port, bind_mode="transmitter_receiver", binds=2, extensions={str(tenant.pk): "01"})
    )
    messages = hand_off(channel, tenant, 20)
    connector = make_connector()
    run_until(connector, all_final(messages), what="delivered over TX, receipts over RX")
    commands = Counter(s.bind_command for s in smsc.smsc.bound_sessions("esme"))
    assert commands == Counter({P.BIND_TRANSMITTER: 2, P.BIND_RECEIVER: 2})
    assert connector.engine.bound_transmitters(channel.pk) == 2
    smsc.send_mo(system_id="esme", source="8613800138000", destination="1069000101", text="TD")
    run_until(connector, lambda: InboundMessage.objects.filter(tenant=tenant, is_opt_out=True).exists())
    connector.write_status()
    status = SmppBindStatus.objects.get(channel=channel)
    assert (status.binds_bound, status.binds_total, status.window_size) == (4, 4, 20)  # window on TX binds only
