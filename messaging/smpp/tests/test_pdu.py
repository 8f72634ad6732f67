"""The PDU codec, cross-checked against the independent `smpp34` implementation."""

import pytest
import smpp34
from hypothesis import given
from hypothesis import strategies as st

from messaging.smpp import pdu as P


def test_submit_sm_round_trip_and_smpp34_reads_our_bytes():
    pdu = P.Pdu(
        P.SUBMIT_SM,
        sequence=7,
        source_addr="10690001",
        destination_addr="8613800138000",
        esm_class=P.ESM_UDHI,
        registered_delivery=1,
        data_coding=8,
        short_message=b"\x05\x00\x03\x2a\x02\x01" + "你好".encode("utf-16-be"),
        tlvs={P.TLV_CLIENT_REFERENCE: b"12345"},
    )
    data = pdu.encode()
    assert P.decode(data) == pdu
    theirs = smpp34.decode(data)
    assert theirs.destination_addr == "8613800138000"
    assert theirs.source_addr == "10690001"
    assert theirs.data_coding == 8
    assert theirs.esm_class == P.ESM_UDHI
    assert theirs.short_message == pdu.short_message
    assert {(t.tag, t.value) for t in theirs.tlvs} == {(P.TLV_CLIENT_REFERENCE, b"12345")}


def test_we_read_smpp34_deliver_sm_with_receipt_tlvs():
    data = smpp34.DeliverSm(
        "8613800138000",
        "10690001",
        b"id:abc stat:DELIVRD err:000",
        esm_class=4,
        tlvs=[
            smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, b"abc\x00"),
            smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02"),
        ],
        sequence_number=99,
    ).encode()
    pdu = P.decode(data)
    assert pdu.command_id == P.DELIVER_SM and pdu.sequence == 99
    assert pdu.is_receipt
    assert pdu.tlv_str(P.TLV_RECEIPTED_MESSAGE_ID) == "abc"
    assert pdu.tlv_int(P.TLV_MESSAGE_STATE) == P.STATE_DELIVERED


@pytest.mark.parametrize("command", [P.BIND_TRANSCEIVER, P.BIND_TRANSMITTER, P.BIND_RECEIVER])
def test_bind_round_trip(command):
    pdu = P.Pdu(command, sequence=1, system_id="esme", password="secret", system_type="SMS", address_range="")
    decoded = P.decode(pdu.encode())
    assert (decoded.system_id, decoded.password, decoded.system_type) == ("esme", "secret", "SMS")
    assert decoded.interface_version == 0x34


def test_responses_with_and_without_body():
    ok = P.decode(P.Pdu(P.SUBMIT_SM_RESP, sequence=3, message_id="m-1").encode())
    assert ok.message_id == "m-1" and ok.status == 0
    throttled = P.Pdu(P.SUBMIT_SM_RESP, sequence=4, status=P.ESME_RTHROTTLED).encode()
    assert len(throttled) == 16  # error responses carry no body
    assert P.decode(throttled).status == P.ESME_RTHROTTLED
    assert smpp34.decode(throttled).command_status == P.ESME_RTHROTTLED
    bind_resp = P.decode(P.Pdu(P.BIND_TRANSCEIVER_RESP, sequence=1, system_id="SMSC").encode())
    assert bind_resp.system_id == "SMSC"
    for command in (P.ENQUIRE_LINK, P.ENQUIRE_LINK_RESP, P.UNBIND, P.UNBIND_RESP, P.GENERIC_NACK):
        data = P.Pdu(command, sequence=5).encode()
        assert len(data) == 16 and P.decode(data).command_id == command
        assert smpp34.decode(data).command_id == command


def test_broken_pdus_are_refused():
    with pytest.raises(P.PduError):
        P.decode(b"\x00\x00\x00\x20" + b"\x00" * 12)  # length says 32, 16 given
    with pytest.raises(P.PduError) as unknown:
        P.decode(P.HEADER.pack(16, 0x0000_0777, 0, 1))
    assert unknown.value.status == P.ESME_RINVCMDID
    truncated = bytearray(P.Pdu(P.SUBMIT_SM, destination_addr="86138").encode())
    del truncated[-3:]
    truncated[0:4] = len(truncated).to_bytes(4, "big")
    with pytest.raises(P.PduError):
        P.decode(bytes(truncated))
    with pytest.raises(P.PduError):
        P.Pdu(P.BIND_TRANSCEIVER, system_id="x" * 16).encode()
    with pytest.raises(P.PduError):
        P.Pdu(P.SUBMIT_SM, short_message=b"x" * 255).encode()


def test_split_frames_keeps_partial_tail():
    first = P.Pdu(P.ENQUIRE_LINK, sequence=1).encode()
    second = P.Pdu(P.SUBMIT_SM_RESP, sequence=2, message_id="abc").encode()
    buffer = bytearray(first + second[:5])
    assert P.split_frames(buffer) == [first]
    buffer += second[5:]
    assert P.split_frames(buffer) == [second]
    assert buffer == b""
    with pytest.raises(P.PduError):
        P.split_frames(bytearray(b"\x00\x00\x00\x03abcd"))


@given(
    destination=st.text(alphabet="0123456789", min_size=1, max_size=20),
    message=st.binary(max_size=254),
    tlv=st.binary(max_size=40),
    sequence=st.integers(min_value=1, max_value=0x7FFFFFFF),
)
def test_submit_sm_round_trips_any_payload(destination, message, tlv, sequence):
    pdu = P.Pdu(
        P.SUBMIT_SM,
        sequence=sequence,
        destination_addr=destination,
        short_message=message,
        tlvs={P.TLV_MESSAGE_PAYLOAD: tlv},
    )
    assert P.decode(pdu.encode()) == pdu
    assert smpp34.decode(pdu.encode()).short_message == message
