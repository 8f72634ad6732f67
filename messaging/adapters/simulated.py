"""The simulated carrier network: the default adapter, the demo's carriers and the tests'.

Per carrier: a latency distribution (log-normal; codes arrive in well under 3 s), a failure
mix by reason, a worse hour (21:00–22:00 China time), a per-second rate limit answered with
"throttled", occasional duplicate receipts, receipts in any order (multipart parts too,
and sometimes before we even recorded the submit), rare lost receipts (→ expired), MO
replies, and an outage switch. Deterministic: every decision about a message comes from a
random generator seeded with (channel seed, message id), so a test knows what will happen.

The carrier's own state lives in two tables: SimulatedSubmission (what it accepted, keyed by
our message id — what crash recovery asks) and SimulatedEvent (what it will report and
when). The lane workers call `simulated_events_release()` to "receive" what is due. Nothing
sleeps. Writes here commit on their own, like a remote system would.

Channel settings understood (all optional):
  seed (int), outage (bool), throttle_per_second (int),
  latency_median_ms (int), latency_sigma (float), failure_scale (float),
  fail_numbers {e164: reason}, blocked_keywords [str], duplicate_rate, lost_rate, reply_rate,
  reply_texts [str]
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from messaging.adapters.base import ChannelAdapter, SubmitResult, register_adapter
from smsportal.enums import Carrier, FailureReason

CHINA = ZoneInfo("Asia/Shanghai")

# Median receipt latency (ms) and failure mix by carrier; numbers shaped after the
# provider-selection guide: ≥98 % delivered, codes within seconds.
CARRIER_PROFILES = {
    Carrier.MOBILE: {
        "latency_median_ms": 550,
        "failures": {"vacant_number": 0.006, "unreachable": 0.005, "carrier_blacklist": 0.002},
    },
    Carrier.UNICOM: {
        "latency_median_ms": 700,
        "failures": {"vacant_number": 0.007, "unreachable": 0.006, "carrier_blacklist": 0.002},
    },
    Carrier.TELECOM: {
        "latency_median_ms": 800,
        "failures": {"vacant_number": 0.008, "unreachable": 0.007, "carrier_blacklist": 0.003},
    },
    Carrier.BROADNET: {
        "latency_median_ms": 1100,
        "failures": {"vacant_number": 0.012, "unreachable": 0.010, "carrier_blacklist": 0.004},
    },
}
DEFAULT_PROFILE = CARRIER_PROFILES[Carrier.MOBILE]
RAW_CODES = {
    "delivered": "DELIVRD",
    FailureReason.VACANT_NUMBER: "MK:0001",
    FailureReason.UNREACHABLE: "MK:0005",
    FailureReason.CARRIER_BLACKLIST: "MK:0045",
    FailureReason.CONTENT_BLOCKED: "MK:0039",
    FailureReason.CHANNEL_ERROR: "ERR:500",
    FailureReason.THROTTLED: "ERR:THROTTLE",
}
REASON_BY_RAW = {code: reason for reason, code in RAW_CODES.items() if reason != "delivered"}
DEFAULT_BLOCKED_KEYWORDS = ["赌博", "博彩", "代开发票", "套现"]
DEFAULT_REPLY_TEXTS = ["TD", "好的，收到", "退订", "谢谢", "R"]


def hour_dip(now) -> float:
    """21:00–22:00 China time is the bad hour: more failures, slower receipts."""
    return 3.0 if now.astimezone(CHINA).hour == 21 else 1.0


def message_rng(channel, message_id: int) -> random.Random:
    return random.Random(f"{channel.settings.get('seed', channel.pk)}:{message_id}")


class SimulatedCarrierAdapter(ChannelAdapter):
    name = "simulated"

    def submit(self, channel, messages: Sequence) -> list[SubmitResult]:
        cfg = channel.settings or {}
        now = timezone.now()
        if cfg.get("outage"):
            return [
                SubmitResult(m.id, ok=False, retriable=True, raw_code="ERR:OUTAGE", reason=FailureReason.CHANNEL_ERROR)
                for m in messages
            ]
        room = len(messages)
        limit = cfg.get("throttle_per_second")
        if limit:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM messaging_simulatedsubmission WHERE channel_id = %s AND submitted_at > %s",
                    [channel.pk, now - timedelta(seconds=1)],
                )
                room = max(0, int(limit) - cursor.fetchone()[0])
        dip = hour_dip(now)
        keywords = cfg.get("blocked_keywords", DEFAULT_BLOCKED_KEYWORDS)
        forced = cfg.get("fail_numbers", {})
        scale = float(cfg.get("failure_scale", 1.0))
        duplicate_rate = float(cfg.get("duplicate_rate", 0.01))
        lost_rate = float(cfg.get("lost_rate", 0.001))
        reply_rate = float(cfg.get("reply_rate", 0.002))
        replies = cfg.get("reply_texts", DEFAULT_REPLY_TEXTS)
        sigma = float(cfg.get("latency_sigma", 0.45))

        results, submissions, events = [], [], []
        for index, message in enumerate(messages):
            if index >= room:
                results.append(
                    SubmitResult(
                        message.id,
                        ok=False,
                        retriable=True,
                        raw_code=RAW_CODES[FailureReason.THROTTLED],
                        reason=FailureReason.THROTTLED,
                    )
                )
                continue
            rng = message_rng(channel, message.id)
            profile = CARRIER_PROFILES.get(message.carrier, DEFAULT_PROFILE)
            ref = f"SIM{channel.pk}-{message.id}"
            results.append(SubmitResult(message.id, ok=True, channel_ref=ref, raw_code="0"))
            submissions.append((channel.pk, message.id, ref, now))
            reason = forced.get(message.number, "")
            if not reason and any(word in (message.body or "") for word in keywords):
                reason = FailureReason.CONTENT_BLOCKED
            if not reason:
                roll = rng.random()
                for failure, rate in profile["failures"].items():
                    rate *= dip * scale
                    if roll < rate:
                        reason = failure
                        break
                    roll -= rate
            if reason and reason not in RAW_CODES:
                reason = FailureReason.UNKNOWN
            if rng.random() < lost_rate and not forced.get(message.number):
                continue  # the carrier never reports: our timeout turns it into `expired`
            median = float(cfg.get("latency_median_ms", profile["latency_median_ms"])) * dip
            parts = max(1, message.segments or 1)
            for part in range(parts):
                latency_ms = median * math.exp(rng.gauss(0, sigma))
                due = now + timedelta(milliseconds=latency_ms)
                raw = RAW_CODES.get(reason, "UNDELIV") if reason else RAW_CODES["delivered"]
                row = (
                    "receipt",
                    due,
                    channel.pk,
                    message.tenant_id,
                    message.id,
                    ref,
                    part if parts > 1 else None,
                    not reason,
                    raw,
                    reason or "",
                    "",
                    "",
                )
                events.append(row)
                if rng.random() < duplicate_rate:
                    events.append((row[0], due + timedelta(milliseconds=rng.uniform(50, 3000)), *row[2:]))
            if message.message_class == "marketing" and rng.random() < reply_rate:
                due = now + timedelta(seconds=rng.uniform(20, 600))
                events.append(
                    (
                        "reply",
                        due,
                        channel.pk,
                        message.tenant_id,
                        message.id,
                        ref,
                        None,
                        True,
                        "",
                        "",
                        message.number,
                        rng.choice(replies),
                    )
                )
        _copy_rows(
            "messaging_simulatedsubmission", ("channel_id", "message_id", "channel_ref", "submitted_at"), submissions
        )
        _copy_rows(
            "messaging_simulatedevent",
            (
                "kind",
                "due_at",
                "channel_id",
                "tenant_id",
                "message_id",
                "channel_ref",
                "part_index",
                "delivered",
                "raw_status",
                "failure_reason",
                "number",
                "text",
            ),
            events,
        )
        return results

    def lookup(self, channel, message_ids: Sequence[int]) -> dict[int, str]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT message_id, channel_ref FROM messaging_simulatedsubmission"
                " WHERE channel_id = %s AND message_id = ANY(%s)",
                [channel.pk, list(message_ids)],
            )
            return dict(cursor.fetchall())


def _copy_rows(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def simulated_events_release(*, limit: int = 5000, now=None) -> tuple[int, int]:
    """The simulated carrier "sends" what is due: receipts become ReceiptRaw rows in one
    statement; replies are stored as inbound messages. Returns (receipts, replies)."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH due AS (
                DELETE FROM messaging_simulatedevent WHERE id = ANY(ARRAY(
                    SELECT id FROM messaging_simulatedevent WHERE due_at <= %s
                    ORDER BY due_at LIMIT %s FOR UPDATE SKIP LOCKED))
                RETURNING *
            ), receipts AS (
                INSERT INTO messaging_receiptraw (tenant_id, channel_id, message_id, channel_ref, part_index,
                    delivered, raw_status, failure_reason, reported_at, received_at, outcome, payload)
                SELECT tenant_id, channel_id, message_id, channel_ref, part_index, delivered, raw_status,
                       failure_reason, due_at, %s, '', '{}'::jsonb
                FROM due WHERE kind = 'receipt'
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM receipts), channel_id, tenant_id, message_id, number, text, due_at
            FROM due WHERE kind = 'reply'
            UNION ALL SELECT (SELECT count(*) FROM receipts), NULL, NULL, NULL, NULL, NULL, NULL
            """,
            [now, limit, now],
        )
        rows = cursor.fetchall()
    receipts = rows[0][0] if rows else 0
    reply_rows = [r for r in rows if r[1] is not None]
    if reply_rows:
        from messaging.services import inbound_receive_batch

        inbound_receive_batch(
            [
                {
                    "channel_id": r[1],
                    "tenant_id": r[2],
                    "in_reply_to_id": r[3],
                    "number": r[4],
                    "text": r[5],
                    "received_at": r[6],
                }
                for r in reply_rows
            ]
        )
    return receipts, len(reply_rows)


register_adapter(SimulatedCarrierAdapter.name, SimulatedCarrierAdapter)
