import pytest
from hypothesis import given
from hypothesis import strategies as st

from templates.segments import GSM7, UCS2, count_segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_boundaries(length, segments):
    result = count_segments("验" * length)
    assert result.encoding == UCS2
    assert result.characters == length
    assert result.segments == segments


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_boundaries(length, segments):
    result = count_segments("a" * length)
    assert result.encoding == GSM7
    assert result.characters == length
    assert result.segments == segments


def test_empty_text_has_no_segment():
    assert count_segments("").segments == 0


def test_gsm_extension_characters_count_double():
    result = count_segments("€" * 80)
    assert result.encoding == GSM7
    assert result.characters == 160
    assert result.segments == 1
    assert count_segments("€" * 80 + "a").segments == 2
    assert count_segments("a[b]").characters == 6


def test_extension_character_never_straddles_two_parts():
    # 152 plain septets then one 2-septet char: 154 > 153, so the escape moves to part 2.
    text = "a" * 152 + "{" + "a" * 152
    result = count_segments(text)
    assert result.characters == 306
    assert result.segments == 3


def test_emoji_forces_ucs2_and_counts_two_units():
    result = count_segments("Hello 😀")
    assert result.encoding == UCS2
    assert result.characters == 8
    assert count_segments("😀" * 35).segments == 1
    assert count_segments("😀" * 35 + "a").segments == 2


def test_surrogate_pair_never_split():
    text = "a" * 66 + "😀" + "a" * 66  # 134 units, but the emoji cannot straddle 67
    assert count_segments(text).characters == 134
    assert count_segments(text).segments == 3


def test_signature_and_chinese_switch_to_ucs2():
    result = count_segments("【华美零售】Your code is 1234")
    assert result.encoding == UCS2
    assert result.characters == 6 + 17


def test_gsm_basic_accented_characters_stay_gsm7():
    assert count_segments("Ça coûte 5€").encoding == UCS2  # û is not GSM-7
    assert count_segments("Ça fait 5€ à Zürich").encoding == GSM7


def test_remaining_in_segment():
    assert count_segments("a" * 150).remaining_in_segment == 10
    assert count_segments("a" * 200).remaining_in_segment == 106


def _expected(units: int, single: int, part: int) -> int:
    if units == 0:
        return 0
    return 1 if units <= single else -(-units // part)


@given(st.text(alphabet="abcXYZ019 @!?", max_size=800))
def test_plain_gsm_matches_the_formula(text):
    result = count_segments(text)
    assert result.encoding == GSM7
    assert result.segments == _expected(len(text), 160, 153)


@given(st.text(alphabet="验证码您的订单已发货", max_size=600))
def test_plain_chinese_matches_the_formula(text):
    result = count_segments(text)
    assert result.segments == _expected(len(text), 70, 67)
    if text:
        assert result.encoding == UCS2


@given(st.text(max_size=400))
def test_any_text_never_undercounts(text):
    result = count_segments(text)
    limit = result.single_limit if result.segments <= 1 else result.segments * result.part_limit
    assert result.characters <= limit
    assert count_segments(text + "a").segments >= result.segments
