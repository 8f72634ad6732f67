"""Webhook signatures: `X-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`.

During a secret rotation the header carries one `v1=` per valid secret, newest first, so a
receiver holding either secret accepts the delivery. Pure functions, no Django.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

SIGNATURE_HEADER = "X-Signature"
EVENT_ID_HEADER = "X-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secrets: Iterable[str], timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    parts = [f"t={timestamp}"] + [f"v1={compute(secret, timestamp, body)}" for secret in secrets]
    return ",".join(parts)


def parse_header(header: str) -> tuple[int | None, list[str]]:
    timestamp = None
    signatures = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    return timestamp, signatures


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """The receiver's check (the same algorithm as docs/webhooks.md): fresh timestamp and
    one matching v1 signature."""
    timestamp, signatures = parse_header(header or "")
    if timestamp is None or not signatures:
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = compute(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
