"""The connector: the Django side of the SMPP channels (one process, `manage.py smpp_connector`).

    hand-off   the dispatcher routes a message to an SMPP channel and leaves it `submitting`
               with lease_until NULL: that is the connector's queue
    claim      one UPDATE … WHERE id = ANY(ARRAY(SELECT … FOR UPDATE SKIP LOCKED)) per channel with room,
               setting our own lease (renewed while we hold the rows)
    send       messages → submit_sm parts → the engine (client.py), which keeps `window`
               submits in flight per bind within the channel's rate limit
    record     engine events drained every few milliseconds and written in batches: submitted
               (one UPDATE … FROM unnest), parts (COPY), failures (messaging.dispatch.messages_fail),
               receipts (messaging.receipts.receipts_store + receipts_apply_batch), replies
               (messaging.services.inbound_receive_batch), breaker and bind status

A message whose parts were in flight when a connection dropped is resent only where the SMSC
recognises our client reference (channel setting dedupe_resubmissions); otherwise it becomes
`submitted` without a reference plus an SmppReview row, and its receipt or expiry settles it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings as django_settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from messaging import breaker
from messaging.adapters.base import ReceiptReport
from messaging.dispatch import channel_minutes_add, messages_fail
from messaging.models import Channel
from messaging.receipts import receipts_apply_batch, receipts_store
from smsportal.enums import FailureReason

from . import pdu as P
from .client import Engine, LinkSpec, OutboundPart
from .config import SmppSettings, parse_settings
from .encoding import encode_text, join_parts
from .models import SmppBindStatus, SmppReview
from .receipts import failure_reason_for
from .services import reviews_settle

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=getattr(django_settings, "SMPP_LEASE_SECONDS", 120))
STATUS_SECONDS = getattr(django_settings, "SMPP_STATUS_SECONDS", 2.0)
CHANNEL_REFRESH_SECONDS = 10.0
UNMATCHED_RECEIPT_SECONDS = 30.0
RECENT_LIMIT = 500_000  # remembered submits (about 60 MB at most)
IDLE_CLAIM_SECONDS = 0.1  # after an empty claim; the hand-off queue is polled this often at most
UNBOUND_GRACE_SECONDS = 10.0  # a channel without a bind this long hands its queue back
REPLY_SWEEP_SECONDS = 5.0  # incomplete long replies are looked at this often
REPLY_PARTS_KEPT = timedelta(minutes=10)  # assembled parts, to recognise one sent again
REVIEW_SETTLE_SECONDS = 30.0  # reviews whose message settled by receipt or expiry are closed

SUBMIT_FAILURE_REASONS = {
    P.ESME_RINVDSTADR: FailureReason.INVALID_NUMBER,
    P.ESME_RINVSRCADR: FailureReason.CHANNEL_ERROR,
    P.ESME_RINVMSGLEN: FailureReason.CHANNEL_ERROR,
    P.ESME_RX_P_APPN: FailureReason.CONTENT_BLOCKED,
}


@dataclass
class Held:
    """A claimed message until every part has an outcome."""

    tenant_id: int
    channel_id: int
    parts: int
    submitted: dict[int, str] = field(default_factory=dict)
    review: set[int] = field(default_factory=set)
    rejected: int | None = None
    retry: str = ""

    @property
    def resolved(self) -> int:
        return (
            len(self.submitted) + len(self.review) + (1 if self.rejected is not None else 0) + (1 if self.retry else 0)
        )


@dataclass
class ChannelState:
    channel: Channel
    settings: SmppSettings
    signature: tuple
    # Raw receipt code → failure reason: the settings' error_map overlaid with the operators'
    # rows on the channel's code-mapping page (refreshed without touching the binds).
    error_map: dict = field(default_factory=dict)


@dataclass
class Batch:
    """What one drain of the engine's events turned into, written together."""

    submitted: list[tuple[int, str]] = field(default_factory=list)  # message id, channel ref
    parts: list[tuple] = field(default_factory=list)  # SmppPart rows
    failed: list[tuple[int, str, str, str]] = field(default_factory=list)
    requeue: list[tuple[int, str]] = field(default_factory=list)
    review: list[tuple[int, int, int, str, str]] = field(default_factory=list)  # message, tenant, channel, reason, ref
    receipts: dict[int, list] = field(default_factory=dict)  # channel id → [(Receipt, ack)]
    replies: list[tuple] = field(default_factory=list)
    reply_parts: list[tuple] = field(default_factory=list)  # one part of a long reply each
    submit_counts: dict[int, list[int]] = field(default_factory=dict)  # channel → [ok, errors]


class Connector:
    """Holds the binds of the SMPP channels (all of them, or `channel_ids`)."""

    def __init__(
        self,
        *,
        channel_ids: list[int] | None = None,
        claim_limit: int = 2000,
        apply_receipts: str = "inline",
        threaded: bool = False,
        label: str = "",
    ):
        """apply_receipts: "inline" (after storing, on this thread), "thread" (a second thread
        with its own database connection applies them while this one keeps sending) or "" (the
        lane workers apply them). threaded: claims on a thread of their own (own connection),
        overlapping the main thread's writes; tests keep one thread and one connection. (A third
        thread for receipts was measured slower: the GIL, not the database, was the limit.)"""
        self.only = set(channel_ids) if channel_ids else None
        self.claim_limit = claim_limit
        self.apply_receipts = apply_receipts
        self.applier = ReceiptApplier() if apply_receipts == "thread" else None
        self.label = label or f"{socket.gethostname()}:{os.getpid()}"
        self.engine = Engine()
        self.channels: dict[int, ChannelState] = {}
        self.held: dict[int, Held] = {}
        self.unmatched: list[tuple[float | None, int, object, tuple]] = []
        self.last_refresh = 0.0
        self.last_status = 0.0
        self.last_renew = time.monotonic()
        self.status_marks: dict[int, tuple[float, int, int]] = {}
        self.refused_channels: set[int] = set()
        self.idle_until: dict[int, float] = {}  # channel → no claim before (its queue was empty)
        self.stats = {
            "claimed": 0,
            "submitted": 0,
            "receipts": 0,
            "replies": 0,
            "review": 0,
            "requeued": 0,
            "reply_parts": 0,
        }
        # (channel, SMSC message id) → (message id, part index, parts) of recent submits, so most
        # receipts are matched without a query; multipart submits are also stored (SmppPart).
        self.recent: dict[tuple[int, str], tuple[int, int, int]] = {}
        self.unmatched_seconds = UNMATCHED_RECEIPT_SECONDS
        self.signature_of: dict[int, int] = {}
        self.closed = False
        self.claimer = Claimer(self) if threaded else None
        self.pending_counts: dict[int, list[int]] = {}
        self.last_counts = time.monotonic()
        self.last_reply_sweep = time.monotonic()
        self.last_settle = 0.0

    # ---- channels
    def refresh_channels(self) -> None:
        self.last_refresh = time.monotonic()
        query = Channel.objects.filter(adapter=Channel.Adapter.SMPP, enabled=True)
        if self.only is not None:
            query = query.filter(pk__in=self.only)
        wanted: dict[int, ChannelState] = {}
        for channel in query:
            try:
                parsed = parse_settings(channel.settings)
            except Exception as error:
                logger.warning("SMPP channel %s has invalid settings: %s", channel.pk, error)
                fields = getattr(error, "fields", {}) or {}
                why = "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in fields.items()) or str(error)
                SmppBindStatus.objects.update_or_create(
                    channel_id=channel.pk,
                    defaults={
                        "state": SmppBindStatus.State.DOWN,
                        "binds_bound": 0,
                        "window_in_use": 0,
                        "last_error": f"invalid settings: {why}"[:300],
                        "last_error_at": timezone.now(),
                        "connector": self.label,
                        "updated_at": timezone.now(),
                    },
                )
                continue
            signature = (repr(sorted(channel.settings.items())), channel.rate_limit)
            wanted[channel.pk] = ChannelState(channel, parsed, signature)
        mapped = self._mapped_codes(list(wanted))
        for channel_id in list(self.channels):
            if channel_id not in wanted or wanted[channel_id].signature != self.channels[channel_id].signature:
                self.engine.stop_link(channel_id)
                del self.channels[channel_id]
                SmppBindStatus.objects.filter(channel_id=channel_id).update(
                    state=SmppBindStatus.State.STOPPED, binds_bound=0, window_in_use=0, updated_at=timezone.now()
                )
        for channel_id, state in wanted.items():
            error_map = {**state.settings.error_map, **mapped.get(channel_id, {})}
            if channel_id in self.channels:
                self.channels[channel_id].error_map = error_map
            else:
                state.error_map = error_map
                self.channels[channel_id] = state
                self.engine.start_link(
                    LinkSpec(channel_id=channel_id, settings=state.settings, rate_limit=state.channel.rate_limit)
                )

    @staticmethod
    def _mapped_codes(channel_ids: list[int]) -> dict[int, dict[str, str]]:
        """The operators' receipt-code rows (messaging.watch, the channel's code-mapping page)
        that name a failure: channel id → {raw code: failure reason}. One query."""
        from messaging.watch.models import ProviderCodeMapping

        mapped: dict[int, dict[str, str]] = {}
        rows = ProviderCodeMapping.objects.filter(
            channel_id__in=channel_ids,
            scope=ProviderCodeMapping.Scope.RECEIPT,
            outcome=ProviderCodeMapping.Outcome.FAILED,
        ).exclude(failure_reason="")
        for channel_id, code, reason in rows.values_list("channel_id", "code", "failure_reason"):
            mapped.setdefault(channel_id, {})[code] = reason
        return mapped

    # ---- the loop
    def run(self, *, stop=lambda: False, idle_wait: float = 0.05) -> None:
        """The process loop. A database hiccup is logged and retried; binds stay up meanwhile
        (unacknowledged receipts are simply sent again by the SMSC)."""
        self.refresh_channels()
        try:
            while not stop():
                try:
                    self.step(idle_wait)
                except (OperationalError, InterfaceError):
                    logger.exception("SMPP connector: database error; retrying in a second")
                    connection.close()
                    time.sleep(1)
        finally:
            self.close()

    def step(self, wait: float = 0.05) -> int:
        """Claim, wait briefly for engine events, write them. Returns events handled."""
        now = time.monotonic()
        if now - self.last_refresh >= CHANNEL_REFRESH_SECONDS:
            self.refresh_channels()
        if self.claimer is None:
            self.claim()
        else:
            self.claimer.wake.set()
        first = self.engine.wait_event(wait)
        events = ([first] if first is not None else []) + self.engine.drain_events()
        if events or self.unmatched:
            self.record(events)
        if now - self.last_renew >= LEASE.total_seconds() / 4:
            self.renew_leases()
        if now - self.last_status >= STATUS_SECONDS:
            self.write_status()
        if now - self.last_reply_sweep >= REPLY_SWEEP_SECONDS:
            self.sweep_reply_parts()
        if now - self.last_settle >= REVIEW_SETTLE_SECONDS:
            self.last_settle = now
            reviews_settle()
        return len(events)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        try:
            if self.claimer is not None:
                self.claimer.stop()
            self.engine.stop()
            self.record(self.engine.drain_events())
            self.flush_counts()
            if self.applier is not None:
                self.applier.stop()
        finally:
            SmppBindStatus.objects.filter(channel_id__in=list(self.channels)).update(
                state=SmppBindStatus.State.STOPPED, binds_bound=0, window_in_use=0, updated_at=timezone.now()
            )
            if self.held:
                # Never sent (or sent and unanswered): give the rows back to crash recovery.
                with connection.cursor() as cursor:
                    cursor.execute(
                        "UPDATE messaging_message SET lease_until = now() WHERE id = ANY(%s) AND status = 'submitting'",
                        [list(self.held)],
                    )

    # ---- claim
    def claim(self) -> int:
        total = 0
        for channel_id, state in list(self.channels.items()):
            if not self.engine.bound_transmitters(channel_id):
                unusable = (
                    self.engine.is_refused(channel_id)
                    or self.engine.unbound_seconds(channel_id) > UNBOUND_GRACE_SECONDS
                )
                if unusable and time.monotonic() >= self.idle_until.get(channel_id, 0.0):
                    self._give_back(channel_id)
                    self.idle_until[channel_id] = time.monotonic() + IDLE_CLAIM_SECONDS
                continue
            # Keep about eight windows per bind ready, so the binds never wait for a database
            # round trip; top up when half of that is gone.
            target = state.settings.window * state.settings.binds * 8
            room = target - self.engine.backlog(channel_id)
            if room < target // 2:
                continue
            if time.monotonic() < self.idle_until.get(channel_id, 0.0):
                continue
            claimed = self._claim_channel(state, min(room, self.claim_limit))
            if not claimed:
                self.idle_until[channel_id] = time.monotonic() + IDLE_CLAIM_SECONDS
            total += claimed
        return total

    def _claim_channel(self, state: ChannelState, limit: int) -> int:
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE messaging_message SET lease_until = %s, updated_at = %s
                WHERE id = ANY(ARRAY(
                    SELECT id FROM messaging_message
                    WHERE status = 'submitting' AND lease_until IS NULL AND channel_id = %s AND channel_ref = ''
                    ORDER BY priority, id LIMIT %s FOR UPDATE SKIP LOCKED))
                RETURNING id, tenant_id, number, body, priority, template_id
                """,
                [now + LEASE, now, state.channel.pk, limit],
            )
            rows = cursor.fetchall()
        if not rows:
            return 0
        rows.sort(key=lambda row: (row[4], row[0]))
        settings = state.settings
        signatures = self._signatures({row[5] for row in rows}) if settings.signature_extensions else {}
        parts: list[OutboundPart] = []
        for message_id, tenant_id, number, body, _priority, template_id in rows:
            outbound = build_parts(
                settings,
                message_id=message_id,
                tenant_id=tenant_id,
                number=number,
                body=body,
                signature_id=signatures.get(template_id),
            )
            self.held[message_id] = Held(tenant_id=tenant_id, channel_id=state.channel.pk, parts=len(outbound))
            parts.extend(outbound)
        self.engine.submit(state.channel.pk, parts)
        self.stats["claimed"] += len(rows)
        return len(rows)

    def _signatures(self, template_ids: set) -> dict[int, int]:
        """template id → its signature id (cached; one query for the ones not seen yet)."""
        missing = [t for t in template_ids if t is not None and t not in self.signature_of]
        if missing:
            with connection.cursor() as cursor:
                cursor.execute("SELECT id, signature_id FROM templates_messagetemplate WHERE id = ANY(%s)", [missing])
                self.signature_of.update(cursor.fetchall())
        return self.signature_of

    def _give_back(self, channel_id: int) -> None:
        """Messages handed to a channel that cannot bind go back to the dispatcher, which routes
        them elsewhere (the channel's breaker is open by then, or opens as binds keep failing)."""
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE messaging_message SET status = 'queued', channel_id = NULL, lease_until = NULL,
                    route_reason = 'SMPP: channel not bound; routed again', updated_at = now()
                WHERE id = ANY(ARRAY(
                    SELECT id FROM messaging_message
                    WHERE status = 'submitting' AND lease_until IS NULL AND channel_id = %s AND channel_ref = ''
                    ORDER BY priority, id LIMIT %s FOR UPDATE SKIP LOCKED))
                """,
                [channel_id, self.claim_limit],
            )
            given_back = cursor.rowcount
        self.stats["requeued"] += given_back
        state = self.channels.get(channel_id)
        if given_back and state is not None:
            # The router sent work to a channel that cannot bind (its breaker was half-open):
            # the probe failed, so the breaker opens again instead of ping-ponging the rows.
            breaker.record_failure(state.channel)

    def renew_leases(self) -> None:
        self.last_renew = time.monotonic()
        if not self.held:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE messaging_message SET lease_until = %s WHERE id = ANY(%s) AND status = 'submitting'",
                [timezone.now() + LEASE, list(self.held)],
            )

    # ---- events → batch
    def record(self, events: list[tuple]) -> None:
        batch = Batch()
        for event in events:
            kind = event[0]
            if kind in ("submitted", "rejected", "retry_elsewhere", "review"):
                self._part_outcome(batch, event)
            elif kind == "receipt":
                batch.receipts.setdefault(event[1], []).append((event[2], event[3]))
            elif kind == "mo":
                batch.replies.append(event[1:])
            elif kind == "mo_part":
                batch.reply_parts.append(event[1:])
            elif kind == "bind_failed":
                self._bind_failed(event[1], event[3])
            elif kind == "bound":
                self.refused_channels.discard(event[1])
            elif kind == "disconnected" and event[1] in self.channels and not self.engine.bound_transmitters(event[1]):
                # No bind left (connection refused, dropped, timed out): one breaker failure each time.
                state = self.channels[event[1]]
                breaker.record_failure(state.channel)
        self.write(batch)

    def _part_outcome(self, batch: Batch, event: tuple) -> None:
        kind, channel_id, part, detail = event
        held = self.held.get(part.message_id)
        if held is None:
            return
        counts = batch.submit_counts.setdefault(channel_id, [0, 0])
        if kind == "submitted":
            held.submitted[part.part_index] = detail
            self.recent[(channel_id, detail)] = (part.message_id, part.part_index, part.parts)
            if part.parts > 1:
                batch.parts.append(
                    (channel_id, detail, part.tenant_id, part.message_id, part.part_index, part.parts, timezone.now())
                )
            counts[0] += 1
        elif kind == "rejected":
            held.rejected = detail
            counts[1] += 1
        elif kind == "retry_elsewhere":
            held.retry = str(detail)
        else:
            held.review.add(part.part_index)
        if held.resolved < held.parts:
            return
        del self.held[part.message_id]
        first_ref = held.submitted.get(0, "")
        if held.rejected is not None:
            reason = SUBMIT_FAILURE_REASONS.get(held.rejected, FailureReason.CHANNEL_ERROR)
            batch.failed.append((part.message_id, reason, P.status_name(held.rejected), "submit_sm refused"))
        elif held.retry and not held.submitted and not held.review:
            batch.requeue.append((part.message_id, held.retry))
        elif held.review or held.retry:
            reason = SmppReview.Reason.DROPPED_IN_FLIGHT if held.review else SmppReview.Reason.PARTLY_SENT
            batch.review.append((part.message_id, held.tenant_id, channel_id, reason, first_ref))
        else:
            batch.submitted.append((part.message_id, first_ref))

    def _bind_failed(self, channel_id: int, status: int) -> None:
        state = self.channels.get(channel_id)
        if state is None or status not in P.BIND_REFUSED_STATUSES:
            return
        if channel_id not in self.refused_channels:
            # Wrong credentials will not fix themselves: open the breaker at once so the router
            # sends traffic elsewhere.
            self.refused_channels.add(channel_id)
            channel = Channel.objects.get(pk=channel_id)
            breaker.record_failure(channel, count=breaker.OPEN_AFTER)
            state.channel = channel

    # ---- batch → database
    def write(self, batch: Batch) -> None:
        now = timezone.now()
        with connection.cursor() as cursor:
            if batch.parts:
                with cursor.copy(
                    "COPY smpp_smpppart (channel_id, smsc_message_id, tenant_id, message_id, part_index, parts,"
                    " submitted_at) FROM STDIN"
                ) as copy:
                    for row in batch.parts:
                        copy.write_row(row)
            if batch.submitted:
                ids, refs = zip(*batch.submitted, strict=True)
                # A receipt may already have settled the message: keep its final status.
                cursor.execute(
                    """
                    UPDATE messaging_message m SET
                        status = CASE WHEN m.status = 'submitting' THEN 'submitted' ELSE m.status END,
                        channel_ref = v.ref, submitted_at = %s, lease_until = NULL, updated_at = %s
                    FROM unnest(%s::bigint[], %s::text[]) AS v(id, ref)
                    WHERE m.id = v.id AND m.status <> 'queued'
                    """,
                    [now, now, list(ids), list(refs)],
                )
                self.stats["submitted"] += len(ids)
            if batch.requeue:
                ids, whys = zip(*batch.requeue, strict=True)
                cursor.execute(
                    """
                    UPDATE messaging_message m SET status = 'queued', lease_until = NULL, channel_id = NULL,
                        channel_ref = '', route_reason = left('SMPP: ' || v.why, 200), updated_at = %s
                    FROM unnest(%s::bigint[], %s::text[]) AS v(id, why)
                    WHERE m.id = v.id AND m.status = 'submitting'
                    """,
                    [now, list(ids), list(whys)],
                )
                self.stats["requeued"] += len(ids)
            if batch.review:
                self._write_review(cursor, batch.review, now)
        if batch.failed:
            messages_fail(batch.failed, now=now)
        for channel_id, (ok, err) in batch.submit_counts.items():
            counts = self.pending_counts.setdefault(channel_id, [0, 0])
            counts[0] += ok
            counts[1] += err
        if time.monotonic() - self.last_counts >= 1.0:
            self.flush_counts()
        recent = self.recent
        while len(recent) > RECENT_LIMIT:
            del recent[next(iter(recent))]
        self.write_deliveries(batch.receipts, batch.replies, batch.reply_parts)

    def write_deliveries(self, receipts: dict, replies: list, reply_parts: list = ()) -> None:
        """Store receipts and replies, then acknowledge their deliver_sm (never before)."""
        acks: list[tuple] = []
        self._write_receipts(receipts, acks, timezone.now())
        if replies:
            self._write_replies(replies, acks)
        if reply_parts:
            self._write_reply_parts(reply_parts, acks)
        self.engine.ack(acks)

    def flush_counts(self) -> None:
        """Per-minute channel counters and the breaker, once a second rather than per batch."""
        self.last_counts = time.monotonic()
        counts, self.pending_counts = self.pending_counts, {}
        if not counts:
            return
        now = timezone.now()
        channel_minutes_add([(cid, now, {"submitted": ok, "submit_errors": err}) for cid, (ok, err) in counts.items()])
        for channel_id, (ok, _err) in counts.items():
            state = self.channels.get(channel_id)
            if ok and state is not None and channel_id not in self.refused_channels:
                breaker.record_success(state.channel)

    def _write_review(self, cursor, rows: list[tuple], now) -> None:
        ids = [row[0] for row in rows]
        cursor.execute(
            """
            UPDATE messaging_message m SET
                status = CASE WHEN m.status = 'submitting' THEN 'submitted' ELSE m.status END,
                channel_ref = v.ref, submitted_at = coalesce(m.submitted_at, %s), lease_until = NULL,
                route_reason = left('SMPP: outcome uncertain after a dropped connection; not resent', 200),
                updated_at = %s
            FROM unnest(%s::bigint[], %s::text[]) AS v(id, ref)
            WHERE m.id = v.id AND m.status <> 'queued'
            """,
            [now, now, ids, [row[4] for row in rows]],
        )
        SmppReview.objects.bulk_create(
            [
                SmppReview(tenant_id=tenant_id, message_id=message_id, channel_id=channel_id, reason=reason)
                for message_id, tenant_id, channel_id, reason, _ref in rows
            ],
            ignore_conflicts=True,
        )
        self.stats["review"] += len(rows)

    def _write_receipts(self, receipts: dict, acks: list, now) -> None:
        pending = [(None, channel_id, receipt, ack) for channel_id, items in receipts.items() for receipt, ack in items]
        pending += self.unmatched
        self.unmatched = []
        if not pending:
            return
        recent = self.recent
        parts = {}
        keys = sorted({(c, r.smsc_message_id) for _seen, c, r, _ack in pending if (c, r.smsc_message_id) not in recent})
        if keys:
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    SELECT p.channel_id, p.smsc_message_id, p.message_id, p.part_index, p.parts
                    FROM smpp_smpppart p JOIN unnest(%s::bigint[], %s::text[]) AS k(channel_id, smsc_id)
                      ON p.channel_id = k.channel_id AND p.smsc_message_id = k.smsc_id
                    """,
                    [[k[0] for k in keys], [k[1] for k in keys]],
                )
                parts = {(row[0], row[1]): row[2:] for row in cursor.fetchall()}
        reports: dict[int, list[ReceiptReport]] = {}
        monotonic = time.monotonic()
        for first_seen, channel_id, receipt, ack in pending:
            state = self.channels.get(channel_id)
            if not receipt.is_final:
                acks.append(ack)  # ENROUTE / ACCEPTD: nothing to settle
                continue
            key = (channel_id, receipt.smsc_message_id)
            found = recent.get(key) or parts.get(key)
            if found is None:
                first_seen = monotonic if first_seen is None else first_seen
                if monotonic - first_seen < self.unmatched_seconds:
                    # Its submit_sm_resp may still be on its way: receipts can come on another bind.
                    self.unmatched.append((first_seen, channel_id, receipt, ack))
                    continue
                # Not ours in memory: a single-part message is found by its reference (channel_ref).
                message_id, part_index = None, None
            else:
                message_id, part_index, total = found
                part_index = part_index if total > 1 else None
            error_map = state.error_map if state else {}
            reports.setdefault(channel_id, []).append(
                ReceiptReport(
                    channel_ref=receipt.smsc_message_id,
                    message_id=message_id,
                    delivered=receipt.delivered,
                    raw_status=receipt.raw_status,
                    failure_reason=failure_reason_for(receipt, error_map),
                    part_index=part_index,
                    reported_at=now,  # receipt dates are SMSC-local and to the minute: arrival time is truer
                )
            )
            acks.append(ack)
        for channel_id, items in reports.items():
            channel = self.channels[channel_id].channel if channel_id in self.channels else Channel(pk=channel_id)
            receipts_store(channel=channel, reports=items, now=now)
            self.stats["receipts"] += len(items)
        if reports and self.applier is not None:
            self.applier.wake.set()
        elif reports and self.apply_receipts == "inline":
            while receipts_apply_batch(now=now) >= 5000:
                pass

    def _write_replies(self, replies: list, acks: list) -> None:
        """Replies → messaging's inbound inbox, which hands each to compliance (TD, 退订 …)."""
        now = timezone.now()
        rows = []
        for channel_id, source, destination, text, ack in replies:
            acks.append(ack)
            rows.append((channel_id, source, destination, text, now))
        self._inbound(rows)

    def _inbound(self, replies: list[tuple]) -> None:
        """(channel id, source, destination, text, received at) → the inbound inbox.
        The tenant is the one whose extension the reply was addressed to; without one,
        messaging picks the tenant that last sent to that number on that channel."""
        from messaging.services import inbound_receive_batch
        from smsportal.numbers import InvalidNumber, normalize

        rows = []
        for channel_id, source, destination, text, received_at in replies:
            state = self.channels.get(channel_id)
            tenant_id, extension = state.settings.tenant_for_destination(destination) if state else (None, "")
            raw = source if source.startswith("+") else f"+{source}" if source.startswith("86") else source
            try:
                number = normalize(raw).e164
            except InvalidNumber:
                number = raw
            rows.append(
                {
                    "channel_id": channel_id,
                    "tenant_id": tenant_id,
                    "number": number,
                    "text": text,
                    "received_at": received_at,
                    "extension": extension,
                }
            )
        if rows:
            inbound_receive_batch(rows)
        self.stats["replies"] += len(rows)

    # ---- long replies (concatenated MO): stored part by part, assembled when whole
    def _write_reply_parts(self, parts: list, acks: list) -> None:
        """Store the parts (a part sent again is ignored), acknowledge them, and assemble every
        set this batch touched that is now whole — whichever bind or process stored the rest."""
        now = timezone.now()
        rows: list[tuple] = []
        singles: list[tuple] = []
        for channel_id, source, destination, decoded, data_coding, ack in parts:
            acks.append(ack)
            if not 1 <= decoded.seq <= decoded.total:
                singles.append((channel_id, source, destination, decoded.text, now))  # malformed header
                continue
            rows.append(
                (channel_id, source[:21], destination[:21], decoded.reference, decoded.total, decoded.seq,
                 data_coding, decoded.payload, decoded.fill_bits)
            )  # fmt: skip
        self.stats["reply_parts"] += len(rows)
        if rows:
            columns = list(zip(*rows, strict=True))
            with connection.cursor() as cursor:
                cursor.execute(
                    """
                    INSERT INTO smpp_smppreplypart (channel_id, source_addr, destination_addr, reference, total, seq,
                        data_coding, payload, fill_bits, received_at)
                    SELECT c, s, d, r, t, q, dc, p, f, %s
                    FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::int[], %s::int[], %s::int[],
                                %s::bytea[], %s::int[]) AS v(c, s, d, r, t, q, dc, p, f)
                    ON CONFLICT DO NOTHING
                    """,
                    [now, *[list(column) for column in columns]],
                )
            keys = sorted({row[:5] for row in rows})
            self._assemble_reply_parts(
                """
                SELECT p.channel_id, p.source_addr, p.destination_addr, p.reference, p.total
                FROM smpp_smppreplypart p
                JOIN unnest(%s::bigint[], %s::text[], %s::text[], %s::int[], %s::int[]) AS k(c, s, d, r, t)
                  ON p.channel_id = k.c AND p.source_addr = k.s AND p.destination_addr = k.d
                 AND p.reference = k.r AND p.total = k.t
                WHERE p.assembled_at IS NULL
                GROUP BY 1, 2, 3, 4, 5 HAVING count(*) >= p.total
                """,
                [list(column) for column in zip(*keys, strict=True)],
                now,
            )
        if singles:
            self._inbound(singles)

    def sweep_reply_parts(self, now=None) -> int:
        """Long replies still missing parts after the channel's timeout are passed on as they
        are (gaps marked), and assembled parts older than a few minutes are purged."""
        now = now or timezone.now()
        self.last_reply_sweep = time.monotonic()
        if not self.channels:
            return 0
        ids = list(self.channels)
        seconds = [self.channels[i].settings.reply_parts_timeout_seconds for i in ids]
        handed = self._assemble_reply_parts(
            """
            SELECT p.channel_id, p.source_addr, p.destination_addr, p.reference, p.total
            FROM smpp_smppreplypart p JOIN unnest(%s::bigint[], %s::int[]) AS t(c, seconds) ON p.channel_id = t.c
            WHERE p.assembled_at IS NULL
            GROUP BY 1, 2, 3, 4, 5, t.seconds
            HAVING min(p.received_at) < %s - make_interval(secs => t.seconds)
            """,
            [ids, seconds, now],
            now,
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM smpp_smppreplypart WHERE assembled_at < %s AND channel_id = ANY(%s)",
                [now - REPLY_PARTS_KEPT, ids],
            )
        return handed

    def _assemble_reply_parts(self, sets_sql: str, params: list, now) -> int:
        """Claim the sets `sets_sql` selects (one UPDATE: a set claimed by another process at the
        same time is skipped here) and hand each to the inbox, in the same transaction."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(  # sets_sql: one of this module's two constant queries, never input
                f"""
                WITH sets AS ({sets_sql})
                UPDATE smpp_smppreplypart p SET assembled_at = %s
                FROM sets
                WHERE p.channel_id = sets.channel_id AND p.source_addr = sets.source_addr
                  AND p.destination_addr = sets.destination_addr AND p.reference = sets.reference
                  AND p.total = sets.total AND p.assembled_at IS NULL
                RETURNING p.channel_id, p.source_addr, p.destination_addr, p.reference, p.total, p.seq,
                    p.data_coding, p.payload, p.fill_bits, p.received_at
                """,  # noqa: S608
                [*params, now],
            )
            claimed = cursor.fetchall()
            if not claimed:
                return 0
            sets: dict[tuple, list] = {}
            for row in claimed:
                sets.setdefault(row[:5], []).append(row[5:])
            replies = []
            for (channel_id, source, destination, _reference, total), parts in sorted(sets.items()):
                state = self.channels.get(channel_id)
                text = join_parts(
                    [(seq, bytes(payload), fill_bits) for seq, _dc, payload, fill_bits, _at in parts],
                    total=total,
                    data_coding=parts[0][1],
                    gsm7_packed=state.settings.gsm7_packed if state else False,
                )
                replies.append((channel_id, source, destination, text, max(part[4] for part in parts)))
            self._inbound(replies)
        return len(replies)

    # ---- bind status for the channels page
    def write_status(self) -> None:
        self.last_status = time.monotonic()
        snapshot = self.engine.snapshot()
        now = timezone.now()
        for channel_id, info in snapshot.items():
            state = self.channels.get(channel_id)
            if state is None:
                continue
            connections = info["connections"]
            bound = sum(1 for c in connections if c["state"] == "bound")
            total = len(connections) or state.settings.binds
            errors = [c["last_error"] for c in connections if c["last_error"]]
            if info["refused"]:
                status = SmppBindStatus.State.REFUSED
            elif bound and bound >= total:
                status = SmppBindStatus.State.BOUND
            elif bound:
                status = SmppBindStatus.State.PARTIAL
            else:
                status = SmppBindStatus.State.DOWN
            mark_time, mark_submitted, mark_receipts = self.status_marks.get(channel_id, (self.last_status, 0, 0))
            elapsed = max(self.last_status - mark_time, 1e-6)
            self.status_marks[channel_id] = (self.last_status, info["submitted_total"], info["receipts_total"])
            defaults = {
                "state": status,
                "binds_bound": bound,
                "binds_total": total,
                "window_in_use": sum(c["outstanding"] for c in connections),
                "window_size": state.settings.window * sum(1 for c in connections if c["role"] != "receiver"),
                "queued": info["queued"],
                "submitted_per_second": round((info["submitted_total"] - mark_submitted) / elapsed, 1)
                if mark_time != self.last_status
                else 0.0,
                "receipts_per_second": round((info["receipts_total"] - mark_receipts) / elapsed, 1)
                if mark_time != self.last_status
                else 0.0,
                "submitted_total": info["submitted_total"],
                "connections": connections,
                "connector": self.label,
                "updated_at": now,
            }
            if errors:
                defaults["last_error"] = errors[-1][:300]
                defaults["last_error_at"] = now
            SmppBindStatus.objects.update_or_create(channel_id=channel_id, defaults=defaults)


class Claimer(threading.Thread):
    """Claims on its own connection, so claiming overlaps the main thread's writes."""

    def __init__(self, connector: Connector):
        super().__init__(name="smpp-claims", daemon=True)
        self.connector = connector
        self.wake = threading.Event()
        self.stopping = False
        self.start()

    def run(self) -> None:
        from django.db import connections

        while not self.stopping:
            self.wake.wait(0.05)
            self.wake.clear()
            try:
                while not self.stopping and self.connector.claim():
                    pass
            except Exception:  # keep claiming after a database hiccup
                logger.exception("SMPP claimer: claim failed; retrying in a second")
                connections.close_all()
                time.sleep(1)
        connections.close_all()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.join(30)


class ReceiptApplier(threading.Thread):
    """Applies stored receipts (status, billing capture, counters) on its own connection, so
    the connector's main thread keeps claiming and recording while that work runs."""

    def __init__(self):
        super().__init__(name="smpp-receipts", daemon=True)
        self.wake = threading.Event()
        self.stopping = False
        self.applied = 0
        self.start()

    def run(self) -> None:
        from django.db import connections

        while True:
            self.wake.wait(0.2)
            self.wake.clear()
            try:
                while (consumed := receipts_apply_batch()) > 0:
                    self.applied += consumed
            except Exception:  # the receipts stay stored; the next round (or a lane worker) applies them
                logger.exception("SMPP receipt applier: apply failed; retrying in a second")
                connections.close_all()
                time.sleep(1)
            if self.stopping:
                break
        connections.close_all()

    def stop(self) -> None:
        self.stopping = True
        self.wake.set()
        self.join(30)


def build_parts(
    settings: SmppSettings,
    *,
    message_id: int,
    tenant_id: int,
    number: str,
    body: str,
    signature_id: int | None = None,
) -> list[OutboundPart]:
    """A message → its submit_sm PDUs (encoded once, sequence patched when sent)."""
    encoded = encode_text(
        body,
        reference=message_id,
        concatenation=settings.concatenation,
        gsm7_packed=settings.gsm7_packed,
        force_ucs2=settings.data_coding == "ucs2",
    )
    source = settings.source_for(tenant_id, signature_id)
    destination = settings.destination_for(number)
    count = len(encoded.parts)
    parts = []
    for index, part in enumerate(encoded.parts):
        tlvs = {P.TLV_CLIENT_REFERENCE: f"{message_id}:{index}".encode()}
        tlvs.update(part.tlvs)
        raw = P.Pdu(
            P.SUBMIT_SM,
            source_addr_ton=settings.source_addr_ton,
            source_addr_npi=settings.source_addr_npi,
            source_addr=source,
            dest_addr_ton=settings.dest_addr_ton,
            dest_addr_npi=1,
            destination_addr=destination,
            esm_class=part.esm_class,
            registered_delivery=1,
            data_coding=encoded.data_coding,
            short_message=part.short_message,
            tlvs=tlvs,
        ).encode()
        parts.append(OutboundPart(message_id=message_id, tenant_id=tenant_id, part_index=index, parts=count, raw=raw))
    return parts
