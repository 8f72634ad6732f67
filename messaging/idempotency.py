"""Idempotency-Key for POST endpoints: the same key with the same body returns the first
answer; a different body → 422; the first request still running → 409. Kept 24 h per
tenant. Only successful answers are kept: a failed request (bad input, no balance) frees
its key, so the client may fix the cause and retry with the same key."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from messaging.models import IdempotencyKey
from smsportal.errors import Conflict, Unprocessable

KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 200


def request_fingerprint(path: str, data) -> str:
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{path}\n{canonical}".encode()).hexdigest()


def idempotency_begin(*, tenant, key: str, fingerprint: str) -> tuple[IdempotencyKey | None, dict | None]:
    """Returns (claimed row, None) for a new key, or (None, (status, body)) for a replay."""
    if len(key) > MAX_KEY_LENGTH or not key.strip():
        raise Unprocessable("invalid_idempotency_key", _("Idempotency-Key must be 1–200 characters."))
    now = timezone.now()
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    tenant=tenant, key=key, request_hash=fingerprint, expires_at=now + KEEP
                ), None
        except IntegrityError:
            existing = IdempotencyKey.objects.for_tenant(tenant).filter(key=key).first()
            if existing is None:
                continue
            if existing.expires_at <= now:
                existing.delete()
                continue
            if existing.request_hash != fingerprint:
                raise Unprocessable(
                    "idempotency_key_reused",
                    _("This Idempotency-Key was already used with a different request body."),
                ) from None
            if existing.status_code is None:
                raise Conflict(
                    "idempotency_in_flight", _("A request with this Idempotency-Key is still being processed.")
                ) from None
            return None, {"status": existing.status_code, "body": existing.response}
    raise Conflict("idempotency_in_flight", _("A request with this Idempotency-Key is still being processed."))


def idempotency_finish(row: IdempotencyKey, *, status: int, body) -> None:
    if 200 <= status < 300:
        IdempotencyKey.objects.filter(pk=row.pk).update(status_code=status, response=body)
    else:
        IdempotencyKey.objects.filter(pk=row.pk).delete()


def idempotency_prune() -> int:
    return IdempotencyKey.objects.filter(expires_at__lt=timezone.now()).delete()[0]
