from datetime import datetime

from messaging.smpp import pdu as P
from messaging.smpp.receipts import (
    failure_reason_for,
    format_receipt_text,
    normalize_message_id,
    parse_receipt_text,
    receipt_from_pdu,
)
from smsportal.enums import FailureReason

TEXT = "id:0123456789 sub:001 dlvrd:000 submit date:2411251015 done date:2411251016 stat:UNDELIV err:001 text:Your code"


def test_parse_standard_receipt_text():
    fields = parse_receipt_text(TEXT)
    assert fields["id"] == "0123456789"
    assert fields["submit date"] == "2411251015"
    assert fields["stat"] == "UNDELIV"
    assert fields["err"] == "001"
    assert fields["text"] == "Your code"


def test_receipt_from_text_only():
    receipt = receipt_from_pdu(P.Pdu(P.DELIVER_SM, esm_class=4, short_message=TEXT.encode()))
    assert receipt.smsc_message_id == "0123456789"
    assert not receipt.delivered and receipt.is_final
    assert receipt.raw_status == "UNDELIV:001"
    assert receipt.done_date == datetime(2024, 11, 25, 10, 16)
    assert failure_reason_for(receipt) == FailureReason.VACANT_NUMBER


def test_tlvs_win_over_text():
    pdu = P.Pdu(
        P.DELIVER_SM,
        esm_class=4,
        short_message=b"id:wrong stat:UNDELIV err:002",
        tlvs={P.TLV_RECEIPTED_MESSAGE_ID: b"right\x00", P.TLV_MESSAGE_STATE: bytes((P.STATE_DELIVERED,))},
    )
    receipt = receipt_from_pdu(pdu)
    assert receipt.smsc_message_id == "right"
    assert receipt.delivered and receipt.stat == "DELIVRD"
    assert failure_reason_for(receipt) == ""


def test_network_error_code_when_text_has_none():
    pdu = P.Pdu(
        P.DELIVER_SM,
        esm_class=4,
        tlvs={
            P.TLV_RECEIPTED_MESSAGE_ID: b"x1",
            P.TLV_MESSAGE_STATE: bytes((P.STATE_UNDELIVERABLE,)),
            P.TLV_NETWORK_ERROR_CODE: b"\x03\x00\x03",
        },
    )
    receipt = receipt_from_pdu(pdu)
    assert receipt.raw_status == "UNDELIV:003"
    assert failure_reason_for(receipt) == FailureReason.CARRIER_BLACKLIST


def test_channel_mapping_table_wins_and_unknown_codes_are_unknown():
    receipt = receipt_from_pdu(P.Pdu(P.DELIVER_SM, esm_class=4, short_message=TEXT.encode()))
    assert failure_reason_for(receipt, {"UNDELIV:001": "content_blocked"}) == "content_blocked"
    odd = receipt_from_pdu(P.Pdu(P.DELIVER_SM, esm_class=4, short_message=b"id:1 stat:REJECTD err:777"))
    assert failure_reason_for(odd) == FailureReason.CHANNEL_ERROR
    assert receipt_from_pdu(P.Pdu(P.DELIVER_SM, esm_class=4, short_message=b"no receipt here")) is None


def test_formatted_text_parses_back_and_id_formats():
    now = datetime(2026, 11, 25, 8, 30)
    text = format_receipt_text(smsc_message_id="abc", stat="DELIVRD", submitted=now, done=now, text="hi")
    assert parse_receipt_text(text)["stat"] == "DELIVRD"
    assert normalize_message_id("255", "receipt_decimal") == "ff"
    assert normalize_message_id("ff", "receipt_hex") == "255"
    assert normalize_message_id("zz", "receipt_hex") == "zz"
