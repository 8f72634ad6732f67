"""Tracked short links: one code per recipient, derived from the recipient's id and signed,
so nothing is stored per link and codes cannot be guessed or enumerated.

The signature is HMAC-SHA256, which PostgreSQL computes with its built-in sha256(): the
fan-out renders a million links inside its INSERT … SELECT (`code_sql`) and the portal checks
them here. Codes signed with the earlier keyed BLAKE2b are still accepted."""

from __future__ import annotations

import base64
import hashlib
import hmac
from functools import lru_cache

from django.conf import settings
from django.urls import reverse

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # the id part; the MAC is base64url
MAC_CHARS = 5


def _b62(number: int) -> str:
    digits = []
    while True:
        number, rest = divmod(number, 62)
        digits.append(ALPHABET[rest])
        if not number:
            return "".join(reversed(digits))


def _from_b62(text: str) -> int | None:
    value = 0
    for char in text:
        index = ALPHABET.find(char)
        if index < 0:
            return None
        value = value * 62 + index
    return value


@lru_cache(maxsize=1)
def _key() -> bytes:
    return hashlib.sha256(b"campaigns.links:" + settings.SECRET_KEY.encode()).digest()


def _mac(recipient_id: int) -> str:
    digest = hmac.new(_key(), recipient_id.to_bytes(8, "big", signed=True), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)[:MAC_CHARS].decode()


def _legacy_mac(recipient_id: int) -> str:
    """The keyed BLAKE2b signature of codes made before the fan-out signed links in SQL."""
    digest = hashlib.blake2b(recipient_id.to_bytes(8, "big"), key=_key(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest)[:MAC_CHARS].decode()


def code_for(recipient_id: int) -> str:
    return _mac(recipient_id) + _b62(recipient_id)


def code_sql(id_sql: str) -> tuple[str, list]:
    """The SQL expression (and its parameters) of code_for(<id_sql>): HMAC-SHA256 from the
    key's inner and outer pads (RFC 2104) with PostgreSQL's sha256(), base64url, then the id
    in base 62 (eleven digits cover every bigint; leading zeros trimmed)."""
    key = _key().ljust(64, b"\0")
    inner, outer = bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)
    mac = (
        f"translate(substr(encode(sha256(%s::bytea || sha256(%s::bytea || int8send({id_sql}))), 'base64'), "
        f"1, {MAC_CHARS}), '+/', '-_')"
    )
    digits = " || ".join(
        f"substr('{ALPHABET}', mod(({id_sql}) / {62**power}, 62)::int + 1, 1)" for power in range(10, -1, -1)
    )
    b62 = f"coalesce(nullif(ltrim({digits}, '0'), ''), '0')"
    return f"({mac} || {b62})", [outer, inner]


def recipient_id_from_code(code: str) -> int | None:
    if not code or len(code) <= MAC_CHARS or len(code) > 24:
        return None
    recipient_id = _from_b62(code[MAC_CHARS:])
    if recipient_id is None or recipient_id >= 2**63:
        return None
    signature = code[:MAC_CHARS]
    if not (
        hmac.compare_digest(_mac(recipient_id), signature) or hmac.compare_digest(_legacy_mac(recipient_id), signature)
    ):
        return None
    return recipient_id


def short_url_prefix() -> str:
    """Everything but the code, e.g. https://portal.example.com/campaigns/s/ (computed once per fan-out)."""
    base = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
    return base + reverse("campaigns:short_link", args=["X"])[:-1]
