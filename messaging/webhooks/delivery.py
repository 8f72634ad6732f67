"""The webhook delivery worker: claim due outbox rows, POST them, record every attempt.

Set-based: one claim (FOR UPDATE SKIP LOCKED, then a lease) per batch, the POSTs of a batch
in a small thread pool, one multi-row INSERT for the attempts and one UPDATE … FROM VALUES
for the events. Several workers never claim the same row; a worker that dies mid-batch
leaves rows whose lease runs out and which are delivered again — with the same event id.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlparse

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from messaging.webhooks import signing
from messaging.webhooks.models import WebhookAttempt, WebhookEvent
from messaging.webhooks.services import private_urls_allowed, signing_secrets

LEASE = timedelta(minutes=2)
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 2 * 3600
EXCERPT_CHARS = 500
USER_AGENT = "smsportal-webhooks/1.0"


def retry_delay(failed_attempts: int) -> timedelta:
    """Backoff after the n-th failed attempt: 30 s, 1 min, 2 min, 4 min … capped at 2 h."""
    seconds = FIRST_RETRY_SECONDS * 2 ** max(failed_attempts - 1, 0)
    return timedelta(seconds=min(seconds, MAX_RETRY_SECONDS))


def request_timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 5))


def event_body(event: WebhookEvent) -> bytes:
    """The exact bytes that are signed and sent; the same on every attempt."""
    document = {
        "id": str(event.event_id),
        "type": event.event_type,
        "created_at": event.created_at.isoformat(),
        "data": event.payload,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


@dataclass
class AttemptResult:
    event: WebhookEvent
    url: str
    attempted_at: datetime
    outcome: str
    status_code: int | None = None
    duration_ms: int = 0
    response_excerpt: str = ""
    error: str = ""


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    gave_up: int = 0
    expired_unsent: int = 0
    held: int = 0
    outcomes: list[str] = field(default_factory=list)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # A redirect would turn our signed POST into a GET somewhere else: count it as an error.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def _address_refused(url: str) -> str:
    """Refuses internal addresses (SSRF) unless private URLs are allowed (development, tests)."""
    if private_urls_allowed():
        return ""
    host = urlparse(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError as error:
        return f"DNS: {error}"[:300]
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return f"address {address} is not public"
    return ""


def post_event(event: WebhookEvent, secrets: list[str], *, timeout: float | None = None) -> AttemptResult:
    url = event.endpoint.url
    started = time.monotonic()
    result = AttemptResult(event=event, url=url, attempted_at=timezone.now(), outcome="")
    refused = _address_refused(url)
    if refused:
        result.outcome, result.error = WebhookAttempt.Outcome.REFUSED, refused
        return result
    body = event_body(event)
    if urlparse(url).scheme not in ("http", "https"):
        result.outcome, result.error = WebhookAttempt.Outcome.REFUSED, "only http(s) URLs are allowed"
        return result
    request = urllib.request.Request(  # noqa: S310 - scheme checked just above
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            signing.EVENT_ID_HEADER: str(event.event_id),
            "X-Event-Type": event.event_type,
            "X-Webhook-Attempt": str(event.attempts + 1),
            signing.SIGNATURE_HEADER: signing.signature_header(body, secrets),
        },
    )
    try:
        with _opener.open(request, timeout=timeout or request_timeout()) as response:
            result.status_code = response.status
            result.response_excerpt = response.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")[:EXCERPT_CHARS]
        result.outcome = WebhookAttempt.Outcome.DELIVERED
    except urllib.error.HTTPError as error:
        result.status_code = error.code
        try:
            result.response_excerpt = error.read(EXCERPT_CHARS * 4).decode("utf-8", "replace")[:EXCERPT_CHARS]
        except OSError:
            pass
        result.outcome = WebhookAttempt.Outcome.HTTP_ERROR
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        result.outcome, result.error = WebhookAttempt.Outcome.NETWORK_ERROR, f"{type(reason).__name__}: {reason}"[:300]
    result.duration_ms = int((time.monotonic() - started) * 1000)
    if result.outcome == WebhookAttempt.Outcome.DELIVERED and not (200 <= (result.status_code or 0) < 300):
        result.outcome = WebhookAttempt.Outcome.HTTP_ERROR
    return result


def _claim(limit: int, now: datetime) -> list[WebhookEvent]:
    with transaction.atomic():
        ids = list(
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=WebhookEvent.Status.PENDING, next_attempt_at__lte=now, endpoint__is_active=True)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            WebhookEvent.objects.filter(id__in=ids).update(next_attempt_at=now + LEASE)
    return list(WebhookEvent.objects.filter(id__in=ids).select_related("endpoint"))


def _expire_abandoned(now: datetime) -> int:
    """Pending events past their deadline that never got an attempt in (endpoint disabled)."""
    return WebhookEvent.objects.filter(status=WebhookEvent.Status.PENDING, give_up_at__lte=now).update(
        status=WebhookEvent.Status.FAILED
    )


def _record(results: list[AttemptResult], now: datetime, report: DeliveryReport) -> dict[int, datetime]:
    """Writes the attempts and the events' new state; returns each event's next attempt time."""
    attempts = []
    updates = []  # (id, status, attempts, next_attempt_at, last_attempt_at, last_status_code, delivered_at)
    for result in results:
        event = result.event
        number = event.attempts + 1
        attempts.append(
            WebhookAttempt(
                tenant_id=event.tenant_id,
                event_id=event.id,
                number=number,
                attempted_at=result.attempted_at,
                url=result.url[:500],
                outcome=result.outcome,
                status_code=result.status_code,
                duration_ms=result.duration_ms,
                response_excerpt=result.response_excerpt,
                error=result.error,
            )
        )
        if result.outcome == WebhookAttempt.Outcome.DELIVERED:
            status, next_at, delivered_at = WebhookEvent.Status.DELIVERED, now, result.attempted_at
            report.delivered += 1
        else:
            next_at, delivered_at = now + retry_delay(number), None
            if next_at > event.give_up_at:
                status = WebhookEvent.Status.FAILED
                report.gave_up += 1
            else:
                status = WebhookEvent.Status.PENDING
                report.retrying += 1
        report.outcomes.append(result.outcome)
        updates.append((event.id, status, number, next_at, result.attempted_at, result.status_code, delivered_at))
    if not updates:
        return {}
    with transaction.atomic():
        WebhookAttempt.objects.bulk_create(attempts)
        table = WebhookEvent._meta.db_table
        row = "(%s, %s, %s, %s::timestamptz, %s::timestamptz, %s::integer, %s::timestamptz)"
        values = ",".join([row] * len(updates))
        params = [item for row in updates for item in row]
        with connection.cursor() as cursor:
            # The table name comes from the model; every value is a placeholder.
            sql = f"""
                UPDATE {table} AS e
                   SET status = v.status, attempts = v.attempts, next_attempt_at = v.next_at,
                       last_attempt_at = v.last_at, last_status_code = v.code, delivered_at = v.delivered_at,
                       updated_at = %s
                  FROM (VALUES {values}) AS v(id, status, attempts, next_at, last_at, code, delivered_at)
                 WHERE e.id = v.id
            """  # noqa: S608
            cursor.execute(sql, [now, *params])
    return {row[0]: row[3] for row in updates}


def deliver_due(*, limit: int = 200, now: datetime | None = None, threads: int = 8) -> DeliveryReport:
    """One pass: claim up to `limit` due events, POST them, record the results. `now` (for
    tests) is the clock the claim and the retry schedule use."""
    clock = now
    now = now or timezone.now()
    report = DeliveryReport(expired_unsent=_expire_abandoned(now))
    events = _claim(limit, now)
    report.claimed = len(events)
    if not events:
        return report
    jobs = []
    for event in events:
        try:
            jobs.append((event, signing_secrets(event.endpoint, now=now)))
        except ValueError as error:  # the sealing key changed: the tenant must rotate
            jobs.append((event, error))

    # An endpoint that times out or answers 5xx costs one attempt per batch, not one per
    # event: its other events are held back to the failed attempt's retry time, so a dead
    # receiver cannot tie up the bulk lane's workers.
    failing: set[int] = set()
    lock = threading.Lock()

    def run(job):
        event, secrets = job
        with lock:
            if event.endpoint_id in failing:
                return None
        if isinstance(secrets, Exception):
            return AttemptResult(
                event=event,
                url=event.endpoint.url,
                attempted_at=timezone.now(),
                outcome=WebhookAttempt.Outcome.REFUSED,
                error="signing secret unreadable; rotate the secret",
            )
        result = post_event(event, secrets)
        if endpoint_down(result):
            with lock:
                failing.add(event.endpoint_id)
        return result

    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(jobs)))) as pool:
        results = list(pool.map(run, jobs))
    attempted = [result for result in results if result is not None]
    held = [job[0] for job, result in zip(jobs, results, strict=True) if result is None]
    clock = clock or timezone.now()
    next_times = _record(attempted, clock, report)
    _hold(held, attempted, next_times, clock, report)
    return report


def endpoint_down(result: AttemptResult) -> bool:
    if result.outcome in (WebhookAttempt.Outcome.NETWORK_ERROR, WebhookAttempt.Outcome.REFUSED):
        return True
    return result.outcome == WebhookAttempt.Outcome.HTTP_ERROR and (
        (result.status_code or 0) >= 500 or result.status_code == 429
    )


def _hold(held, attempted, next_times: dict[int, datetime], now: datetime, report: DeliveryReport) -> None:
    """Held events (and anything else due for the same failing endpoint) wait until the
    failed attempt's retry time. No attempt is recorded for them; their deadline stands."""
    until: dict[int, datetime] = {}
    for result in attempted:
        if endpoint_down(result):
            endpoint_id = result.event.endpoint_id
            when = next_times[result.event.id]
            until[endpoint_id] = min(until.get(endpoint_id, when), when)
    held_by_endpoint: dict[int, list[int]] = {}
    for event in held:
        held_by_endpoint.setdefault(event.endpoint_id, []).append(event.id)
    for endpoint_id, when in until.items():
        WebhookEvent.objects.filter(endpoint_id=endpoint_id, status=WebhookEvent.Status.PENDING).filter(
            Q(id__in=held_by_endpoint.get(endpoint_id, [])) | Q(next_attempt_at__lte=now)
        ).update(next_attempt_at=max(when, now + timedelta(seconds=FIRST_RETRY_SECONDS)))
    report.held = len(held)


def deliver_until_idle(*, budget_seconds: float = 50, limit: int = 200) -> DeliveryReport:
    """Keeps delivering while events are due, for at most `budget_seconds` (the periodic
    task runs each minute; a backlog drains within the minute)."""
    total = DeliveryReport()
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        report = deliver_due(limit=limit)
        for name in ("claimed", "delivered", "retrying", "gave_up", "expired_unsent", "held"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if report.claimed < limit:
            break
    return total
