"""Fan-out: a campaign's recipients become queued Message rows, set-based and resumable.

The recipients were materialised (unique per campaign and number) at review. The fan-out
walks them by id in chunks; each chunk is one transaction that runs the compliance gates on
the chunk's numbers (a few array queries, never one per number), renders the texts, takes
ids from the message sequence, COPYs the rows into messaging_message, reserves their cost
(billing.ledger_reserve_batch) and advances the campaign's cursor. A crash loses at most
the chunk in flight, which rolls back whole: a restart continues from the cursor without
duplicates. Memory holds one chunk.

Pause and quiet hours use the dispatcher's own rule (it only claims rows whose send_at has
come): held messages get a far-future send_at; resuming re-paces them.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.utils import timezone

from campaigns.links import code_for, short_url_prefix
from campaigns.models import Campaign, CampaignRecipient
from campaigns.schedule import Pacer, window_for
from smsportal.enums import FailureReason, MessageStatus
from smsportal.errors import PaymentRequired

log = logging.getLogger(__name__)

CHUNK = 20_000
HOLD_FIRST = 20_000  # held first, in one small statement: more than any lane claims in a few seconds
HELD_UNTIL = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)


class Renderer:
    """Per-recipient text: variables from the contact's columns, fixed values, and the
    tracked short link; each checked against the template's declarations."""

    def __init__(self, *, campaign: Campaign, version):
        from templates.rendering import signature_prefix

        self.campaign = campaign
        self.version = version
        self.prefix = signature_prefix(version.template.signature.name)
        self.declared = [spec["name"] for spec in version.variables or []]
        self.sources: list[tuple[str, str, str]] = []  # (variable, "column"|"value"|"link", key or value)
        for name in self.declared:
            source = (campaign.variables or {}).get(name)
            if name == campaign.link_variable:
                self.sources.append((name, "link", ""))
            elif isinstance(source, dict) and "value" in source:
                self.sources.append((name, "value", str(source["value"])))
            elif isinstance(source, dict) and "column" in source:
                self.sources.append((name, "column", str(source["column"])))
            else:
                self.sources.append((name, "column", name))
        self.link_prefix = short_url_prefix() if campaign.link_variable else ""
        self.specs = {spec["name"]: spec for spec in version.variables or []}
        from compliance.rules.variables import VARIABLE_PATTERN
        from templates.segments import count_segments

        fixed = self.prefix + VARIABLE_PATTERN.sub("", version.body)
        self.always_ucs2 = count_segments(fixed).encoding == "UCS-2"
        self.sample: dict = {}
        self._checked: dict[tuple, bool] = {}

    def variables_for(self, recipient_id: int, attributes: dict) -> dict:
        values = {}
        for name, kind, key in self.sources:
            if kind == "value":
                values[name] = key
            elif kind == "link":
                values[name] = self._link_value(recipient_id)
            else:
                values[name] = (attributes or {}).get(key, "")
        return values

    def _link_value(self, recipient_id: int) -> str:
        # A "link" variable holds the path only (the domain is fixed text in the template).
        path = self.link_prefix.split("://", 1)[-1].split("/", 1)[-1] if "://" in self.link_prefix else ""
        return path + code_for(recipient_id)

    def render(self, recipient_id: int, attributes: dict) -> tuple[str, int] | None:
        """(text, segments), or None when the contact's values do not fit the template."""
        from templates.rendering import fill_body

        values = self.variables_for(recipient_id, attributes)
        for name, kind, _key in self.sources:
            if kind != "link" and not self._value_ok(name, values[name]):
                return None
        text = self.prefix + fill_body(self.version.body, values)
        if not self.sample:
            self.sample = {"text": text}
        return text, self.segments(text)

    def _value_ok(self, name: str, value) -> bool:
        """templates' own per-variable check (the rule validate_variables applies), memoised
        per (variable, value): most columns repeat their values across a list."""
        key = (name, value)
        known = self._checked.get(key)
        if known is None:
            from compliance.rules.variables import value_error

            spec = self.specs.get(name, {})
            if value is None or isinstance(value, bool) or not isinstance(value, str | int | float):
                known = False
            else:
                known = value_error(spec.get("type", "text"), str(value).strip(), spec.get("max_length")) is None
            if len(self._checked) < 200_000:
                self._checked[key] = known
        return known

    def segments(self, text: str) -> int:
        # A Chinese text is UCS-2 whatever the values are; with no character outside the BMP
        # every UTF-16 unit is one character and the parts are simply 70 / 67 each — the same
        # answer count_segments gives (checked in the tests), at a fraction of the cost.
        if self.always_ucs2 and len(text.encode("utf-16-le")) == 2 * len(text):
            return (1 if text else 0) if len(text) <= 70 else -(-len(text) // 67)
        from templates.segments import count_segments

        return count_segments(text).segments

    def sample_variables(self, *, tenant) -> dict:
        first = (
            CampaignRecipient.objects.filter(tenant=tenant, campaign=self.campaign).order_by("id").first()
            if self.campaign.pk
            else None
        )
        attributes = {}
        if first and first.contact_id:
            from campaigns.models import Contact

            contact = Contact.objects.filter(tenant=tenant, pk=first.contact_id).first()
            attributes = contact.attributes if contact else {}
        values = self.variables_for(first.pk if first else 0, attributes)
        examples = {spec["name"]: spec.get("example", "") for spec in self.version.variables or []}
        return {name: (value if value != "" else examples.get(name, "")) for name, value in values.items()}


def recipient_chunks(campaign: Campaign, *, after: int, size: int = CHUNK):
    """(recipient id, number, carrier, province, attributes) in id order, one chunk at a time."""
    last = after
    while True:
        chunk = _recipient_chunk(campaign, after=last, size=size)
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _recipient_chunk(campaign: Campaign, *, after: int, size: int) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT r.id, r.number, coalesce(c.carrier, 'unknown'), coalesce(c.province, ''),
                      coalesce(c.attributes, '{}'::jsonb)
                 FROM campaigns_campaignrecipient r
                 LEFT JOIN campaigns_contact c ON c.id = r.contact_id AND c.tenant_id = r.tenant_id
                WHERE r.tenant_id = %s AND r.campaign_id = %s AND r.id > %s
                ORDER BY r.id LIMIT %s""",
            [campaign.tenant_id, campaign.pk, after, size],
        )
        return [(rid, number, carrier, province, _json(attrs)) for rid, number, carrier, province, attrs in cursor]


def _json(value):
    if isinstance(value, str):
        import json

        return json.loads(value)
    return value or {}


def _message_columns():
    from messaging.models import Message

    return list(Message._meta.concrete_fields)


def campaign_fanout_run(*, campaign_id: int) -> int:
    """Turn the campaign's remaining recipients into messages; returns how many were queued."""
    from compliance import gates
    from messaging.models import PRIORITY_BY_CLASS, lane_for
    from templates.models import TemplateVersion

    campaign = Campaign.objects.select_related("tenant").get(pk=campaign_id)
    if campaign.status != Campaign.Status.RUNNING or campaign.fanout_status == Campaign.Fanout.DONE:
        return 0
    tenant = campaign.tenant
    version = TemplateVersion.objects.select_related("template__signature").get(pk=campaign.template_version_id)
    renderer = Renderer(campaign=campaign, version=version)
    window = window_for(tenant=tenant, message_class=campaign.message_class, respect=campaign.respect_quiet_hours)
    pacer = Pacer(start=_pace_start(campaign), rate_per_minute=campaign.rate_per_minute, window=window)
    message_class = campaign.message_class
    lane, priority = lane_for(message_class), PRIORITY_BY_CLASS.get(message_class, 5)
    fields = _message_columns()
    columns = [field.column for field in fields]
    queued_total = 0
    while True:
        try:
            with transaction.atomic():
                locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
                if locked.status != Campaign.Status.RUNNING:
                    return queued_total  # paused or cancelled: stop here, the cursor is kept
                chunk = _recipient_chunk(locked, after=locked.fanout_cursor, size=CHUNK)
                if not chunk:
                    locked.fanout_status = Campaign.Fanout.DONE
                    locked.save(update_fields=["fanout_status", "updated_at"])
                    return queued_total
                now = timezone.now()
                numbers = [row[1] for row in chunk]
                refused = gates.blocked_numbers(tenant=tenant, numbers=numbers, message_class=message_class)
                free = [n for n in numbers if n not in refused]
                if free:
                    capped = gates.frequency_capped(
                        tenant=tenant,
                        numbers=free,
                        message_class=message_class,
                        template_id=campaign.template_id,
                        now=now,
                    )
                    refused.update(dict.fromkeys(capped, FailureReason.RATE_LIMITED.value))
                base = {
                    "tenant_id": tenant.pk,
                    "created_at": now,
                    "updated_at": now,
                    "message_class": message_class,
                    "lane": lane,
                    "priority": priority,
                    "template_id": campaign.template_id,
                    "template_version_id": version.pk,
                    "campaign_id": campaign.pk,
                    "accepted_at": now,
                    "client_ref": f"campaign-{campaign.pk}",
                }
                defaults = {field.column: field.get_default() for field in fields if field.column not in base}
                rows, reserve_items = [], []
                ids = _take_ids(len(chunk))
                template_row = [{**defaults, **base}.get(column) for column in columns]
                at = {column: index for index, column in enumerate(columns)}
                i_id, i_number, i_carrier, i_province = at["id"], at["number"], at["carrier"], at["province"]
                i_body, i_segments, i_status, i_send_at = at["body"], at["segments"], at["status"], at["send_at"]
                i_reason, i_done_at = at["failure_reason"], at["done_at"]
                queued, rejected = MessageStatus.QUEUED.value, MessageStatus.REJECTED.value
                for (recipient_id, number, carrier, province, attributes), message_id in zip(chunk, ids, strict=True):
                    rendered = renderer.render(recipient_id, attributes)
                    if rendered is None:
                        continue  # values that do not fit the template: counted at review, never stored
                    body, segments = rendered
                    row = template_row.copy()
                    row[i_id], row[i_number], row[i_carrier], row[i_province] = message_id, number, carrier, province
                    row[i_body], row[i_segments] = body, segments
                    reason = refused.get(number)
                    if reason:
                        row[i_status], row[i_reason], row[i_done_at] = rejected, reason, now
                    else:
                        row[i_status], row[i_send_at] = queued, pacer.next()
                        reserve_items.append((message_id, segments, message_class))
                    rows.append(row)
                copy_sql = f"COPY messaging_message ({', '.join(columns)}) FROM STDIN"
                with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
                if reserve_items:
                    from billing.services import ledger_reserve_batch

                    ledger_reserve_batch(tenant=tenant, items=reserve_items)
                locked.fanout_cursor = chunk[-1][0]
                locked.queued_count += len(reserve_items)
                locked.save(update_fields=["fanout_cursor", "queued_count", "updated_at"])
                queued_total += len(reserve_items)
        except PaymentRequired as error:
            Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).update(
                status=Campaign.Status.PAUSED,
                paused_at=timezone.now(),
                error_message=str(error.message)[:500],
                updated_at=timezone.now(),
            )
            hold_queued(campaign)
            return queued_total


def _take_ids(count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence('messaging_message', 'id')) FROM generate_series(1, %s)", [count]
        )
        return [row[0] for row in cursor.fetchall()]


def _pace_start(campaign: Campaign) -> dt.datetime:
    """Carry on where the last queued message of this campaign was paced (after a restart)."""
    now = timezone.now()
    if not campaign.rate_per_minute:
        return now
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT max(send_at) FROM messaging_message WHERE tenant_id = %s AND campaign_id = %s AND send_at < %s",
            [campaign.tenant_id, campaign.pk, HELD_UNTIL],
        )
        last = cursor.fetchone()[0]
    if last is None:
        return now
    return max(now, last + dt.timedelta(minutes=1) / campaign.rate_per_minute)


# --- Holding and releasing ----------------------------------------------------------------
def hold_queued(campaign: Campaign, *, first: int | None = None) -> int:
    """Hold the campaign's queued messages (all, or the `first` next in line)."""
    limit = "ORDER BY id LIMIT %s" if first else ""
    params = [HELD_UNTIL, campaign.tenant_id, campaign.pk, HELD_UNTIL] + ([first] if first else [])
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE messaging_message SET send_at = %s, updated_at = now()
                 WHERE id IN (SELECT id FROM messaging_message
                               WHERE tenant_id = %s AND campaign_id = %s AND status = 'queued'
                                 AND (send_at IS NULL OR send_at < %s) {limit})""",  # noqa: S608
            params,
        )
        return cursor.rowcount


def release_held(campaign: Campaign) -> int:
    """Give held messages send times again: from now, at the rate cap, inside the window."""
    window = window_for(
        tenant=campaign.tenant, message_class=campaign.message_class, respect=campaign.respect_quiet_hours
    )
    pacer = Pacer(start=timezone.now(), rate_per_minute=campaign.rate_per_minute, window=window)
    released = 0
    with connection.cursor() as cursor:
        if not campaign.rate_per_minute:
            cursor.execute(
                """UPDATE messaging_message SET send_at = %s, updated_at = now()
                    WHERE tenant_id = %s AND campaign_id = %s AND status = 'queued' AND send_at >= %s""",
                [pacer.next(), campaign.tenant_id, campaign.pk, HELD_UNTIL],
            )
            return cursor.rowcount
        last = 0
        while True:
            cursor.execute(
                """SELECT id FROM messaging_message
                    WHERE tenant_id = %s AND campaign_id = %s AND status = 'queued' AND send_at >= %s AND id > %s
                    ORDER BY id LIMIT %s""",
                [campaign.tenant_id, campaign.pk, HELD_UNTIL, last, CHUNK],
            )
            ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return released
            times = [pacer.next() for _ in ids]
            cursor.execute(
                """UPDATE messaging_message m SET send_at = v.send_at, updated_at = now()
                     FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, send_at) WHERE m.id = v.id""",
                [ids, times],
            )
            released += len(ids)
            last = ids[-1]


def hold_outside_window(campaign: Campaign, *, now=None) -> int:
    """When the send window has closed, the backlog that was due waits for the next opening."""
    window = window_for(
        tenant=campaign.tenant, message_class=campaign.message_class, respect=campaign.respect_quiet_hours
    )
    now = now or timezone.now()
    if window is None or window.is_open(now):
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE messaging_message SET send_at = %s, updated_at = now()
                WHERE tenant_id = %s AND campaign_id = %s AND status = 'queued'
                  AND (send_at IS NULL OR send_at <= %s)""",
            [window.next_open(now), campaign.tenant_id, campaign.pk, now],
        )
        return cursor.rowcount


def cancel_queued(campaign: Campaign) -> int:
    """Cancel unsent messages chunk by chunk, releasing each chunk's reserves with it."""
    from billing.services import ledger_release_batch

    cancelled = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    """WITH picked AS (
                           SELECT id FROM messaging_message
                            WHERE tenant_id = %s AND campaign_id = %s AND status = 'queued'
                            ORDER BY id LIMIT %s FOR UPDATE)
                       UPDATE messaging_message m
                          SET status = 'rejected', failure_reason = %s, done_at = now(), updated_at = now()
                         FROM picked WHERE m.id = picked.id
                       RETURNING m.id""",
                    [campaign.tenant_id, campaign.pk, CHUNK, FailureReason.CANCELLED.value],
                )
                ids = [row[0] for row in cursor.fetchall()]
            if not ids:
                return cancelled
            ledger_release_batch(items=[(campaign.tenant_id, message_id) for message_id in ids])
            cancelled += len(ids)


def has_unsent(campaign: Campaign) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT EXISTS (SELECT 1 FROM messaging_message WHERE tenant_id = %s AND campaign_id = %s
                               AND status IN ('queued', 'submitting'))""",
            [campaign.tenant_id, campaign.pk],
        )
        return cursor.fetchone()[0]
