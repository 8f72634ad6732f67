"""A compact SMPP 3.4 PDU codec (pure Python, struct-based).

Only the operations a carrier link needs: the three binds, submit_sm, deliver_sm,
enquire_link, unbind, generic_nack and their responses, with optional parameters (TLVs)
kept as raw bytes by tag. The `smpp34` wheel decodes the same bytes in the tests as an
independent cross-check; our own codec is used on the hot path because the connector needs
control over sequence numbers, framing and drops that the wheel's high-level client hides.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER = struct.Struct(">IIII")
HEADER_SIZE = HEADER.size
MAX_PDU_SIZE = 64 * 1024  # anything longer is a broken or hostile peer

# command_id
GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESP = 0x80000000
BIND_RECEIVER_RESP = BIND_RECEIVER | RESP
BIND_TRANSMITTER_RESP = BIND_TRANSMITTER | RESP
SUBMIT_SM_RESP = SUBMIT_SM | RESP
DELIVER_SM_RESP = DELIVER_SM | RESP
UNBIND_RESP = UNBIND | RESP
BIND_TRANSCEIVER_RESP = BIND_TRANSCEIVER | RESP
ENQUIRE_LINK_RESP = ENQUIRE_LINK | RESP

BIND_COMMANDS = frozenset({BIND_RECEIVER, BIND_TRANSMITTER, BIND_TRANSCEIVER})
BIND_RESPONSES = frozenset({BIND_RECEIVER_RESP, BIND_TRANSMITTER_RESP, BIND_TRANSCEIVER_RESP})

COMMAND_NAMES = {
    GENERIC_NACK: "generic_nack",
    BIND_RECEIVER: "bind_receiver",
    BIND_TRANSMITTER: "bind_transmitter",
    SUBMIT_SM: "submit_sm",
    DELIVER_SM: "deliver_sm",
    UNBIND: "unbind",
    BIND_TRANSCEIVER: "bind_transceiver",
    ENQUIRE_LINK: "enquire_link",
    BIND_RECEIVER_RESP: "bind_receiver_resp",
    BIND_TRANSMITTER_RESP: "bind_transmitter_resp",
    SUBMIT_SM_RESP: "submit_sm_resp",
    DELIVER_SM_RESP: "deliver_sm_resp",
    UNBIND_RESP: "unbind_resp",
    BIND_TRANSCEIVER_RESP: "bind_transceiver_resp",
    ENQUIRE_LINK_RESP: "enquire_link_resp",
}

# command_status (SMPP 3.4 §5.1.3)
ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RALYBND = 0x05
ESME_RSYSERR = 0x08
ESME_RINVSRCADR = 0x0A
ESME_RINVDSTADR = 0x0B
ESME_RINVMSGID = 0x0C
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RINVSYSID = 0x0F
ESME_RMSGQFUL = 0x14
ESME_RINVESMCLASS = 0x43
ESME_RSUBMITFAIL = 0x45
ESME_RINVSYSTYP = 0x53
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64
ESME_RX_P_APPN = 0x65
ESME_RX_R_APPN = 0x66
ESME_RINVOPTPARSTREAM = 0xC0
ESME_RINVPARLEN = 0xC2
ESME_RDELIVERYFAILURE = 0xFE
ESME_RUNKNOWNERR = 0xFF

STATUS_NAMES = {
    value: name for name, value in list(globals().items()) if name.startswith("ESME_R") and isinstance(value, int)
}

# Temporary conditions: slow down and try the same message again on the same link.
RETRY_LATER_STATUSES = frozenset({ESME_RTHROTTLED, ESME_RMSGQFUL, ESME_RX_T_APPN})
# The credentials or the account are wrong: no point in retrying soon.
BIND_REFUSED_STATUSES = frozenset({ESME_RINVPASWD, ESME_RINVSYSID, ESME_RBINDFAIL, ESME_RINVSYSTYP})

# TLV tags (SMPP 3.4 §5.3.2)
TLV_ADDITIONAL_STATUS_INFO_TEXT = 0x001D
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_USER_MESSAGE_REFERENCE = 0x0204
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_SC_INTERFACE_VERSION = 0x0210
TLV_NETWORK_ERROR_CODE = 0x0423
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MESSAGE_STATE = 0x0427
# Vendor-specific range (0x1400–0x3FFF): our message id, so an SMSC that supports it can
# recognise a resubmission after a drop and answer with the original message_id.
TLV_CLIENT_REFERENCE = 0x1401

# message_state values (receipts)
STATE_ENROUTE = 1
STATE_DELIVERED = 2
STATE_EXPIRED = 3
STATE_DELETED = 4
STATE_UNDELIVERABLE = 5
STATE_ACCEPTED = 6
STATE_UNKNOWN = 7
STATE_REJECTED = 8

# esm_class bits
ESM_UDHI = 0x40
ESM_DELIVERY_RECEIPT = 0x04
ESM_TYPE_MASK = 0x3C

INTERFACE_VERSION = 0x34


class PduError(ValueError):
    """A PDU that cannot be decoded; answered with generic_nack by the peer."""

    def __init__(self, message: str, status: int = ESME_RINVCMDLEN):
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Pdu:
    """One SMPP PDU. Body fields not used by a command keep their defaults."""

    command_id: int
    sequence: int = 0
    status: int = ESME_ROK
    # bind_*
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""
    # submit_sm / deliver_sm
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 1
    dest_addr_npi: int = 1
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    # *_resp
    message_id: str = ""
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return COMMAND_NAMES.get(self.command_id, hex(self.command_id))

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESP)

    @property
    def is_receipt(self) -> bool:
        return self.command_id == DELIVER_SM and (self.esm_class & ESM_TYPE_MASK) == ESM_DELIVERY_RECEIPT

    def tlv_int(self, tag: int) -> int | None:
        value = self.tlvs.get(tag)
        return int.from_bytes(value, "big") if value else None

    def tlv_str(self, tag: int) -> str | None:
        value = self.tlvs.get(tag)
        return value.rstrip(b"\0").decode("latin-1") if value is not None else None

    def encode(self) -> bytes:
        return encode(self)


def _cstr(value: str, max_len: int | None = None) -> bytes:
    raw = value.encode("latin-1")
    if max_len is not None and len(raw) >= max_len:
        raise PduError(f"field too long: {value!r} (max {max_len - 1})", ESME_RINVPARLEN)
    return raw + b"\0"


def _encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in tlvs.items())


def encode(pdu: Pdu) -> bytes:
    command_id = pdu.command_id
    if command_id in BIND_COMMANDS:
        body = b"".join(
            (
                _cstr(pdu.system_id, 16),
                _cstr(pdu.password, 9),
                _cstr(pdu.system_type, 13),
                bytes((pdu.interface_version, pdu.addr_ton, pdu.addr_npi)),
                _cstr(pdu.address_range, 41),
            )
        )
    elif command_id in (SUBMIT_SM, DELIVER_SM):
        message = pdu.short_message
        if len(message) > 254:
            raise PduError("short_message longer than 254 octets; use message_payload", ESME_RINVMSGLEN)
        body = b"".join(
            (
                _cstr(pdu.service_type, 6),
                bytes((pdu.source_addr_ton, pdu.source_addr_npi)),
                _cstr(pdu.source_addr, 21),
                bytes((pdu.dest_addr_ton, pdu.dest_addr_npi)),
                _cstr(pdu.destination_addr, 21),
                bytes((pdu.esm_class, pdu.protocol_id, pdu.priority_flag)),
                _cstr(pdu.schedule_delivery_time, 17),
                _cstr(pdu.validity_period, 17),
                bytes(
                    (
                        pdu.registered_delivery,
                        pdu.replace_if_present_flag,
                        pdu.data_coding,
                        pdu.sm_default_msg_id,
                        len(message),
                    )
                ),
                message,
            )
        )
    elif command_id in BIND_RESPONSES:
        body = _cstr(pdu.system_id) if pdu.status == ESME_ROK or pdu.system_id else b""
    elif command_id == SUBMIT_SM_RESP:
        body = _cstr(pdu.message_id) if pdu.status == ESME_ROK else b""
    elif command_id == DELIVER_SM_RESP:
        body = b"\0"
    else:  # enquire_link, unbind, their responses, generic_nack: header only
        body = b""
    if pdu.tlvs:
        body += _encode_tlvs(pdu.tlvs)
    return HEADER.pack(HEADER_SIZE + len(body), command_id, pdu.status, pdu.sequence) + body


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes, pos: int):
        self.data = data
        self.pos = pos

    def cstr(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise PduError("unterminated C-string", ESME_RINVCMDLEN)
        value = self.data[self.pos : end].decode("latin-1")
        self.pos = end + 1
        return value

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise PduError("PDU body too short", ESME_RINVCMDLEN)
        value = self.data[self.pos]
        self.pos += 1
        return value

    def take(self, length: int) -> bytes:
        if self.pos + length > len(self.data):
            raise PduError("PDU body too short", ESME_RINVCMDLEN)
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def tlvs(self) -> dict[int, bytes]:
        tlvs: dict[int, bytes] = {}
        data, pos, end = self.data, self.pos, len(self.data)
        while pos < end:
            if pos + 4 > end:
                raise PduError("truncated TLV header", ESME_RINVOPTPARSTREAM)
            tag, length = struct.unpack_from(">HH", data, pos)
            pos += 4
            if pos + length > end:
                raise PduError("truncated TLV value", ESME_RINVOPTPARSTREAM)
            tlvs[tag] = data[pos : pos + length]
            pos += length
        self.pos = pos
        return tlvs


def decode(data: bytes) -> Pdu:
    """Decode one complete PDU (header included)."""
    if len(data) < HEADER_SIZE:
        raise PduError("PDU shorter than its header")
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError(f"command_length {length} does not match {len(data)} octets")
    pdu = Pdu(command_id=command_id, sequence=sequence, status=status)
    reader = _Reader(data, HEADER_SIZE)
    if command_id in BIND_COMMANDS:
        pdu.system_id = reader.cstr()
        pdu.password = reader.cstr()
        pdu.system_type = reader.cstr()
        pdu.interface_version = reader.byte()
        pdu.addr_ton = reader.byte()
        pdu.addr_npi = reader.byte()
        pdu.address_range = reader.cstr()
    elif command_id in (SUBMIT_SM, DELIVER_SM):
        pdu.service_type = reader.cstr()
        pdu.source_addr_ton = reader.byte()
        pdu.source_addr_npi = reader.byte()
        pdu.source_addr = reader.cstr()
        pdu.dest_addr_ton = reader.byte()
        pdu.dest_addr_npi = reader.byte()
        pdu.destination_addr = reader.cstr()
        pdu.esm_class = reader.byte()
        pdu.protocol_id = reader.byte()
        pdu.priority_flag = reader.byte()
        pdu.schedule_delivery_time = reader.cstr()
        pdu.validity_period = reader.cstr()
        pdu.registered_delivery = reader.byte()
        pdu.replace_if_present_flag = reader.byte()
        pdu.data_coding = reader.byte()
        pdu.sm_default_msg_id = reader.byte()
        pdu.short_message = reader.take(reader.byte())
    elif command_id in BIND_RESPONSES or command_id in (SUBMIT_SM_RESP, DELIVER_SM_RESP):
        # Error responses may come without a body at all.
        if reader.pos < length:
            value = reader.cstr()
            if command_id in BIND_RESPONSES:
                pdu.system_id = value
            else:
                pdu.message_id = value
    elif command_id not in COMMAND_NAMES:
        raise PduError(f"unknown command_id {command_id:#x}", ESME_RINVCMDID)
    if reader.pos < length:
        pdu.tlvs = reader.tlvs()
    return pdu


def split_frames(buffer: bytearray) -> list[bytes]:
    """Cut every complete PDU off the front of `buffer` (in place)."""
    frames: list[bytes] = []
    pos, available = 0, len(buffer)
    while available - pos >= 4:
        (length,) = struct.unpack_from(">I", buffer, pos)
        if length < HEADER_SIZE or length > MAX_PDU_SIZE:
            raise PduError(f"invalid command_length {length}")
        if available - pos < length:
            break
        frames.append(bytes(buffer[pos : pos + length]))
        pos += length
    if pos:
        del buffer[:pos]
    return frames


def response_for(request: Pdu, status: int = ESME_ROK, **fields) -> Pdu:
    return Pdu(command_id=request.command_id | RESP, sequence=request.sequence, status=status, **fields)


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:08X}")
