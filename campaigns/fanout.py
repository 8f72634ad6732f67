"""Fan-out: a campaign's recipients become queued Message rows, set-based and resumable.

The recipients were materialised (unique per campaign and number) at review. The fan-out
walks them by id in chunks; each chunk is one transaction and, in the common case, one
INSERT … SELECT that does everything inside PostgreSQL: it reads the chunk's recipients
with their contacts, renders each text (fixed text, the contact's columns, fixed values
and the signed short link are concatenated in SQL — see Renderer.sql), runs the
compliance gates as correlated index probes (compliance.gates.refusal_sql: suppression,
consent, marketing pause, frequency caps), paces the send times, and inserts the rows into
messaging_message. Values SQL cannot vouch for (anything outside a conservative character
set per variable type, non-string JSON, a template whose segments SQL cannot count) are
rendered and checked by Python for just those rows and inserted by a second statement of
the same shape. Then billing reserves the chunk's queued messages straight from the set
(billing.services.ledger_reserve_new_messages) and the campaign's cursor advances. Python
never holds more than the slow rows of one chunk.

A crash loses at most the chunks in flight, which roll back whole: a restart continues
from the cursor without duplicates. Campaigns without a rate cap build PARALLEL_CHUNKS
chunks at once on their own connections and commit them in order (_fanout_parallel); the
others, and any run inside a caller's transaction, go one chunk at a time. Pause and cancel
take the campaign row lock: a chunk holds it for well under a second, or (in parallel)
only at its commit, which checks the campaign is still running and otherwise rolls back.

Pause and quiet hours use the dispatcher's own rule (it only claims rows whose send_at has
come): held messages get a far-future send_at; resuming re-paces them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.links import code_for, code_sql, short_url_prefix
from campaigns.models import Campaign, CampaignRecipient
from campaigns.schedule import Pacer, window_for
from smsportal.enums import FailureReason, MessageStatus
from smsportal.errors import PaymentRequired

log = logging.getLogger(__name__)

CHUNK = 20_000
# Chunks built side by side (one connection each; see _fanout_parallel). Two keep both CPUs
# of the reference machine busy: one chunk's INSERT … SELECT runs while another commits.
PARALLEL_CHUNKS = 2
HELD_UNTIL = dt.datetime(2999, 1, 1, tzinfo=dt.UTC)

# Values PostgreSQL may render without asking Python, per variable type: a conservative
# subset of what compliance.rules.variables accepts (ASCII digits and letters, CJK
# ideographs; no dot or colon, so never a link; no surrounding whitespace, so strip() is a
# no-op). Anything else goes through value_error in Python, so the SQL path can only be
# stricter, never looser. Types not listed always go through Python.
CJK = "\u4e00-\u9fff"
DATETIME_CHARS = "0-9年月日时分秒点号:：/.-"
FAST_PATTERNS: dict[str, tuple[str, ...]] = {
    "text": (f"^[0-9A-Za-z_{CJK}]+$",),
    "name": (f"^[A-Za-z{CJK}]+$",),
    "number": ("^[0-9]+$",),
    "code": ("^[A-Za-z0-9]{4,6}$",),
    "amount": ("^-?[0-9]{1,12}([.][0-9]{1,2})?$",),
    "datetime": (f"^[{DATETIME_CHARS}]+( [{DATETIME_CHARS}]+)*$", "[0-9]"),
    "link": ("^[A-Za-z0-9._~/?=&%#+-]+$",),
}


def _bmp_only(text: str) -> bool:
    return len(text.encode("utf-16-le")) == 2 * len(text)


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

    def _link_path(self) -> str:
        # A "link" variable holds the path only (the domain is fixed text in the template).
        return self.link_prefix.split("://", 1)[-1].split("/", 1)[-1] if "://" in self.link_prefix else ""

    def _link_value(self, recipient_id: int) -> str:
        return self._link_path() + code_for(recipient_id)

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
        if self.always_ucs2 and _bmp_only(text):
            return (1 if text else 0) if len(text) <= 70 else -(-len(text) // 67)
        from templates.segments import count_segments

        return count_segments(text).segments

    def sql(self, *, row: str) -> tuple[str, list, str, list] | None:
        """The text rendered in SQL for the recipient row alias `row` (columns rid and
        attributes): (text expression, its params, "PostgreSQL may render this row"
        predicate, its params), or None when no row can be rendered in SQL (a text whose
        segments SQL does not count: GSM-7 or outside the BMP; an unknown variable type;
        an invalid fixed value). Rows failing the predicate are rendered by `render`."""
        from compliance.rules.variables import VARIABLE_PATTERN, VARIABLE_TYPES

        fixed_text = self.prefix + VARIABLE_PATTERN.sub("", self.version.body) + self._link_path()
        if not self.always_ucs2 or not _bmp_only(fixed_text):
            return None
        by_name = {name: (kind, key) for name, kind, key in self.sources}
        values: dict[str, tuple[str, list]] = {}
        checks: list[tuple[str, list]] = []
        for name, (kind, key) in by_name.items():
            if kind == "link":
                code, code_params = code_sql(f"{row}.rid")
                values[name] = (f"(%s || {code})", [self._link_path(), *code_params])
            elif kind == "value":
                if not self._value_ok(name, key) or not _bmp_only(key.strip()):
                    return None
                values[name] = ("%s::text", [key.strip()])
            else:
                spec = self.specs.get(name, {})
                type_id = spec.get("type", "text")
                vtype, patterns = VARIABLE_TYPES.get(type_id), FAST_PATTERNS.get(type_id)
                if vtype is None or patterns is None:
                    return None
                value = f"({row}.attributes ->> %s)"
                check = [f"jsonb_typeof({row}.attributes -> %s) = 'string'", f"char_length({value}) <= %s"]
                check_params: list = [key, key, spec.get("max_length") or vtype.default_max_length]
                for pattern in patterns:
                    check.append(f"{value} ~ %s")
                    check_params += [key, pattern]
                if type_id == "link":
                    check.append(f"strpos({value}, '//') = 0 AND lower(left({value}, 4)) <> 'www.'")
                    check_params += [key, key]
                checks.append((" AND ".join(check), check_params))
                values[name] = (value, [key])
        pieces: list[str] = ["%s::text"]
        params: list = [self.prefix]
        position = 0
        for match in VARIABLE_PATTERN.finditer(self.version.body):
            pieces.append("%s::text")
            params.append(self.version.body[position : match.start()])
            if match.group(1) in values:
                expression, expression_params = values[match.group(1)]
                pieces.append(expression)
                params += expression_params
            else:
                pieces.append("%s::text")
                params.append(match.group(0))
            position = match.end()
        pieces.append("%s::text")
        params.append(self.version.body[position:])
        predicate = " AND ".join(f"({sql})" for sql, _params in checks) or "TRUE"
        predicate_params = [value for _sql, check_params in checks for value in check_params]
        return "(" + " || ".join(pieces) + ")", params, predicate, predicate_params

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


# The chunk's recipients with their contacts (a correlated probe per row: never a scan of the
# contact table). Parameters: tenant, campaign, cursor, then the bound (LIMIT or last id).
_RECIPIENTS = """
    SELECT r.id AS rid, r.tenant_id, r.number, coalesce(c.carrier, 'unknown') AS carrier,
           coalesce(c.province, '') AS province, c.attributes
      FROM campaigns_campaignrecipient r
      LEFT JOIN LATERAL (SELECT x.carrier, x.province, x.attributes FROM campaigns_contact x
                          WHERE x.id = r.contact_id AND x.tenant_id = r.tenant_id LIMIT 1) c ON TRUE
     WHERE r.tenant_id = %s AND r.campaign_id = %s AND r.id > %s"""


class _Chunk:
    """SQL for one chunk: the message columns, constants bound once per chunk, the gates."""

    def __init__(self, *, campaign: Campaign, version, renderer: Renderer, now: dt.datetime):
        from compliance import gates
        from messaging.models import PRIORITY_BY_CLASS, Message, lane_for

        self.now = now
        message_class = campaign.message_class
        base = {
            "tenant_id": campaign.tenant_id,
            "created_at": now,
            "updated_at": now,
            "message_class": message_class,
            "lane": lane_for(message_class),
            "priority": PRIORITY_BY_CLASS.get(message_class, 5),
            "template_id": campaign.template_id,
            "template_version_id": version.pk,
            "campaign_id": campaign.pk,
            "accepted_at": now,
            "client_ref": f"campaign-{campaign.pk}",
        }
        self.columns: list[str] = []
        self.constants: dict[str, tuple[str, list]] = {}
        for field in Message._meta.concrete_fields:
            if field.primary_key:
                continue  # the sequence numbers the rows in insertion (recipient id) order
            self.columns.append(field.column)
            value = base[field.column] if field.column in base else field.get_default()
            self.constants[field.column] = (f"%s::{field.db_type(connection)}", [value])
        self.refusal, self.refusal_params = gates.refusal_sql(
            tenant=campaign.tenant,
            message_class=message_class,
            template_id=campaign.template_id,
            number_sql="src.number",
            tenant_sql="src.tenant_id",
            now=now,
        )
        # Rendering in SQL: the predicate reads the recipient subquery `c`, the text `ch`.
        self.fast = renderer.sql(row="c")
        if self.fast is not None:
            self.fast_predicate = (self.fast[2], self.fast[3])
            body = renderer.sql(row="ch")
            self.fast_body = (body[0], body[1])

    def insert(self, *, prelude: str, source: str, params: list, pace, offset: int, tail: str = "") -> tuple[str, list]:
        """One INSERT … SELECT of the rows `source` yields (rid, number, carrier, province,
        body, segments; after the CTEs of `prelude`): gates, status, pacing. Queued rows
        also go to pg_temp.fanout_queued, for the reservation. The statement answers
        (rows inserted, rows queued{tail})."""
        if isinstance(pace, list):
            send_at, send_params, needs_k = "(%s::timestamptz[])[p.k + %s]", [pace, offset], True
        else:
            start, step = pace
            needs_k = bool(step)
            send_at = "%s::timestamptz + (p.k + %s - 1) * %s::interval" if step else "%s::timestamptz"
            send_params = [start, offset, step] if step else [start]
        k = (
            "count(*) FILTER (WHERE g.reason IS NULL) OVER (ORDER BY g.rid ROWS UNBOUNDED PRECEDING)"
            if needs_k
            else "0"
        )
        per_row = {
            "number": ("p.number", []),
            "carrier": ("p.carrier", []),
            "province": ("p.province", []),
            "body": ("p.body", []),
            "segments": ("p.segments", []),
            "status": (
                "CASE WHEN p.reason IS NULL THEN %s ELSE %s END",
                [MessageStatus.QUEUED.value, MessageStatus.REJECTED.value],
            ),
            "failure_reason": ("coalesce(p.reason, '')", []),
            "done_at": ("CASE WHEN p.reason IS NULL THEN NULL ELSE %s::timestamptz END", [self.now]),
            "send_at": (f"CASE WHEN p.reason IS NULL THEN {send_at} END", send_params),
        }
        expressions, expression_params = [], []
        for column in self.columns:
            expression, values = per_row.get(column) or self.constants[column]
            expressions.append(expression)
            expression_params += values
        sql = f"""
            WITH {prelude}
            src AS ({source}),
            g AS MATERIALIZED (SELECT src.*, {self.refusal} AS reason FROM src),
            p AS (SELECT g.*, {k} AS k FROM g),
            ins AS (INSERT INTO messaging_message ({", ".join(self.columns)})
                    SELECT {", ".join(expressions)} FROM p ORDER BY p.rid
                    RETURNING id, segments, message_class, status),
            kept AS (INSERT INTO pg_temp.fanout_queued SELECT id, segments, message_class FROM ins
                      WHERE status = 'queued' RETURNING 1)
            SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM kept){tail}"""  # noqa: S608
        return sql, [*params, *self.refusal_params, *expression_params]


_SEGMENTS_SQL = "CASE WHEN char_length(b.body) <= 70 THEN 1 ELSE (char_length(b.body) + 66) / 67 END"


def _run_chunk(*, locked: Campaign, sql: _Chunk, renderer: Renderer, pacer: Pacer) -> tuple[int, int | None]:
    """Insert the chunk after the cursor; returns (messages queued, last recipient id, or None
    when no recipient is left)."""
    tenant_id, campaign_id, after = locked.tenant_id, locked.pk, locked.fanout_cursor
    pace = pacer.plan(CHUNK)
    queued, last = 0, None
    with connection.cursor() as cursor:
        if sql.fast is not None:
            predicate, predicate_params = sql.fast_predicate
            body, body_params = sql.fast_body
            statement, params = sql.insert(
                prelude=f"""ch AS MATERIALIZED (
                    SELECT c.*, coalesce({predicate}, FALSE) AS fast
                      FROM ({_RECIPIENTS} ORDER BY r.id LIMIT %s) c),""",  # noqa: S608
                source=f"""SELECT ch.rid, ch.tenant_id, ch.number, ch.carrier, ch.province, b.body,
                                  {_SEGMENTS_SQL} AS segments
                             FROM ch CROSS JOIN LATERAL (SELECT {body} AS body) b WHERE ch.fast""",  # noqa: S608
                params=[*predicate_params, tenant_id, campaign_id, after, CHUNK, *body_params],
                pace=pace,
                offset=0,
                tail=", (SELECT max(rid) FROM ch), (SELECT count(*) FROM ch WHERE NOT ch.fast)",
            )
            cursor.execute(statement, params)
            _inserted, queued, last, slow = cursor.fetchone()
            if last is None or not slow:
                return queued, last
            cursor.execute(
                f"""SELECT c.* FROM ({_RECIPIENTS} AND r.id <= %s) c
                     WHERE NOT coalesce({predicate}, FALSE) ORDER BY c.rid""",  # noqa: S608
                [tenant_id, campaign_id, after, last, *predicate_params],
            )
        else:
            cursor.execute(f"{_RECIPIENTS} ORDER BY r.id LIMIT %s", [tenant_id, campaign_id, after, CHUNK])
        slow_rows = cursor.fetchall()
        if last is None:
            if not slow_rows:
                return 0, None
            last = slow_rows[-1][0]
        ids, bodies, segments = [], [], []
        for rid, _tenant, _number, _carrier, _province, attributes in slow_rows:
            rendered = renderer.render(rid, _json(attributes))
            if rendered is not None:  # values that do not fit the template: counted at review, never stored
                ids.append(rid)
                bodies.append(rendered[0])
                segments.append(rendered[1])
        if ids:
            statement, params = sql.insert(
                prelude="",
                source=f"""SELECT ch.rid, ch.tenant_id, ch.number, ch.carrier, ch.province, b.body, b.segments
                             FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS b(rid, body, segments)
                             CROSS JOIN LATERAL ({_RECIPIENTS} AND r.id = b.rid) ch""",  # noqa: S608
                params=[ids, bodies, segments, tenant_id, campaign_id, after],
                pace=pace,
                offset=queued,
            )
            cursor.execute(statement, params)
            queued += cursor.fetchone()[1]
    return queued, last


def _prepare_transaction() -> None:
    with connection.cursor() as cursor:
        # Our statements are index probes by design: no plan should JIT-compile them.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(
            """CREATE TEMP TABLE IF NOT EXISTS fanout_queued
               (message_id bigint, segments int, message_class text) ON COMMIT DELETE ROWS"""
        )


def _reserve_queued(tenant) -> None:
    """Reserve the money for the messages this transaction's chunk queued (pg_temp.fanout_queued)."""
    from billing.services import ledger_reserve_new_messages

    ledger_reserve_new_messages(
        tenant=tenant,
        source_sql="SELECT message_id, segments, message_class FROM pg_temp.fanout_queued",
        fresh=True,  # this transaction's chunk inserted them
    )


def _pause_for_balance(campaign: Campaign, error: PaymentRequired) -> None:
    Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.RUNNING).update(
        status=Campaign.Status.PAUSED,
        paused_at=timezone.now(),
        error_message=str(error.message)[:500],
        updated_at=timezone.now(),
    )
    hold_queued(campaign)


def campaign_fanout_run(*, campaign_id: int) -> int:
    """Turn the campaign's remaining recipients into messages; returns how many were queued."""
    from templates.models import TemplateVersion

    campaign = Campaign.objects.select_related("tenant").get(pk=campaign_id)
    if campaign.status != Campaign.Status.RUNNING or campaign.fanout_status == Campaign.Fanout.DONE:
        return 0
    tenant = campaign.tenant
    version = TemplateVersion.objects.select_related("template__signature").get(pk=campaign.template_version_id)
    renderer = Renderer(campaign=campaign, version=version)
    window = window_for(tenant=tenant, message_class=campaign.message_class, respect=campaign.respect_quiet_hours)
    pacer = Pacer(start=_pace_start(campaign), rate_per_minute=campaign.rate_per_minute, window=window)
    if PARALLEL_CHUNKS > 1 and not pacer.step and not connection.in_atomic_block:
        return _fanout_parallel(campaign, version=version, renderer=renderer, pacer=pacer)
    queued_total = 0
    while True:
        try:
            with transaction.atomic():
                locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
                if locked.status != Campaign.Status.RUNNING:
                    return queued_total  # paused or cancelled: stop here, the cursor is kept
                _prepare_transaction()
                chunk = _Chunk(campaign=locked, version=version, renderer=renderer, now=timezone.now())
                queued, last = _run_chunk(locked=locked, sql=chunk, renderer=renderer, pacer=pacer)
                if last is None:
                    locked.fanout_status = Campaign.Fanout.DONE
                    locked.save(update_fields=["fanout_status", "updated_at"])
                    return queued_total
                if queued:
                    _reserve_queued(tenant)
                pacer.advance(queued)
                locked.fanout_cursor = last
                locked.queued_count += queued
                locked.save(update_fields=["fanout_cursor", "queued_count", "updated_at"])
                queued_total += queued
        except PaymentRequired as error:
            _pause_for_balance(campaign, error)
            return queued_total


class _ChunkRange:
    """What _run_chunk reads of the campaign: whose recipients, and after which id."""

    def __init__(self, campaign: Campaign, after: int):
        self.tenant_id, self.pk, self.fanout_cursor = campaign.tenant_id, campaign.pk, after


class _Turns:
    """Chunks run side by side but commit in order, one after another: chunk n commits only
    after chunk n − 1 did, so the campaign's cursor always marks a gap-free prefix and a
    crash still loses only uncommitted chunks. The first failure stops every later chunk."""

    def __init__(self, start: int):
        self.condition = threading.Condition()
        self.next_after = start  # where the next chunk to hand out begins
        self.handed = 0
        self.committed = 0
        self.exhausted = False
        self.error: BaseException | None = None
        self.queued = 0

    def take(self, campaign: Campaign) -> tuple[int, int, bool] | None:
        """(chunk number, the id it starts after, whether it is the last), or None when
        nothing is left."""
        with self.condition:
            if self.exhausted or self.error is not None:
                return None
            number, after = self.handed, self.next_after
            with connection.cursor() as cursor:
                cursor.execute(
                    """SELECT id FROM campaigns_campaignrecipient WHERE tenant_id = %s AND campaign_id = %s
                        AND id > %s ORDER BY id OFFSET %s LIMIT 1""",
                    [campaign.tenant_id, campaign.pk, after, CHUNK - 1],
                )
                row = cursor.fetchone()
            if row is None:
                self.exhausted = True  # this is the last chunk (or an empty one)
            else:
                self.next_after = row[0]
            self.handed += 1
            return number, after, self.exhausted

    def wait_turn(self, number: int) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.committed == number or self.error is not None)
            if self.error is not None:
                raise _Stopped

    def done(self, number: int, queued: int) -> None:
        with self.condition:
            self.committed = number + 1
            self.queued += queued
            self.condition.notify_all()

    def fail(self, error: BaseException) -> None:
        with self.condition:
            if self.error is None:
                self.error = error
            self.condition.notify_all()


class _Stopped(Exception):
    """An earlier chunk failed or the campaign stopped running: roll this one back."""


def _fanout_parallel(campaign: Campaign, *, version, renderer: Renderer, pacer: Pacer) -> int:
    """The fan-out on PARALLEL_CHUNKS connections: each builds its chunk (the INSERT … SELECT,
    nearly all of a chunk's time) while the others build theirs; the short tail — reserving
    the money, moving the cursor, committing — runs in chunk order (_Turns). Only for
    campaigns without a rate cap: their messages all get the same send time, so a chunk
    needs nothing from the chunks before it."""

    turns = _Turns(start=campaign.fanout_cursor)

    def work() -> None:
        try:
            while (taken := turns.take(campaign)) is not None:
                number, after, final = taken
                with transaction.atomic():
                    status = Campaign.objects.filter(pk=campaign.pk).values_list("status", flat=True).first()
                    if status != Campaign.Status.RUNNING:
                        raise _Stopped
                    _prepare_transaction()
                    chunk = _Chunk(campaign=campaign, version=version, renderer=renderer, now=timezone.now())
                    queued, last = _run_chunk(
                        locked=_ChunkRange(campaign, after), sql=chunk, renderer=renderer, pacer=pacer
                    )
                    turns.wait_turn(number)
                    if queued:
                        _reserve_queued(campaign.tenant)
                    moved = Campaign.objects.filter(
                        pk=campaign.pk, status=Campaign.Status.RUNNING, fanout_cursor=after
                    ).update(
                        fanout_cursor=after if last is None else last,
                        queued_count=F("queued_count") + queued,
                        fanout_status=Campaign.Fanout.DONE if final else F("fanout_status"),
                        updated_at=timezone.now(),
                    )
                    if not moved:  # paused or cancelled meanwhile: nothing of this chunk stays
                        raise _Stopped
                turns.done(number, queued)
        except BaseException as error:  # handed to the caller through `turns`
            turns.fail(error)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=work, name=f"fanout-{n}") for n in range(PARALLEL_CHUNKS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if isinstance(turns.error, PaymentRequired):
        _pause_for_balance(campaign, turns.error)
    elif turns.error is not None and not isinstance(turns.error, _Stopped):
        raise turns.error
    return turns.queued


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
