"""Writes of the messaging app: accepting messages (the one accept path), inbound replies,
channels. Dispatch, receipts and recovery live in dispatch.py / receipts.py."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from messaging import money
from messaging.adapters.base import adapter_settings_errors, is_secret_key, mask_secrets
from messaging.models import PRIORITY_BY_CLASS, Channel, InboundMessage, Lane, Message, lane_for
from smsportal.enums import FailureReason, MessageStatus
from smsportal.errors import Forbidden, ServiceError, Unprocessable
from smsportal.numbers import InvalidNumber, normalize
from smsportal.prepared import prepared_cursor
from smsportal.sqlarrays import int_array, text_array

logger = logging.getLogger(__name__)

INSERT_CHUNK = 2000
MAX_SCHEDULE_AHEAD = timedelta(days=30)


@dataclass
class AcceptResult:
    """One recipient's outcome. `message_id` is None only for input errors (bad variables),
    which are not stored; refused numbers are stored as `rejected` messages."""

    index: int
    number: str
    status: str  # queued / rejected / invalid
    message_id: int | None = None
    reason: str = ""
    detail: str = ""
    segments: int = 0
    estimated_price: Decimal | None = None
    fields: dict | None = None

    def as_dict(self) -> dict:
        data = asdict(self)
        data["estimated_price"] = str(self.estimated_price) if self.estimated_price is not None else None
        return data


def _check_send_at(send_at: datetime | None, now: datetime) -> datetime | None:
    if send_at is None:
        return None
    if timezone.is_naive(send_at):
        raise Unprocessable("invalid_send_at", _("send_at needs a time zone offset."), field="send_at")
    if send_at <= now:
        return None  # a time already past means now
    if send_at > now + MAX_SCHEDULE_AHEAD:
        raise Unprocessable("invalid_send_at", _("send_at may be at most 30 days ahead."), field="send_at")
    return send_at


def message_accept_batch(
    *,
    tenant,
    actor,
    template_id,
    recipients: list[dict],
    client_ref: str | None = None,
    send_at: datetime | None = None,
    campaign_id: int | None = None,
) -> list[AcceptResult]:
    """The one accept path (API, portal test sends, campaign fan-out), in one transaction.

    recipients: [{"number": str, "variables": dict, "client_ref": str (optional)}].
    Gates in order: template approved → variables → number → suppression/consent →
    frequency caps → balance reserved (all or nothing: raises PaymentRequired). Good
    recipients become `queued` rows; refused numbers become `rejected` rows with their reason;
    recipients with bad variables are only reported (field errors), never stored.
    """
    from templates.rendering import fill_body, signature_prefix, validate_variables
    from templates.segments import count_segments
    from templates.selectors import template_for_sending

    if not tenant.is_active:
        raise Forbidden("tenant_suspended", _("This account is suspended."))
    if not recipients:
        raise Unprocessable("no_recipients", _("Give at least one recipient."), field="recipients")
    now = timezone.now()
    send_at = _check_send_at(send_at, now)
    version = template_for_sending(tenant=tenant, template_id=template_id)
    template = version.template
    message_class = template.kind
    prefix = signature_prefix(template.signature.name)
    lane = lane_for(message_class)
    priority = PRIORITY_BY_CLASS.get(message_class, 5)

    results: list[AcceptResult] = []
    rows: list[_Row] = []
    segments_of: dict[str, int] = {}  # a bulk send repeats the same few bodies
    for index, recipient in enumerate(recipients):
        raw_number = str((recipient or {}).get("number", "") or "")
        variables = (recipient or {}).get("variables") or {}
        errors = validate_variables(version=version, variables=variables)
        if errors:
            results.append(
                AcceptResult(
                    index,
                    raw_number,
                    "invalid",
                    reason="invalid_variables",
                    detail=_("Some variables are missing or invalid."),
                    fields=errors,
                )
            )
            continue
        body = prefix + fill_body(version.body, variables)
        segments = segments_of.get(body)
        if segments is None:
            segments = segments_of[body] = count_segments(body).segments
        ref = str(recipient.get("client_ref") or client_ref or "")[:100]
        try:
            number = normalize(raw_number)
        except InvalidNumber as error:
            detail = str(error.message)
            results.append(
                AcceptResult(
                    index,
                    raw_number,
                    MessageStatus.REJECTED,
                    reason=FailureReason.INVALID_NUMBER,
                    detail=detail,
                    segments=segments,
                )
            )
            rows.append(_Row(raw_number[:20], "unknown", "", body, segments, ref, MessageStatus.REJECTED))
            rows[-1].failure_reason, rows[-1].failure_detail = FailureReason.INVALID_NUMBER, detail
            continue
        results.append(AcceptResult(index, number.e164, MessageStatus.QUEUED, segments=segments))
        rows.append(_Row(number.e164, number.carrier, number.province, body, segments, ref, MessageStatus.QUEUED))

    from billing.pricing import estimate
    from compliance import gates

    # Consent, suppression and frequency caps are index probes inside the INSERT (one
    # statement per chunk, the same rules as the campaign fan-out's).
    refusal = gates.refusal_sql(
        tenant=tenant,
        message_class=message_class,
        template_id=template.pk,
        number_sql="src.number",
        tenant_sql="src.tenant_id",
        now=now,
    )
    shared = _Shared(tenant.pk, message_class, lane, priority, template.pk, version.pk, campaign_id, send_at, now)
    with transaction.atomic():
        for start in range(0, len(rows), INSERT_CHUNK):
            _insert_messages(rows[start : start + INSERT_CHUNK], shared, refusal)
        queued = [m for m in rows if m.status == MessageStatus.QUEUED]
        # The reservation also reports the prices in force and the month's volume: the
        # estimates below need no query of their own.
        reservation = money.reserve(tenant=tenant, message_class=message_class, messages=queued)
        if lane == Lane.URGENT and send_at is None and queued:
            transaction.on_commit(lane_wake_urgent)
    price_cache: dict[int, Decimal] = {}

    def estimated(segments: int) -> Decimal:
        if segments not in price_cache:
            price_cache[segments] = estimate(
                tenant=tenant,
                message_class=message_class,
                segments=segments,
                prices=reservation.prices,
                month_segments=reservation.month_segments,
            )
        return price_cache[segments]

    stored = iter(rows)
    for result in results:
        if result.status == "invalid":
            continue
        message = next(stored)
        result.message_id = message.pk
        if message.status == MessageStatus.REJECTED and result.status == MessageStatus.QUEUED:
            result.status, result.reason = MessageStatus.REJECTED, message.failure_reason
        if result.status == MessageStatus.QUEUED:
            result.estimated_price = estimated(result.segments)
        elif not result.detail:
            result.detail = str(FailureReason(result.reason).label) if result.reason in FailureReason.values else ""
    return results


_last_wake = 0.0
WAKE_DEBOUNCE_SECONDS = 0.25


@dataclass(slots=True)
class _Row:
    """What differs between the messages of one accept call (the rest is `_Shared`)."""

    number: str
    carrier: str
    province: str
    body: str
    segments: int
    client_ref: str
    status: str
    failure_reason: str = ""
    failure_detail: str = ""
    pk: int | None = None


@dataclass(slots=True)
class _Shared:
    tenant_id: int
    message_class: str
    lane: str
    priority: int
    template_id: int
    template_version_id: int
    campaign_id: int | None
    send_at: datetime | None
    now: datetime


INSERT_COLUMNS = (
    "tenant_id, created_at, updated_at, accepted_at, message_class, lane, priority, template_id,"
    " template_version_id, campaign_id, send_at, number, carrier, province, body, segments, client_ref, status,"
    " failure_reason, failure_detail, done_at, raw_status, channel_ref, route_reason, tried_channel_ids,"
    " submit_attempts, parts_delivered_mask, parts_failed_mask"
)

# One statement per chunk: the rows arrive as arrays (one literal each, see smsportal.sqlarrays),
# the gates decide each row's status in the database, and the ids come back in row order (the
# sequence numbers the rows in ORDER BY order). {refusal} is compliance.gates.refusal_sql.
# src is MATERIALIZED so that its tenant_id reaches the gate probes as a column, not as the
# constant an inlined CTE folds it into: with the constant, a tenant the statistics do not know
# yet made tenant-only indexes look as cheap as (tenant, number), and each probe walked every
# consent record or message of the tenant (1,000-message batches slowing 0.08 → 6 s).
INSERT_SQL = f"""
WITH src AS MATERIALIZED (
    SELECT s.*, %s::bigint AS tenant_id
      FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::text[])
           WITH ORDINALITY AS s(number, carrier, province, body, segments, client_ref, preset, detail, n)),
g AS MATERIALIZED (
    SELECT src.*, CASE WHEN src.preset <> '' THEN src.preset ELSE {{refusal}} END AS reason FROM src)
INSERT INTO messaging_message ({INSERT_COLUMNS})
SELECT g.tenant_id, %s, %s, %s, %s, %s, %s, %s, %s, %s::bigint, %s::timestamptz,
       g.number, g.carrier, g.province, g.body, g.segments, g.client_ref,
       CASE WHEN g.reason IS NULL THEN %s ELSE %s END, coalesce(g.reason, ''), g.detail,
       CASE WHEN g.reason IS NULL THEN NULL ELSE %s::timestamptz END, '', '', '', '{{}}', 0, 0, 0
  FROM g ORDER BY g.n
RETURNING id, status, failure_reason"""  # noqa: S608 (fixed SQL; every value is bound)


def _insert_messages(rows: list[_Row], shared: _Shared, refusal: tuple[str, list]) -> None:
    """Store one chunk; sets each row's pk, and status and reason when a gate refused it."""
    if not rows:
        return
    refusal_sql, refusal_params = refusal
    now = shared.now
    params = [
        shared.tenant_id,
        text_array(r.number for r in rows),
        text_array(r.carrier for r in rows),
        text_array(r.province for r in rows),
        text_array(r.body for r in rows),
        int_array(r.segments for r in rows),
        text_array(r.client_ref for r in rows),
        text_array(r.failure_reason for r in rows),
        text_array(r.failure_detail for r in rows),
        *refusal_params,
        now,
        now,
        now,
        shared.message_class,
        shared.lane,
        shared.priority,
        shared.template_id,
        shared.template_version_id,
        shared.campaign_id,
        shared.send_at,
        MessageStatus.QUEUED.value,
        MessageStatus.REJECTED.value,
        now,
    ]
    # A one-message accept (the send API's call) is prepared on the connection: its plan is
    # always the same. A batch plans afresh, for its size (a plan cached from other sizes or
    # older statistics was measured up to 10× slower at 1,000 rows).
    with prepared_cursor() if len(rows) == 1 else connection.cursor() as cursor:
        cursor.execute(INSERT_SQL.replace("{refusal}", refusal_sql), params)
        stored = sorted(cursor.fetchall())
    for row, (pk, status, reason) in zip(rows, stored, strict=True):
        row.pk = pk
        if status == MessageStatus.REJECTED and row.status == MessageStatus.QUEUED:
            row.status, row.failure_reason = MessageStatus.REJECTED, reason


def lane_wake_urgent() -> None:
    """Runs after commit: one drain pass on the urgent cluster, so a code never waits for a poll.

    Debounced per process: under heavy code traffic one pending kick serves every message
    accepted meanwhile (django-q2's ORM broker manages ~135 tasks/s; the lane loop polls too).
    """
    global _last_wake
    now = time.monotonic()
    if now - _last_wake < WAKE_DEBOUNCE_SECONDS:
        return
    _last_wake = now
    try:
        from django_q.tasks import async_task

        async_task("messaging.tasks.lane_kick", "urgent", cluster="urgent")
    except Exception:  # the schedule-driven loop still drains the lane; never fail an accepted send
        logger.exception("could not wake the urgent lane")


def sends_hold(*, tenant, campaign_id: int) -> None:
    """Dispatchers stop taking the campaign's queued messages as soon as this commits."""
    from messaging.models import SendHold

    SendHold.objects.get_or_create(tenant=tenant, campaign_id=campaign_id)


def sends_release(*, tenant, campaign_id: int) -> None:
    from messaging.models import SendHold

    SendHold.objects.for_tenant(tenant).filter(campaign_id=campaign_id).delete()


def message_send_test(*, tenant, actor, template_id, number: str, variables: dict) -> AcceptResult:
    """The portal's "send a test message": one recipient through the normal accept path;
    bad variables raise like the API does."""
    result = message_accept_batch(
        tenant=tenant,
        actor=actor,
        template_id=template_id,
        recipients=[{"number": number, "variables": variables}],
        client_ref="portal-test",
    )[0]
    if result.status == "invalid":
        raise ServiceError("invalid_variables", result.detail, fields=result.fields, status=422)
    return result


# --- Inbound replies -------------------------------------------------------------------


def inbound_receive_batch(rows: list[dict]) -> list[InboundMessage]:
    """Store replies (MO) and hand each to compliance (opt-outs). Each row: channel_id,
    number, text, received_at, and tenant_id / in_reply_to_id when the channel knows them;
    otherwise the tenant is the one that last sent to that number on that channel."""
    from compliance.services import inbound_reply_handle
    from tenants.models import Tenant

    stored = []
    for row in rows:
        tenant_id, in_reply_to = row.get("tenant_id"), row.get("in_reply_to_id")
        if not tenant_id:
            last = (
                Message.objects.filter(channel_id=row.get("channel_id"), number=row["number"])
                .order_by("-id")
                .values_list("tenant_id", "id")
                .first()
            )
            if last is None:
                logger.info("reply from an unknown sender on channel %s dropped", row.get("channel_id"))
                continue
            tenant_id, in_reply_to = last
        tenant = Tenant.objects.get(pk=tenant_id)
        with transaction.atomic():
            inbound = InboundMessage.objects.create(
                tenant=tenant,
                channel_id=row.get("channel_id"),
                number=row["number"],
                text=row["text"],
                extension=row.get("extension", ""),
                received_at=row.get("received_at") or timezone.now(),
                in_reply_to_id=in_reply_to,
            )
            channel_name = Channel.objects.filter(pk=row.get("channel_id")).values_list("name", flat=True).first()
            opted_out = inbound_reply_handle(
                tenant=tenant,
                number=inbound.number,
                text=inbound.text,
                received_at=inbound.received_at,
                channel_label=channel_name or "",
            )
            if opted_out:
                InboundMessage.objects.filter(pk=inbound.pk).update(is_opt_out=True)
                inbound.is_opt_out = True
        stored.append(inbound)
    return stored


# --- Channels (platform staff) -----------------------------------------------------------

CHANNEL_FIELDS = (
    "name",
    "adapter",
    "carriers",
    "provinces",
    "message_classes",
    "rate_limit",
    "batch_size",
    "cost_per_message",
    "weight",
    "receipt_timeout_seconds",
    "enabled",
)


def _require_staff(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise Forbidden("staff_only", _("Only platform staff may change channels."))


def merge_settings(current: dict, submitted: dict) -> dict:
    """Secrets are write-only: a secret left blank or submitted still masked keeps its value."""
    merged = {}
    masked_current = mask_secrets(current)
    for key, value in (submitted or {}).items():
        if is_secret_key(key) and key in current and (value in ("", None) or value == masked_current.get(key)):
            merged[key] = current[key]
        else:
            merged[key] = value
    return merged


def _channel_snapshot(channel: Channel) -> dict:
    data = {f: getattr(channel, f) for f in CHANNEL_FIELDS}
    data["cost_per_message"] = str(data["cost_per_message"])
    data["settings"] = mask_secrets(channel.settings)
    return data


def channel_save(
    *, actor, channel: Channel | None = None, values: dict, settings: dict | None = None, ip_address: str | None = None
) -> Channel:
    _require_staff(actor)
    with transaction.atomic():
        before = _channel_snapshot(channel) if channel and channel.pk else None
        channel = channel or Channel()
        for field in CHANNEL_FIELDS:
            if field in values:
                setattr(channel, field, values[field])
        if settings is not None:
            channel.settings = merge_settings(channel.settings or {}, settings)
        errors = adapter_settings_errors(channel.adapter, channel.settings or {})
        if errors:
            # The adapter's own rules (SMPP: host, port, credentials, window …): never saved
            # for the connector to trip over later.
            raise Unprocessable("invalid_settings", _("The channel settings are not valid."), fields=errors)
        channel.save()
        audit_record(
            tenant=None,
            actor=actor,
            action="channel.saved",
            obj=channel,
            before=before,
            after=_channel_snapshot(channel),
            ip_address=ip_address,
        )
    return channel


def channel_set_enabled(*, actor, channel: Channel, enabled: bool, ip_address: str | None = None) -> Channel:
    _require_staff(actor)
    with transaction.atomic():
        Channel.objects.filter(pk=channel.pk).update(enabled=enabled, updated_at=timezone.now())
        channel.enabled = enabled
        audit_record(
            tenant=None,
            actor=actor,
            action="channel.enabled" if enabled else "channel.disabled",
            obj=channel,
            ip_address=ip_address,
        )
    return channel


def channel_pins_set(*, actor, channel: Channel, tenants, ip_address: str | None = None) -> Channel:
    _require_staff(actor)
    with transaction.atomic():
        before = sorted(channel.pinned_tenants.values_list("pk", flat=True))
        channel.pinned_tenants.set(tenants)
        after = sorted(channel.pinned_tenants.values_list("pk", flat=True))
        audit_record(
            tenant=None,
            actor=actor,
            action="channel.pins_set",
            obj=channel,
            before={"tenants": before},
            after={"tenants": after},
            ip_address=ip_address,
        )
    return channel


def channel_breaker_reset(*, actor, channel: Channel, ip_address: str | None = None) -> Channel:
    from messaging import breaker

    _require_staff(actor)
    with transaction.atomic():
        breaker.breaker_reset(channel)
        audit_record(tenant=None, actor=actor, action="channel.breaker_reset", obj=channel, ip_address=ip_address)
    return channel
