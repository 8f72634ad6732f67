import pytest

from smsportal.numbers import InvalidNumber, mask, normalize


@pytest.mark.parametrize("raw", ["13800138000", "+86 138-0013-8000", "008613800138000", "+8613800138000"])
def test_normalize_forms_of_one_number(raw):
    number = normalize(raw)
    assert number.e164 == "+8613800138000"
    assert number.carrier == "mobile"
    assert number.province == "北京市"


@pytest.mark.parametrize(
    ("raw", "carrier"),
    [("13012345678", "unicom"), ("18912345678", "telecom"), ("19212345678", "broadnet"), ("19812345678", "mobile")],
)
def test_carriers(raw, carrier):
    assert normalize(raw).carrier == carrier


def test_province_with_city():
    assert normalize("18912345678").province == "江苏省"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("1381234567", "too_short"),
        ("abc", "not_a_number"),
        ("01012345678", "not_mobile"),
        ("138001380001234", "too_long"),
    ],
)
def test_invalid_numbers_say_why(raw, reason):
    with pytest.raises(InvalidNumber) as caught:
        normalize(raw)
    assert caught.value.reason == reason


def test_mask():
    assert mask("+8613800138000") == "138****8000"


def test_the_cached_fast_path_agrees_with_full_parsing_for_chinese_mobiles():
    """normalize() answers plain 11-digit Chinese mobiles from a per-prefix cache; it must
    give exactly what full parsing gives, refusals included, across every number range."""
    import random

    from smsportal.numbers import _normalize_parsed

    rng = random.Random(7)
    numbers = [f"1{rng.randrange(10**10):010d}" for _ in range(3000)]
    numbers += [f"1{p:02d}{rng.randrange(10**8):08d}" for p in range(100)]  # every second+third digit
    for national in numbers:
        for text in (national, "+86" + national):
            try:
                expected = _normalize_parsed(text, "CN")
            except InvalidNumber as error:
                expected = error.reason
            try:
                got = normalize(text)
            except InvalidNumber as error:
                got = error.reason
            assert got == expected, text
