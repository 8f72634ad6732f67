"""Text ↔ short_message: GSM-7 (GSM 03.38, packed or one septet per octet), UCS-2
(data_coding 8) and concatenation with a UDH (8-bit reference) or SAR TLVs.

Parts are cut exactly where `templates.segments.count_segments` counts them (160/153
septets, 70/67 UTF-16 units; an escape pair or a surrogate pair never straddles two parts),
so what we bill is what we send.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from . import pdu as P

DCS_DEFAULT = 0x00  # SMSC default alphabet: GSM-7 on every Chinese carrier link we know
DCS_LATIN1 = 0x03
DCS_UCS2 = 0x08

GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(GSM7_BASIC) == 128
GSM7_EXTENSION = {
    "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65,
}  # fmt: skip
ESCAPE = 0x1B
_BASIC_INDEX = {char: index for index, char in enumerate(GSM7_BASIC) if index != ESCAPE}
_EXTENSION_CHAR = {code: char for char, code in GSM7_EXTENSION.items()}

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 code units
UDH_CONCAT_LENGTH = 6


class EncodingError(ValueError):
    pass


def is_gsm7(text: str) -> bool:
    return all(char in _BASIC_INDEX or char in GSM7_EXTENSION for char in text)


def gsm7_septets(char: str) -> tuple[int, ...]:
    code = _BASIC_INDEX.get(char)
    if code is not None:
        return (code,)
    extension = GSM7_EXTENSION.get(char)
    if extension is None:
        raise EncodingError(f"{char!r} is not in the GSM-7 alphabet")
    return (ESCAPE, extension)


def gsm7_encode(text: str) -> bytes:
    """One septet per octet (how most SMSCs take data_coding 0 over SMPP)."""
    return bytes(septet for char in text for septet in gsm7_septets(char))


def gsm7_decode(septets: bytes) -> str:
    chars: list[str] = []
    escaped = False
    for septet in septets:
        septet &= 0x7F
        if escaped:
            chars.append(_EXTENSION_CHAR.get(septet, " "))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            chars.append(GSM7_BASIC[septet])
    return "".join(chars)


def pack_septets(septets: bytes, fill_bits: int = 0) -> bytes:
    """Pack 7-bit septets into octets, LSB first (3GPP 23.038 §6.1.2.1).

    `fill_bits` leaves room for a UDH so the first septet starts on a septet boundary. When the
    last octet would leave exactly 7 spare bits, a CR is packed there (23.038 §6.1.2.3.1) so the
    receiver does not read a spurious '@'."""
    if (fill_bits + 7 * len(septets)) % 8 == 1:
        septets = bytes(septets) + b"\r"
    out = bytearray()
    acc, bits = 0, fill_bits
    for septet in septets:
        acc |= (septet & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, fill_bits: int = 0) -> bytes:
    total_bits = len(data) * 8 - fill_bits
    value = int.from_bytes(data, "little") >> fill_bits
    out = bytes((value >> (7 * index)) & 0x7F for index in range(total_bits // 7))
    # A CR filling exactly the last 7 spare bits is padding (see pack_septets).
    if out and total_bits % 7 == 0 and out[-1] == 0x0D:
        out = out[:-1]
    return out


@dataclass(slots=True)
class Part:
    short_message: bytes
    esm_class: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class EncodedText:
    data_coding: int
    parts: list[Part]

    @property
    def segments(self) -> int:
        return len(self.parts)


def _units(text: str, gsm: bool) -> list[bytes]:
    if gsm:
        return [bytes(gsm7_septets(char)) for char in text]
    return [char.encode("utf-16-be") for char in text]


def _chunks(units: list[bytes], limit: int) -> list[bytes]:
    chunks: list[bytes] = []
    current = bytearray()
    for unit in units:
        if len(current) + len(unit) > limit:
            chunks.append(bytes(current))
            current = bytearray()
        current += unit
    if current or not chunks:
        chunks.append(bytes(current))
    return chunks


def encode_text(
    text: str,
    *,
    reference: int = 0,
    concatenation: str = "udh",
    gsm7_packed: bool = False,
    force_ucs2: bool = False,
) -> EncodedText:
    """Encode `text` into one or more parts ready for submit_sm.

    `concatenation` is "udh" (8-bit reference in a user data header, esm_class UDHI) or "sar"
    (sar_* TLVs, 16-bit reference). `reference` identifies the message's parts on the handset."""
    if concatenation not in {"udh", "sar"}:
        raise EncodingError(f"unknown concatenation {concatenation!r}")
    gsm = not force_ucs2 and is_gsm7(text)
    # Fast path: most messages fit one part.
    if gsm:
        septets = gsm7_encode(text)
        if len(septets) <= GSM7_SINGLE:
            return EncodedText(DCS_DEFAULT, [Part(pack_septets(septets) if gsm7_packed else septets)])
    else:
        octets = text.encode("utf-16-be")
        if len(octets) <= UCS2_SINGLE * 2:
            return EncodedText(DCS_UCS2, [Part(octets)])
    units = _units(text, gsm)
    total = sum(len(unit) for unit in units)
    single, per_part = (GSM7_SINGLE, GSM7_PART) if gsm else (UCS2_SINGLE * 2, UCS2_PART * 2)
    chunks = [b"".join(units)] if total <= single else _chunks(units, per_part)
    data_coding = DCS_DEFAULT if gsm else DCS_UCS2
    if len(chunks) > 255:
        raise EncodingError("text needs more than 255 parts")
    if len(chunks) == 1:
        payload = pack_septets(chunks[0]) if gsm and gsm7_packed else chunks[0]
        return EncodedText(data_coding, [Part(payload)])
    parts: list[Part] = []
    count = len(chunks)
    for seq, chunk in enumerate(chunks, start=1):
        if concatenation == "udh":
            udh = bytes((5, 0x00, 3, reference & 0xFF, count, seq))
            # 6 octets of UDH = 48 bits; one fill bit puts the first septet on a septet boundary.
            body = pack_septets(chunk, fill_bits=1) if gsm and gsm7_packed else chunk
            parts.append(Part(udh + body, esm_class=P.ESM_UDHI))
        else:
            body = pack_septets(chunk) if gsm and gsm7_packed else chunk
            tlvs = {
                P.TLV_SAR_MSG_REF_NUM: struct.pack(">H", reference & 0xFFFF),
                P.TLV_SAR_TOTAL_SEGMENTS: bytes((count,)),
                P.TLV_SAR_SEGMENT_SEQNUM: bytes((seq,)),
            }
            parts.append(Part(body, tlvs=tlvs))
    return EncodedText(data_coding, parts)


@dataclass(slots=True)
class DecodedMessage:
    text: str
    reference: int | None = None  # concatenation reference, when a part
    total: int = 1
    seq: int = 1
    payload: bytes = b""  # the user data after any UDH, as received
    fill_bits: int = 0  # packed GSM-7 after a UDH: bits before the first septet

    @property
    def is_part(self) -> bool:
        return self.reference is not None and self.total > 1


def decode_short_message(
    short_message: bytes,
    *,
    data_coding: int,
    esm_class: int = 0,
    tlvs: dict[int, bytes] | None = None,
    gsm7_packed: bool = False,
) -> DecodedMessage:
    """The inverse of `encode_text` for one part (MO messages, the test SMSC)."""
    tlvs = tlvs or {}
    payload = short_message or tlvs.get(P.TLV_MESSAGE_PAYLOAD, b"")
    reference, total, seq = None, 1, 1
    fill_bits = 0
    if esm_class & P.ESM_UDHI and payload:
        header_length = payload[0]
        header = payload[1 : 1 + header_length]
        payload = payload[1 + header_length :]
        index = 0
        while index + 2 <= len(header):
            iei, length = header[index], header[index + 1]
            value = header[index + 2 : index + 2 + length]
            if iei == 0x00 and length == 3:
                reference, total, seq = value[0], value[1], value[2]
            elif iei == 0x08 and length == 4:
                reference, total, seq = struct.unpack(">H", value[:2])[0], value[2], value[3]
            index += 2 + length
        fill_bits = (7 - ((header_length + 1) * 8) % 7) % 7
    elif P.TLV_SAR_MSG_REF_NUM in tlvs:
        reference = int.from_bytes(tlvs[P.TLV_SAR_MSG_REF_NUM], "big")
        total = tlvs.get(P.TLV_SAR_TOTAL_SEGMENTS, b"\x01")[0]
        seq = tlvs.get(P.TLV_SAR_SEGMENT_SEQNUM, b"\x01")[0]
    if data_coding == DCS_UCS2:
        text = payload.decode("utf-16-be", errors="replace")
    elif data_coding in (DCS_DEFAULT, 0x01):
        # When packed, the fill bits that align the first septet after the UDH open the payload.
        septets = unpack_septets(payload, fill_bits=fill_bits) if gsm7_packed else payload
        text = gsm7_decode(septets)
    else:
        text = payload.decode("latin-1")
    return DecodedMessage(text=text, reference=reference, total=total, seq=seq, payload=payload, fill_bits=fill_bits)


def _decode_payload(payload: bytes, *, data_coding: int, fill_bits: int, gsm7_packed: bool) -> str:
    if data_coding == DCS_UCS2:
        return payload.decode("utf-16-be", errors="replace")
    if data_coding in (DCS_DEFAULT, 0x01):
        return gsm7_decode(unpack_septets(payload, fill_bits=fill_bits) if gsm7_packed else payload)
    return payload.decode("latin-1")


def join_parts(
    parts: list[tuple[int, bytes, int]], *, total: int, data_coding: int, gsm7_packed: bool = False, gap: str = "[…]"
) -> str:
    """The text of a concatenated message from its parts [(seq, payload, fill_bits)], in seq
    order. UCS-2 parts are joined before decoding (a surrogate pair may straddle two parts);
    GSM-7 parts are decoded one by one. A missing part reads as `gap`."""
    by_seq = {seq: (payload, fill_bits) for seq, payload, fill_bits in parts}
    pieces: list[str] = []
    run: list[bytes] = []  # consecutive UCS-2 payloads, decoded together

    def flush() -> None:
        if run:
            pieces.append(b"".join(run).decode("utf-16-be", errors="replace"))
            run.clear()

    for seq in range(1, max(total, max(by_seq, default=0)) + 1):
        found = by_seq.get(seq)
        if found is None:
            flush()
            pieces.append(gap)
        elif data_coding == DCS_UCS2:
            run.append(found[0])
        else:
            pieces.append(
                _decode_payload(found[0], data_coding=data_coding, fill_bits=found[1], gsm7_packed=gsm7_packed)
            )
    flush()
    return "".join(pieces)
