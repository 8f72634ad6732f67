"""Tracked short links: one code per recipient, derived from the recipient's id and signed,
so nothing is stored per link and codes cannot be guessed or enumerated."""

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
    # Keyed BLAKE2b is a MAC in one call (a million links are signed per large campaign).
    digest = hashlib.blake2b(recipient_id.to_bytes(8, "big"), key=_key(), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest)[:MAC_CHARS].decode()


def code_for(recipient_id: int) -> str:
    return _mac(recipient_id) + _b62(recipient_id)


def recipient_id_from_code(code: str) -> int | None:
    if not code or len(code) <= MAC_CHARS or len(code) > 24:
        return None
    recipient_id = _from_b62(code[MAC_CHARS:])
    if recipient_id is None or not hmac.compare_digest(_mac(recipient_id), code[:MAC_CHARS]):
        return None
    return recipient_id


def short_url_prefix() -> str:
    """Everything but the code, e.g. https://portal.example.com/campaigns/s/ (computed once per fan-out)."""
    base = (getattr(settings, "SITE_URL", "") or "").rstrip("/")
    return base + reverse("campaigns:short_link", args=["X"])[:-1]
