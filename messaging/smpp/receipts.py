"""Delivery receipts carried by deliver_sm: the message_state / receipted_message_id TLVs,
or the de-facto standard text (SMPP 3.4 Appendix B):

    id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...

TLVs win where both are present. Raw codes are kept as "STAT:err" (e.g. "UNDELIV:001") and
mapped to our failure taxonomy through the channel's mapping table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from smsportal.enums import FailureReason

from . import pdu as P

STAT_TO_STATE = {
    "ENROUTE": P.STATE_ENROUTE,
    "DELIVRD": P.STATE_DELIVERED,
    "DELIVERED": P.STATE_DELIVERED,
    "EXPIRED": P.STATE_EXPIRED,
    "DELETED": P.STATE_DELETED,
    "UNDELIV": P.STATE_UNDELIVERABLE,
    "UNDELIVERABLE": P.STATE_UNDELIVERABLE,
    "ACCEPTD": P.STATE_ACCEPTED,
    "ACCEPTED": P.STATE_ACCEPTED,
    "UNKNOWN": P.STATE_UNKNOWN,
    "REJECTD": P.STATE_REJECTED,
    "REJECTED": P.STATE_REJECTED,
}
STATE_TO_STAT = {
    P.STATE_ENROUTE: "ENROUTE",
    P.STATE_DELIVERED: "DELIVRD",
    P.STATE_EXPIRED: "EXPIRED",
    P.STATE_DELETED: "DELETED",
    P.STATE_UNDELIVERABLE: "UNDELIV",
    P.STATE_ACCEPTED: "ACCEPTD",
    P.STATE_UNKNOWN: "UNKNOWN",
    P.STATE_REJECTED: "REJECTD",
}
FINAL_STATES = frozenset(
    {P.STATE_DELIVERED, P.STATE_EXPIRED, P.STATE_DELETED, P.STATE_UNDELIVERABLE, P.STATE_UNKNOWN, P.STATE_REJECTED}
)

# Used when a channel's own mapping table has no entry for a raw code. Keys are tried from
# the most to the least specific: "UNDELIV:001", then "*:001" (any stat), then "UNDELIV".
DEFAULT_ERROR_MAP = {
    "EXPIRED": FailureReason.EXPIRED,
    "DELETED": FailureReason.CHANNEL_ERROR,
    "REJECTD": FailureReason.CHANNEL_ERROR,
    "UNKNOWN": FailureReason.UNKNOWN,
    "UNDELIV": FailureReason.UNREACHABLE,
    "*:001": FailureReason.VACANT_NUMBER,
    "*:002": FailureReason.UNREACHABLE,
    "*:003": FailureReason.CARRIER_BLACKLIST,
    "*:004": FailureReason.CONTENT_BLOCKED,
}

_TEXT_FIELD = re.compile(r"(?i)\b(id|sub|dlvrd|submit date|done date|stat|err):\s*(\S*)")
_TEXT_BODY = re.compile(r"(?i)\btext:")


@dataclass(frozen=True, slots=True)
class Receipt:
    smsc_message_id: str
    state: int
    stat: str  # DELIVRD, UNDELIV, …
    err: str = ""
    submit_date: datetime | None = None
    done_date: datetime | None = None
    text: str = ""

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def delivered(self) -> bool:
        return self.state == P.STATE_DELIVERED

    @property
    def raw_status(self) -> str:
        return f"{self.stat}:{self.err}" if self.err else self.stat


def _parse_date(value: str) -> datetime | None:
    """YYMMDDhhmm[ss] (by hand: strptime costs more than the rest of a receipt)."""
    if len(value) not in (10, 12) or not value.isdigit():
        return None
    try:
        return datetime(
            2000 + int(value[0:2]),
            int(value[2:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[8:10]),
            int(value[10:12]) if len(value) == 12 else 0,
        )
    except ValueError:
        return None


def parse_receipt_text(text: str) -> dict[str, str]:
    """The key/value pairs of a receipt text ("submit date" and "done date" keep their space)."""
    body = ""
    match = _TEXT_BODY.search(text)
    if match:
        body = text[match.end() :]
        text = text[: match.start()]
    fields = {key.lower(): value for key, value in _TEXT_FIELD.findall(text)}
    if match:
        fields["text"] = body
    return fields


def format_receipt_text(
    *, smsc_message_id: str, stat: str, err: str = "000", submitted: datetime, done: datetime, text: str = ""
) -> str:
    return (
        f"id:{smsc_message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
        f"submit date:{submitted:%y%m%d%H%M} done date:{done:%y%m%d%H%M} stat:{stat} err:{err} text:{text[:20]}"
    )


def receipt_from_pdu(pdu: P.Pdu) -> Receipt | None:
    """The receipt a deliver_sm carries, or None when it is not a (parseable) receipt."""
    fields = parse_receipt_text(pdu.short_message.decode("latin-1")) if pdu.short_message else {}
    smsc_id = pdu.tlv_str(P.TLV_RECEIPTED_MESSAGE_ID) or fields.get("id", "")
    state = pdu.tlv_int(P.TLV_MESSAGE_STATE)
    stat = fields.get("stat", "").upper()
    if state is None:
        state = STAT_TO_STATE.get(stat)
    if not smsc_id or state is None:
        return None
    if not stat or STAT_TO_STATE.get(stat) != state:
        stat = STATE_TO_STAT.get(state, "UNKNOWN")
    err = fields.get("err", "")
    network_error = pdu.tlvs.get(P.TLV_NETWORK_ERROR_CODE)
    if not err and network_error and len(network_error) == 3:
        err = f"{int.from_bytes(network_error[1:], 'big'):03d}"
    return Receipt(
        smsc_message_id=smsc_id,
        state=state,
        stat=stat,
        err=err,
        submit_date=_parse_date(fields.get("submit date", "")),
        done_date=_parse_date(fields.get("done date", "")),
        text=fields.get("text", ""),
    )


def failure_reason_for(receipt: Receipt, error_map: dict[str, str] | None = None) -> str:
    """FailureReason value for a receipt that is not a delivery ("" when delivered)."""
    if receipt.delivered:
        return ""
    for table in (error_map or {}, DEFAULT_ERROR_MAP):
        for key in (receipt.raw_status, f"*:{receipt.err}" if receipt.err else None, receipt.stat):
            if key and key in table:
                return str(table[key])
    return FailureReason.UNKNOWN.value


def normalize_message_id(value: str, fmt: str) -> str:
    """Some SMSCs answer submit_sm in hex and put the same id in decimal in the receipt (or
    the other way round). Both sides are normalised to the submit_sm_resp form."""
    if fmt == "receipt_decimal":  # receipt decimal, resp hex
        try:
            return format(int(value), "x")
        except ValueError:
            return value
    if fmt == "receipt_hex":  # receipt hex, resp decimal
        try:
            return str(int(value, 16))
        except ValueError:
            return value
    return value
