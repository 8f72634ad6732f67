"""The generic HTTP provider adapter (registered as "http").

Channel settings (secrets are write-only: every key containing "auth", "token", "secret"…
is shown back masked):

  url               submit endpoint (POST, JSON)                               required
  header_name       name of the auth header, default "Authorization"
  auth_value        its value, e.g. "Bearer 3f9…" (secret)
  lookup_url        optional; POST {"ids": [...]} → {"found": {"<id>": "<ref>"}} (crash recovery)
  callback_token    secret the provider presents on receipt callbacks (secret)
  timeout_seconds   default 10

Submit request (one per batch):
  {"callback_url": ".../api/v1/channels/<id>/receipts",
   "messages": [{"id": "123", "to": "+8613800138000", "text": "…", "segments": 1, "class": "verification"}]}
Submit response, HTTP 2xx:
  {"results": [{"id": "123", "code": "0", "ref": "prov-abc"}, …]}   ("data" for "results", "client_ref"
  for "id", "status" for "code", "msgid"/"message_id" for "ref" are understood too)

Receipt callback (POST /api/v1/channels/<id>/receipts; verified by the channel's callback
token in `X-Callback-Token`, or by `X-Signature: t=…,v1=<hmac-sha256(token, "t.body")>`):
  {"receipts": [{"id": "123" | "ref": "prov-abc", "status": "DELIVRD", "part": 0, "reported_at": "…"}],
   "replies": [{"from": "+8613800138000", "text": "TD", "received_at": "…"}]}

Every raw code — per-message submit codes, whole-response HTTP statuses (as "HTTP_<n>") and
receipt statuses — is read through the operator's mapping table (watch.ProviderCodeMapping,
edited on the staff pages), falling back to the defaults below. An unknown submit code is
treated as retriable (another channel gets one try, so a provider quirk never silently
drops a message); an unknown receipt code is a failure with reason `unknown` and is listed
as unmapped on the mapping page.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from django.conf import settings as django_settings
from django.http import JsonResponse
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from messaging.adapters.base import ChannelAdapter, ReceiptReport, SubmitResult, register_adapter
from smsportal.enums import FailureReason

logger = logging.getLogger(__name__)

ACCEPTED, PENDING, RETRY, FAILED = "accepted", "pending", "retry", "failed"

DEFAULT_SUBMIT_CODES: dict[str, tuple[str, str]] = {
    "0": (ACCEPTED, ""),
    "OK": (ACCEPTED, ""),
    "ACCEPTED": (ACCEPTED, ""),
    "SUCCESS": (ACCEPTED, ""),
    "THROTTLED": (RETRY, FailureReason.THROTTLED),
    "RATE_LIMITED": (RETRY, FailureReason.THROTTLED),
    "HTTP_429": (RETRY, FailureReason.THROTTLED),
    "INVALID_NUMBER": (FAILED, FailureReason.INVALID_NUMBER),
    "BLACKLISTED": (FAILED, FailureReason.CARRIER_BLACKLIST),
    "CONTENT_BLOCKED": (FAILED, FailureReason.CONTENT_BLOCKED),
}
DEFAULT_RECEIPT_CODES: dict[str, tuple[str, str]] = {
    "DELIVRD": (ACCEPTED, ""),
    "DELIVERED": (ACCEPTED, ""),
    "0": (ACCEPTED, ""),
    "ENROUTE": (PENDING, ""),
    "ACCEPTD": (PENDING, ""),
    "SUBMITTED": (PENDING, ""),
    "UNDELIV": (FAILED, FailureReason.UNREACHABLE),
    "EXPIRED": (FAILED, FailureReason.EXPIRED),
    "REJECTD": (FAILED, FailureReason.CARRIER_BLACKLIST),
    "DELETED": (FAILED, FailureReason.CHANNEL_ERROR),
    "UNKNOWN": (FAILED, FailureReason.UNKNOWN),
}
DEFAULTS = {"submit": DEFAULT_SUBMIT_CODES, "receipt": DEFAULT_RECEIPT_CODES}


def code_table(channel, scope: str) -> dict[str, tuple[str, str]]:
    """Defaults overlaid with the operator's rows for this channel (one query)."""
    from messaging.watch.models import ProviderCodeMapping

    table = dict(DEFAULTS[scope])
    for code, outcome, reason in ProviderCodeMapping.objects.filter(channel=channel, scope=scope).values_list(
        "code", "outcome", "failure_reason"
    ):
        table[code] = (outcome, reason)
    return table


def classify(table: dict[str, tuple[str, str]], scope: str, code: str) -> tuple[str, str, bool]:
    """→ (outcome, failure reason, known?)"""
    code = (code or "").strip()
    if code in table:
        return (*table[code], True)
    if code.upper() in table:
        return (*table[code.upper()], True)
    if scope == "submit":  # HTTP_4xx/5xx, NETWORK and unknown codes: another channel may take it
        return RETRY, FailureReason.CHANNEL_ERROR, False
    return FAILED, FailureReason.UNKNOWN, False


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


@dataclass
class ProviderResponse:
    status: int | None
    document: object = None
    error: str = ""


def _post_json(channel, url: str, document: dict) -> ProviderResponse:
    cfg = channel.settings or {}
    if urlparse(url).scheme not in ("http", "https"):
        return ProviderResponse(None, error="only http(s) URLs are allowed")
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if cfg.get("auth_value"):
        headers[cfg.get("header_name") or "Authorization"] = str(cfg["auth_value"])
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=json.dumps(document, ensure_ascii=False).encode(), method="POST", headers=headers
    )
    try:
        with _opener.open(request, timeout=float(cfg.get("timeout_seconds", 10))) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        return ProviderResponse(error.code, error=f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, ValueError) as error:
        return ProviderResponse(None, error=f"{type(error).__name__}: {getattr(error, 'reason', error)}"[:200])
    try:
        return ProviderResponse(status, json.loads(raw or b"null"))
    except ValueError:
        return ProviderResponse(status, error="response is not JSON")


def _first(item: dict, *names, default=""):
    for name in names:
        if name in item and item[name] not in (None, ""):
            return item[name]
    return default


def callback_url(channel) -> str:
    return django_settings.SITE_URL.rstrip("/") + reverse("api-messaging-channel-receipts", args=[channel.pk])


class HttpProviderAdapter(ChannelAdapter):
    name = "http"

    def submit(self, channel, messages: Sequence) -> list[SubmitResult]:
        cfg = channel.settings or {}
        table = code_table(channel, "submit")
        document = {
            "callback_url": callback_url(channel),
            "messages": [
                {
                    "id": str(m.id),
                    "to": m.number,
                    "text": m.body,
                    "segments": m.segments,
                    "class": m.message_class,
                }
                for m in messages
            ],
        }
        response = _post_json(channel, cfg.get("url", ""), document)
        if response.status is None or not (200 <= response.status < 300) or response.error:
            code = f"HTTP_{response.status}" if response.status else "NETWORK"
            outcome, reason, _known = classify(table, "submit", code)
            if outcome == ACCEPTED:  # a mapping cannot make a failed request a success
                outcome, reason = RETRY, FailureReason.CHANNEL_ERROR
            return [
                SubmitResult(
                    m.id,
                    ok=False,
                    retriable=outcome != FAILED,
                    raw_code=code if not response.error or response.status else response.error[:64],
                    reason=reason or FailureReason.CHANNEL_ERROR,
                )
                for m in messages
            ]
        items = response.document
        if isinstance(items, dict):
            items = _first(items, "results", "data", default=[])
        by_id: dict[str, dict] = {}
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                by_id[str(_first(item, "id", "client_ref"))] = item
        results = []
        for m in messages:
            item = by_id.get(str(m.id))
            if item is None:
                # The provider did not answer for this message: it has not taken it.
                results.append(
                    SubmitResult(m.id, ok=False, retriable=True, raw_code="MISSING", reason=FailureReason.CHANNEL_ERROR)
                )
                continue
            code = str(_first(item, "code", "status", default="0"))
            outcome, reason, _known = classify(table, "submit", code)
            ref = str(_first(item, "ref", "msgid", "message_id", default=""))[:100]
            if outcome in (ACCEPTED, PENDING):
                results.append(
                    SubmitResult(m.id, ok=True, channel_ref=ref or f"HTTP{channel.pk}-{m.id}", raw_code=code)
                )
            else:
                results.append(
                    SubmitResult(
                        m.id,
                        ok=False,
                        retriable=outcome == RETRY,
                        raw_code=code[:64],
                        reason=reason or (FailureReason.CHANNEL_ERROR if outcome == RETRY else FailureReason.UNKNOWN),
                    )
                )
        return results

    def lookup(self, channel, message_ids: Sequence[int]) -> dict[int, str]:
        url = (channel.settings or {}).get("lookup_url")
        if not url:
            raise NotImplementedError("this HTTP provider has no lookup_url")
        response = _post_json(channel, url, {"ids": [str(i) for i in message_ids]})
        if response.error or not isinstance(response.document, dict):
            # Cannot answer now: crash recovery then treats these as unknown (settled by a
            # receipt or the timeout) rather than risking a second send.
            raise NotImplementedError(f"lookup failed: {response.error or 'unexpected answer'}")
        found = response.document.get("found") or {}
        wanted = {str(i): i for i in message_ids}
        return {wanted[key]: str(ref) for key, ref in found.items() if key in wanted}


register_adapter("http", HttpProviderAdapter)


# --- Receipt callback ------------------------------------------------------------------


def callback_authentic(channel, request) -> bool:
    from messaging.webhooks import signing

    token = str((channel.settings or {}).get("callback_token") or "")
    if not token:
        return False  # a channel without a token accepts no callbacks
    presented = request.headers.get("X-Callback-Token", "")
    if presented:
        return hmac.compare_digest(presented.encode(), token.encode())
    signature = request.headers.get("X-Signature", "")
    return bool(signature) and signing.verify(signature, request.body, token)


def parse_receipts(channel, document: dict, *, now: datetime) -> tuple[list[ReceiptReport], list[str]]:
    """→ (receipts to store, unmapped codes seen). Non-final statuses are skipped."""
    table = code_table(channel, "receipt")
    reports, unmapped = [], []
    for item in document.get("receipts") or []:
        if not isinstance(item, dict):
            continue
        code = str(_first(item, "status", "code", default=""))
        outcome, reason, known = classify(table, "receipt", code)
        if not known:
            unmapped.append(code)
        if outcome in (PENDING, RETRY):
            continue
        raw_id = _first(item, "id", "client_ref", default=None)
        try:
            message_id = int(raw_id) if raw_id is not None else None
        except (TypeError, ValueError):
            message_id = None
        ref = str(_first(item, "ref", "msgid", "message_id", default=""))[:100]
        if message_id is None and not ref:
            continue
        reported = parse_datetime(str(item.get("reported_at") or "")) if item.get("reported_at") else None
        part = item.get("part")
        reports.append(
            ReceiptReport(
                channel_ref=ref,
                message_id=message_id,
                delivered=outcome == ACCEPTED,
                raw_status=code[:64],
                failure_reason="" if outcome == ACCEPTED else (reason or FailureReason.UNKNOWN),
                part_index=int(part) if isinstance(part, int) or str(part).isdigit() else 0,
                reported_at=reported or now,
                payload=item,
            )
        )
    return reports, unmapped


@csrf_exempt
@require_POST
def receipt_callback(request, channel_id: int):
    """The provider pushes receipts (and replies) here. No API key: the channel's callback
    token (or an HMAC signature made with it) is the credential."""
    from django.utils import timezone

    from messaging.models import Channel
    from messaging.receipts import receipts_store

    channel = Channel.objects.filter(pk=channel_id, adapter="http").first()
    # Unknown channel and wrong token look the same from outside.
    if channel is None or not callback_authentic(channel, request):
        return JsonResponse({"error": {"code": "unauthorized", "message": "Unknown channel or bad token."}}, status=401)
    try:
        document = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"error": {"code": "invalid_json", "message": "Body is not JSON."}}, status=400)
    if isinstance(document, list):
        document = {"receipts": document}
    if not isinstance(document, dict):
        return JsonResponse({"error": {"code": "invalid", "message": "Expected an object."}}, status=400)
    now = timezone.now()
    started = time.monotonic()
    reports, unmapped = parse_receipts(channel, document, now=now)
    stored = receipts_store(channel=channel, reports=reports, now=now) if reports else 0
    replies = _store_replies(channel, document.get("replies") or [], now=now)
    logger.info(
        "channel %s callback: %s receipts, %s replies in %.0f ms",
        channel.pk,
        stored,
        replies,
        (time.monotonic() - started) * 1000,
    )
    return JsonResponse({"accepted": stored, "replies": replies, "unmapped": sorted(set(unmapped))})


def _store_replies(channel, items: list, *, now: datetime) -> int:
    if not items:
        return 0
    from messaging.services import inbound_receive_batch
    from messaging.webhooks.listeners import on_inbound_received

    rows = []
    for item in items:
        if not isinstance(item, dict) or not item.get("from") or not item.get("text"):
            continue
        received = parse_datetime(str(item.get("received_at") or "")) if item.get("received_at") else None
        rows.append(
            {
                "channel_id": channel.pk,
                "number": str(item["from"])[:20],
                "text": str(item["text"]),
                "extension": str(item.get("extension") or "")[:20],
                "received_at": received or now,
            }
        )
    stored = inbound_receive_batch(rows)
    on_inbound_received([inbound.id for inbound in stored])
    return len(stored)
