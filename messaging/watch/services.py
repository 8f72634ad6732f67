"""The watch: one idempotent pass of health checks, incidents, and operator actions."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from compliance.audit import audit_record
from messaging.models import BreakerState, Channel
from messaging.watch import alerts
from messaging.watch.health import (
    FIRST_RUN_RECEIPT_SPAN,
    WATCHED_CLASSES,
    channel_health,
    current_receipt_watermark,
    lane_backlogs,
    min_delivery_rate,
    min_sample,
    window_minutes,
)
from messaging.watch.models import ChannelHealthSnapshot, Incident, ProviderCodeMapping, WatchRun
from smsportal.enums import ARRIVAL_TARGET_SECONDS, FailureReason, MessageClass
from smsportal.errors import Forbidden, NotFound, ServiceError

Kind = Incident.Kind


@dataclass(frozen=True)
class Condition:
    """Something wrong right now. (kind, subject) identifies it across runs."""

    kind: str
    subject: str
    summary: str
    details: dict
    channel_id: int | None = None
    lane: str = ""
    message_class: str = ""


def _require_staff(actor) -> None:
    if not getattr(actor, "is_staff", False):
        raise Forbidden("staff_only", _("Only platform staff can do this."))


def _receipt_window(now: datetime, upto: int) -> int:
    """The watermark of the run one window ago: receipts after it arrived in the window."""
    earlier = (
        WatchRun.objects.filter(taken_at__lte=now - timedelta(minutes=window_minutes()))
        .order_by("-taken_at")
        .values_list("receipt_watermark", flat=True)
        .first()
    )
    if earlier is None:
        earlier = WatchRun.objects.order_by("taken_at").values_list("receipt_watermark", flat=True).first()
    if earlier is None:
        earlier = max(0, upto - FIRST_RUN_RECEIPT_SPAN)
    return earlier


def conditions_now(health, backlogs) -> list[Condition]:
    found = []
    threshold = min_delivery_rate()
    for row in health.values():
        if not row.enabled:
            continue
        if row.breaker_state != BreakerState.CLOSED:
            found.append(
                Condition(
                    Kind.BREAKER_OPEN,
                    f"channel:{row.channel_id}",
                    _("Channel %(name)s: circuit breaker %(state)s") % {"name": row.name, "state": row.breaker_state},
                    {"breaker_state": row.breaker_state, "submit_errors": row.submit_errors},
                    channel_id=row.channel_id,
                )
            )
        rate = row.delivery_rate
        if rate is not None and rate < threshold:
            found.append(
                Condition(
                    Kind.LOW_DELIVERY_RATE,
                    f"channel:{row.channel_id}",
                    _("Channel %(name)s: delivery rate %(rate).1f%% (threshold %(threshold).1f%%)")
                    % {"name": row.name, "rate": rate * 100, "threshold": threshold * 100},
                    {"delivery_rate": round(rate, 4), "delivered": row.delivered, "finals": row.finals},
                    channel_id=row.channel_id,
                )
            )
        for message_class in WATCHED_CLASSES:
            count, p95 = row.arrival_by_class.get(message_class, (0, None))
            target_ms = ARRIVAL_TARGET_SECONDS[message_class] * 1000
            if count >= min_sample() and p95 is not None and p95 > target_ms:
                found.append(
                    Condition(
                        Kind.SLOW_ARRIVAL,
                        f"channel:{row.channel_id}:{message_class}",
                        _("Channel %(name)s: %(cls)s arrive in %(p95).1f s at p95 (target %(target)s s)")
                        % {
                            "name": row.name,
                            "cls": MessageClass(message_class).label,
                            "p95": p95 / 1000,
                            "target": target_ms // 1000,
                        },
                        {"arrival_p95_ms": p95, "target_ms": target_ms, "sample": count},
                        channel_id=row.channel_id,
                        message_class=message_class,
                    )
                )
    for backlog in backlogs:
        if backlog.late:
            found.append(
                Condition(
                    Kind.LANE_BACKLOG,
                    f"class:{backlog.message_class}",
                    _("%(cls)s waiting %(age).1f s in the %(lane)s lane (target %(target)s s, %(count)s queued)")
                    % {
                        "cls": MessageClass(backlog.message_class).label,
                        "age": backlog.oldest_age_seconds,
                        "lane": backlog.lane,
                        "target": backlog.target_seconds,
                        "count": backlog.queued,
                    },
                    {
                        "oldest_age_seconds": round(backlog.oldest_age_seconds, 1),
                        "target_seconds": backlog.target_seconds,
                        "queued": backlog.queued,
                    },
                    lane=backlog.lane,
                    message_class=backlog.message_class,
                )
            )
    return found


def _open_incidents(conditions: list[Condition], now: datetime) -> list[int]:
    """ONE multi-row INSERT … ON CONFLICT DO NOTHING against the partial unique index: a
    condition already open inserts nothing. Returns the ids of incidents opened now."""
    if not conditions:
        return []
    rows = ",".join(
        ["(%s, %s, %s::bigint, %s, %s, %s, %s::jsonb, %s::timestamptz, %s::timestamptz, '[]'::jsonb)"] * len(conditions)
    )
    params = []
    for c in conditions:
        params += [c.kind, c.subject, c.channel_id, c.lane, c.message_class, c.summary[:300]]
        params += [json.dumps(c.details), now, now]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO watch_incident (kind, subject, channel_id, lane, message_class, summary, details,
                                        started_at, last_seen_at, notifications)
            SELECT v.kind, v.subject, v.channel_id, v.lane, v.message_class, v.summary, v.details,
                   v.started_at, v.last_seen_at, '[]'::jsonb
              FROM (VALUES {rows}) AS v(kind, subject, channel_id, lane, message_class, summary, details,
                                        started_at, last_seen_at, notifications)
            ON CONFLICT (kind, subject) WHERE resolved_at IS NULL DO NOTHING
            RETURNING id
            """,  # noqa: S608 - placeholders only
            params,
        )
        return [row[0] for row in cursor.fetchall()]


@dataclass
class RunReport:
    run: WatchRun
    opened: list[Incident]
    resolved: list[Incident]
    overdue: list[Incident] = field(default_factory=list)


def watch_run(*, now: datetime | None = None, notify: bool = True) -> RunReport:
    """One pass: snapshot every channel's health, open one incident per new condition (an
    already-open one is only marked seen), resolve those whose condition cleared, alert."""
    started = time.monotonic()
    now = now or timezone.now()
    upto = current_receipt_watermark()
    health = channel_health(now=now, receipts_after=_receipt_window(now, upto), receipts_upto=upto)
    backlogs = lane_backlogs(now=now)
    conditions = conditions_now(health, backlogs)
    with transaction.atomic():
        run = WatchRun.objects.create(taken_at=now, receipt_watermark=upto)
        ChannelHealthSnapshot.objects.bulk_create(
            [
                ChannelHealthSnapshot(
                    run=run,
                    channel_id=row.channel_id,
                    taken_at=now,
                    window_minutes=window_minutes(),
                    submitted=row.submitted,
                    submit_errors=row.submit_errors,
                    delivered=row.delivered,
                    failed=row.failed,
                    expired=row.expired,
                    delivery_rate=row.delivery_rate,
                    error_rate=row.error_rate,
                    receipt_p50_ms=row.receipt_p50_ms,
                    receipt_p95_ms=row.receipt_p95_ms,
                    arrival_p95_ms=row.arrival_p95_ms,
                    breaker_state=row.breaker_state,
                )
                for row in health.values()
                if row.enabled or row.submitted or row.finals
            ]
        )
        opened_ids = _open_incidents(conditions, now)
        active = {(c.kind, c.subject) for c in conditions}
        open_now = list(Incident.objects.select_for_update().filter(resolved_at__isnull=True))
        still, cleared = [], []
        for incident in open_now:
            (still if (incident.kind, incident.subject) in active else cleared).append(incident.id)
        Incident.objects.filter(id__in=still).update(last_seen_at=now)
        Incident.objects.filter(id__in=cleared).update(recovered_at=now, resolved_at=now)
        run.opened, run.resolved = len(opened_ids), len(cleared)
        run.duration_ms = int((time.monotonic() - started) * 1000)
        run.save(update_fields=["opened", "resolved", "duration_ms"])
    opened = list(Incident.objects.filter(id__in=opened_ids))
    resolved = list(Incident.objects.filter(id__in=cleared))
    overdue = _overdue_unannounced(now)
    if notify:
        announcements = (
            [(i, "incident.opened") for i in opened]
            + [(i, "incident.overdue") for i in overdue]
            + [(i, "incident.resolved") for i in resolved]
        )
        for incident, event in announcements:
            outcomes = alerts.notify(incident, event)
            incident.notifications = [*incident.notifications, *outcomes]
            Incident.objects.filter(pk=incident.pk).update(notifications=incident.notifications)
    return RunReport(run=run, opened=opened, resolved=resolved, overdue=overdue)


def _overdue_unannounced(now: datetime) -> list[Incident]:
    """Open incidents nobody acknowledged within the target, not yet escalated: they are
    announced once more (event `incident.overdue`)."""
    from messaging.watch.selectors import ACK_TARGET

    candidates = Incident.objects.filter(
        resolved_at__isnull=True, acknowledged_at__isnull=True, started_at__lte=now - ACK_TARGET
    )
    return [i for i in candidates if not any(n.get("event") == "incident.overdue" for n in i.notifications)]


@transaction.atomic
def incident_acknowledge(*, actor, incident_id: int, now: datetime | None = None) -> Incident:
    _require_staff(actor)
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None:
        raise NotFound("incident_not_found", _("No such incident."))
    if incident.acknowledged_at is None:
        incident.acknowledged_at = now or timezone.now()
        incident.acknowledged_by = actor
        incident.save(update_fields=["acknowledged_at", "acknowledged_by"])
        audit_record(tenant=None, actor=actor, action="incident.acknowledged", obj=incident)
    return incident


@transaction.atomic
def incident_resolve(*, actor, incident_id: int, note: str = "", now: datetime | None = None) -> Incident:
    """An operator closes the incident (acknowledging it too, if nobody had)."""
    _require_staff(actor)
    now = now or timezone.now()
    incident = Incident.objects.select_for_update().filter(pk=incident_id).first()
    if incident is None:
        raise NotFound("incident_not_found", _("No such incident."))
    if incident.resolved_at is not None:
        return incident
    if incident.acknowledged_at is None:
        incident.acknowledged_at, incident.acknowledged_by = now, actor
    incident.resolved_at, incident.resolved_by = now, actor
    if note.strip():
        incident.details = {**incident.details, "resolution_note": note.strip()[:500]}
    incident.save()
    audit_record(tenant=None, actor=actor, action="incident.resolved", obj=incident, after={"note": note[:500]})
    return incident


# --- Raw-code mapping of generic HTTP providers -------------------------------------------


@transaction.atomic
def code_mapping_save(
    *, actor, channel: Channel, scope: str, code: str, outcome: str, failure_reason: str = "", note: str = ""
) -> ProviderCodeMapping:
    _require_staff(actor)
    code = (code or "").strip()
    if not code:
        raise ServiceError("code_required", _("Enter the provider's code."), field="code")
    if scope not in ProviderCodeMapping.Scope.values:
        raise ServiceError("invalid_scope", _("Choose where the code appears."), field="scope")
    if outcome not in ProviderCodeMapping.Outcome.values:
        raise ServiceError("invalid_outcome", _("Choose an outcome."), field="outcome")
    if outcome in (ProviderCodeMapping.Outcome.FAILED, ProviderCodeMapping.Outcome.RETRY):
        if failure_reason not in FailureReason.values:
            raise ServiceError(
                "reason_required", _("A failure needs a reason from the taxonomy."), field="failure_reason"
            )
    else:
        failure_reason = ""
    mapping, _created = ProviderCodeMapping.objects.update_or_create(
        channel=channel,
        scope=scope,
        code=code,
        defaults={
            "outcome": outcome,
            "failure_reason": failure_reason,
            "note": note.strip()[:200],
            "updated_by": actor,
        },
    )
    audit_record(
        tenant=None,
        actor=actor,
        action="channel.code_mapped",
        obj=mapping,
        after={"channel": channel.pk, "scope": scope, "code": code, "outcome": outcome, "reason": failure_reason},
    )
    return mapping


@transaction.atomic
def code_mapping_delete(*, actor, mapping_id: int) -> None:
    _require_staff(actor)
    mapping = ProviderCodeMapping.objects.filter(pk=mapping_id).first()
    if mapping is None:
        raise NotFound("mapping_not_found", _("No such mapping."))
    audit_record(
        tenant=None,
        actor=actor,
        action="channel.code_unmapped",
        obj=mapping,
        before={"channel": mapping.channel_id, "scope": mapping.scope, "code": mapping.code},
    )
    mapping.delete()
