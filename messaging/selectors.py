"""Reads of the messaging app: message log filters, a message's timeline, inbound replies,
channels with their recent counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from messaging.models import (
    DUE,
    PRIORITY_BY_CLASS,
    Channel,
    ChannelMinute,
    InboundMessage,
    Message,
    ReceiptRaw,
    lane_for,
)
from smsportal.enums import MessageStatus
from smsportal.errors import NotFound
from smsportal.numbers import InvalidNumber, normalize


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        return None


@dataclass
class MessageFilters:
    status: str = ""
    number: str = ""
    date_from: date | None = None
    date_to: date | None = None
    template: int | None = None
    campaign: int | None = None
    client_ref: str = ""
    zone: str = "Asia/Shanghai"
    errors: dict = field(default_factory=dict)

    @classmethod
    def from_params(cls, params, *, tenant) -> MessageFilters:
        filters = cls(zone=getattr(tenant, "timezone", "") or "Asia/Shanghai")
        status = (params.get("status") or "").strip()
        if status:
            if status in MessageStatus.values:
                filters.status = status
            else:
                filters.errors["status"] = [_("Unknown status.")]
        number = (params.get("number") or "").strip()
        if number:
            try:
                filters.number = normalize(number).e164
            except InvalidNumber:
                filters.number = number  # a partial number: matched as a suffix
        for name in ("date_from", "date_to"):
            raw = (params.get(name) or "").strip()
            if raw:
                parsed = _parse_date(raw)
                if parsed is None:
                    filters.errors[name] = [_("Use the form YYYY-MM-DD.")]
                setattr(filters, name, parsed)
        for name in ("template", "campaign"):
            raw = (params.get(name) or "").strip()
            if raw:
                if raw.isdigit():
                    setattr(filters, name, int(raw))
                else:
                    filters.errors[name] = [_("Must be a number.")]
        filters.client_ref = (params.get("client_ref") or "").strip()[:100]
        return filters

    def apply(self, queryset: QuerySet[Message]) -> QuerySet[Message]:
        zone = ZoneInfo(self.zone)
        if self.status:
            queryset = queryset.filter(status=self.status)
        if self.number:
            if self.number.startswith("+"):
                queryset = queryset.filter(number=self.number)
            else:
                queryset = queryset.filter(number__endswith=self.number)
        if self.date_from:
            queryset = queryset.filter(accepted_at__gte=datetime.combine(self.date_from, time.min, zone))
        if self.date_to:
            queryset = queryset.filter(
                accepted_at__lt=datetime.combine(self.date_to + timedelta(days=1), time.min, zone)
            )
        if self.template:
            queryset = queryset.filter(template_id=self.template)
        if self.campaign:
            queryset = queryset.filter(campaign_id=self.campaign)
        if self.client_ref:
            queryset = queryset.filter(client_ref=self.client_ref)
        return queryset


def message_list(*, tenant, filters: MessageFilters | None = None) -> QuerySet[Message]:
    queryset = Message.objects.for_tenant(tenant).select_related("template", "channel").order_by("-id")
    return filters.apply(queryset) if filters else queryset


def message_get(*, tenant, message_id) -> Message:
    try:
        return Message.objects.for_tenant(tenant).select_related("template", "channel").get(pk=int(message_id))
    except (Message.DoesNotExist, TypeError, ValueError):
        raise NotFound("message_not_found", _("No such message.")) from None


@dataclass
class TimelineStep:
    at: datetime | None
    label: str
    detail: str = ""
    state: str = "ok"  # ok / bad / warn / pending


def message_timeline(*, tenant, message: Message) -> list[TimelineStep]:
    """What happened to a message, in order: accepted, routed, submitted, receipts, outcome, cost."""
    steps = [TimelineStep(message.accepted_at, _("Accepted"), _("%(n)d segment(s)") % {"n": message.segments})]
    if message.status == MessageStatus.REJECTED:
        steps.append(TimelineStep(message.done_at, _("Rejected"), message.get_failure_reason_display() or "", "bad"))
        return steps
    if message.send_at:
        steps.append(TimelineStep(message.send_at, _("Scheduled for"), "", "pending"))
    if message.channel_id:
        steps.append(
            TimelineStep(None, _("Routed to %(channel)s") % {"channel": message.channel.name}, message.route_reason)
        )
    if message.submitted_at:
        steps.append(TimelineStep(message.submitted_at, _("Submitted to the carrier"), message.channel_ref))
    elif message.status in (MessageStatus.QUEUED, MessageStatus.SUBMITTING):
        steps.append(TimelineStep(None, _("Waiting to be sent"), message.get_status_display(), "pending"))
    receipts = ReceiptRaw.objects.filter(message_id=message.pk).order_by("reported_at", "id")[:20]
    for receipt in receipts:
        part = "" if receipt.part_index is None else _(" (part %(n)d)") % {"n": receipt.part_index + 1}
        steps.append(
            TimelineStep(
                receipt.reported_at, _("Receipt") + part, receipt.raw_status, "ok" if receipt.delivered else "bad"
            )
        )
    if message.status == MessageStatus.DELIVERED:
        latency = ""
        if message.submitted_at and message.done_at:
            latency = _("%(s).1f s after submit") % {"s": (message.done_at - message.submitted_at).total_seconds()}
        steps.append(TimelineStep(message.done_at, _("Delivered"), latency, "ok"))
    elif message.status in (MessageStatus.FAILED, MessageStatus.EXPIRED):
        steps.append(
            TimelineStep(message.done_at, message.get_status_display(), message.get_failure_reason_display(), "bad")
        )
    elif message.status == MessageStatus.SUBMITTED:
        steps.append(TimelineStep(None, _("Waiting for the receipt"), "", "pending"))
    try:
        from billing.selectors import message_cost

        cost = message_cost(tenant=tenant, message_id=message.pk)
    except ImportError:
        cost = None
    if cost is not None:
        steps.append(TimelineStep(None, _("Cost"), f"¥{cost}"))
    return steps


def inbound_list(*, tenant) -> QuerySet[InboundMessage]:
    return InboundMessage.objects.for_tenant(tenant).select_related("channel").order_by("-id")


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related("pinned_tenants").order_by("name")


def channel_get(channel_id) -> Channel:
    try:
        return Channel.objects.get(pk=int(channel_id))
    except (Channel.DoesNotExist, TypeError, ValueError):
        raise NotFound("channel_not_found", _("No such channel.")) from None


def channel_recent_counts(*, minutes: int = 15, now=None) -> dict[int, dict]:
    now = now or timezone.now()
    rows = ChannelMinute.objects.filter(minute__gte=now - timedelta(minutes=minutes)).values("channel_id").order_by()
    from django.db.models import Sum

    totals = rows.annotate(
        submitted=Sum("submitted"),
        submit_errors=Sum("submit_errors"),
        delivered=Sum("delivered"),
        failed=Sum("failed"),
        expired=Sum("expired"),
        latency_ms_sum=Sum("latency_ms_sum"),
        latency_count=Sum("latency_count"),
    )
    result = {}
    for row in totals:
        outcomes = (row["delivered"] or 0) + (row["failed"] or 0) + (row["expired"] or 0)
        row["delivery_rate"] = (row["delivered"] / outcomes) if outcomes else None
        row["mean_latency_s"] = (row["latency_ms_sum"] / row["latency_count"] / 1000) if row["latency_count"] else None
        result[row["channel_id"]] = row
    return result


def lane_backlog() -> dict[str, dict]:
    """Due queued messages per lane and how long the oldest has waited since it was due (what
    the watch alerts on), read within the queue index's bounds, priority by priority."""
    pairs = sorted({(lane_for(message_class), priority) for message_class, priority in PRIORITY_BY_CLASS.items()})
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT k.lane, sum(q.n), min(q.oldest)
                  FROM unnest(%s::text[], %s::int[]) AS k(lane, priority)
                  CROSS JOIN LATERAL (SELECT count(*) AS n, min({DUE}) AS oldest FROM messaging_message
                                       WHERE status = 'queued' AND lane = k.lane AND priority = k.priority
                                         AND {DUE} <= %s) q
                 GROUP BY k.lane HAVING sum(q.n) > 0""",  # noqa: S608 (fixed fragments; values are bound)
            [[p[0] for p in pairs], [p[1] for p in pairs], now],
        )
        return {
            lane: {"queued": count, "oldest_age_s": (now - oldest).total_seconds() if oldest else 0}
            for lane, count, oldest in cursor.fetchall()
        }
