"""GSM-7 / UCS-2 encoding and concatenation, against templates.segments' counting."""

from hypothesis import given
from hypothesis import strategies as st

from messaging.smpp import encoding as E
from messaging.smpp import pdu as P
from templates.segments import count_segments

CHINESE = (
    "【华美零售】尊敬的会员您好，双十一大促今晚八点开始，全场商品满三百减五十，会员再享九五折，点击链接领取优惠券，回复TD退订。"
    * 4
)


def test_gsm7_table_round_trip_with_extension_characters():
    text = "Hello {world} [1] ~ € \\ | ^ @£$"
    septets = E.gsm7_encode(text)
    assert septets.count(E.ESCAPE) == 9
    assert E.gsm7_decode(septets) == text


def test_pack_unpack_known_vector():
    # 3GPP 23.038 example: "hellohello" packs to e8329bfd4697d9ec37
    packed = E.pack_septets(E.gsm7_encode("hellohello"))
    assert packed.hex() == "e8329bfd4697d9ec37"
    assert E.gsm7_decode(E.unpack_septets(packed)) == "hellohello"


def test_seven_septets_get_a_cr_pad_not_an_at_sign():
    packed = E.pack_septets(E.gsm7_encode("1234567"))
    assert len(packed) == 7
    assert E.gsm7_decode(E.unpack_septets(packed)) == "1234567"


@given(st.text(alphabet=E.GSM7_BASIC.replace("\x1b", "") + "".join(E.GSM7_EXTENSION), max_size=400))
def test_packed_gsm7_round_trips(text):
    septets = E.gsm7_encode(text)
    for fill in (0, 1, 6):
        unpacked = E.unpack_septets(E.pack_septets(septets, fill_bits=fill), fill_bits=fill)
        assert E.gsm7_decode(unpacked) == text or (text.endswith("\r") and E.gsm7_decode(unpacked) == text[:-1])


def test_long_chinese_message_is_ucs2_with_udh_parts():
    encoded = E.encode_text(CHINESE, reference=0x2A)
    assert encoded.data_coding == E.DCS_UCS2
    assert encoded.segments == count_segments(CHINESE).segments == 4
    texts = []
    for seq, part in enumerate(encoded.parts, start=1):
        assert part.esm_class == P.ESM_UDHI
        assert part.short_message[:6] == bytes((5, 0, 3, 0x2A, 4, seq))
        assert len(part.short_message) <= 140
        decoded = E.decode_short_message(part.short_message, data_coding=8, esm_class=part.esm_class)
        assert (decoded.reference, decoded.total, decoded.seq) == (0x2A, 4, seq)
        texts.append(decoded.text)
    assert "".join(texts) == CHINESE


def test_sar_concatenation_uses_tlvs_and_no_udh():
    encoded = E.encode_text(CHINESE, reference=0x1234, concatenation="sar")
    assert all(part.esm_class == 0 for part in encoded.parts)
    last = encoded.parts[-1]
    assert last.tlvs[P.TLV_SAR_MSG_REF_NUM] == b"\x12\x34"
    assert last.tlvs[P.TLV_SAR_TOTAL_SEGMENTS] == bytes((4,))
    assert last.tlvs[P.TLV_SAR_SEGMENT_SEQNUM] == bytes((4,))
    decoded = E.decode_short_message(last.short_message, data_coding=8, tlvs=last.tlvs)
    assert (decoded.reference, decoded.total, decoded.seq) == (0x1234, 4, 4)


def test_surrogate_pairs_are_never_split():
    text = "好" * 66 + "😀" + "好" * 10
    encoded = E.encode_text(text)
    first = E.decode_short_message(encoded.parts[0].short_message, data_coding=8, esm_class=P.ESM_UDHI)
    assert first.text == "好" * 66  # the emoji did not fit into the 67th unit
    assert encoded.segments == count_segments(text).segments == 2


def test_single_part_gsm_and_packed_gsm_with_udh():
    assert E.encode_text("Your code is 123456").parts[0].short_message == b"Your code is 123456"
    long_text = "Dear customer, " * 20
    encoded = E.encode_text(long_text, gsm7_packed=True)
    assert encoded.segments == count_segments(long_text).segments == 2
    texts = [
        E.decode_short_message(p.short_message, data_coding=0, esm_class=p.esm_class, gsm7_packed=True).text
        for p in encoded.parts
    ]
    assert "".join(texts) == long_text
    assert all(len(p.short_message) <= 140 for p in encoded.parts)


@given(st.text(alphabet=st.sampled_from("aZ{€好😀 \n,"), max_size=700))
def test_parts_match_billing_segments(text):
    if not text:
        return
    encoded = E.encode_text(text)
    assert encoded.segments == count_segments(text).segments
    joined = "".join(
        E.decode_short_message(p.short_message, data_coding=encoded.data_coding, esm_class=p.esm_class).text
        for p in encoded.parts
    )
    assert joined == text
