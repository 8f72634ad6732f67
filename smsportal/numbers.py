"""Phone numbers: normalised once (E.164, carrier, province) with phonenumbers, and masked
for display. Never a hand-made prefix table."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from django.utils.translation import gettext_lazy as _
from phonenumbers import PhoneNumberType, carrier, geocoder

from smsportal.enums import Carrier

_CARRIER_BY_NAME = {
    "China Mobile": Carrier.MOBILE,
    "China Unicom": Carrier.UNICOM,
    "China Telecom": Carrier.TELECOM,
    "China Broadnet": Carrier.BROADNET,
}
_PROVINCE = re.compile(r"^(.+?(?:特别行政区|自治区|省|市))")
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

INVALID_REASONS = {
    "empty": _("No number given."),
    "not_a_number": _("Not a phone number."),
    "too_short": _("Too short for a mobile number."),
    "too_long": _("Too long for a mobile number."),
    "invalid": _("Not a valid number."),
    "not_mobile": _("Not a mobile number."),
    "unknown_carrier": _("The carrier of this number is unknown."),
}


class InvalidNumber(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return str(INVALID_REASONS.get(self.reason, self.reason))


@dataclass(frozen=True)
class Number:
    e164: str
    carrier: str
    province: str


# 13800138000 or +8613800138000 exactly: the shape of nearly every number the pipeline sees.
_PLAIN_CN_MOBILE = re.compile(r"(?:\+86)?(1\d{10})")


def normalize(raw: str, region: str = "CN") -> Number:
    """Parse a number as typed or imported (13800138000, +86 138-0013-8000, 008613800138000)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber("empty")
    if text.startswith("00"):
        text = "+" + text[2:]
    plain = _PLAIN_CN_MOBILE.fullmatch(text) if region == "CN" or text.startswith("+86") else None
    if plain:
        national = plain.group(1)
        described = _describe_cn_mobile(national[:7])
        if described is not None:
            return Number(e164="+86" + national, carrier=described[0], province=described[1])
    # Anything else, refusals included (their reason depends on how the number was typed).
    return _normalize_parsed(text, region)


@lru_cache(maxsize=100_000)
def _describe_cn_mobile(prefix: str) -> tuple[str, str] | None:
    """(carrier, province) of every valid 11-digit Chinese mobile number starting with these
    7 digits, or None when such numbers are refused. Exact, not a hand-made table:
    phonenumbers decides validity, type and carrier of such numbers by at most their first
    5 digits and the province by at most their first 7, so one representative speaks for
    all of them (a test compares both paths). Parsing costs ~100 µs a number; a bulk send
    has few distinct prefixes."""
    try:
        number = _normalize_parsed("+86" + prefix + "0000", "CN")
    except InvalidNumber:
        return None
    return number.carrier, number.province


def _normalize_parsed(text: str, region: str) -> Number:
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        reason = {
            phonenumbers.NumberParseException.TOO_SHORT_NSN: "too_short",
            phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too_short",
            phonenumbers.NumberParseException.TOO_LONG: "too_long",
        }.get(error.error_type, "not_a_number")
        raise InvalidNumber(reason) from None
    if not phonenumbers.is_valid_number(parsed):
        national = str(parsed.national_number)
        if parsed.country_code == 86 and national.startswith("1"):
            # Chinese mobile numbers are 11 digits starting with 1.
            if len(national) < 11:
                raise InvalidNumber("too_short")
            if len(national) > 11:
                raise InvalidNumber("too_long")
        possible = phonenumbers.is_possible_number_with_reason(parsed)
        if possible == phonenumbers.ValidationResult.TOO_SHORT:
            raise InvalidNumber("too_short")
        if possible == phonenumbers.ValidationResult.TOO_LONG:
            raise InvalidNumber("too_long")
        raise InvalidNumber("invalid")
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise InvalidNumber("not_mobile")
    carrier_code = _CARRIER_BY_NAME.get(carrier.name_for_number(parsed, "en"), Carrier.UNKNOWN)
    if parsed.country_code == 86 and carrier_code == Carrier.UNKNOWN:
        raise InvalidNumber("unknown_carrier")
    return Number(
        e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        carrier=str(carrier_code),
        province=province_of(parsed),
    )


def province_of(parsed) -> str:
    place = geocoder.description_for_number(parsed, "zh")
    match = _PROVINCE.match(place or "")
    return match.group(1) if match else ""


def mask(e164: str) -> str:
    """+8613800138000 → 138****8000; other countries keep their prefix and last four."""
    if not e164:
        return ""
    national = e164[3:] if e164.startswith("+86") else e164
    if len(national) <= 7:
        return national[:2] + "****"
    return national[:3] + "****" + national[-4:]
