"""Reads for the health and incident pages."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from statistics import median

from django.utils import timezone

from messaging.models import Channel, ReceiptRaw
from messaging.watch.charts import sparkline
from messaging.watch.health import lane_backlogs, min_delivery_rate
from messaging.watch.models import ChannelHealthSnapshot, Incident, ProviderCodeMapping, WatchRun

ACK_TARGET = timedelta(minutes=30)
SPARK_POINTS = 60


@dataclass
class ChannelRow:
    channel: Channel
    latest: ChannelHealthSnapshot | None
    rate_spark: str = ""
    latency_spark: str = ""
    open_incidents: list[Incident] = field(default_factory=list)

    @property
    def rate_pct(self) -> float | None:
        if self.latest is None or self.latest.delivery_rate is None:
            return None
        return round(self.latest.delivery_rate * 100, 1)

    @property
    def rate_ok(self) -> bool | None:
        if self.latest is None or self.latest.delivery_rate is None:
            return None
        return self.latest.delivery_rate >= min_delivery_rate()


def health_overview(*, now=None) -> dict:
    now = now or timezone.now()
    since = now - timedelta(minutes=SPARK_POINTS)
    series: dict[int, list[ChannelHealthSnapshot]] = defaultdict(list)
    for snapshot in ChannelHealthSnapshot.objects.filter(taken_at__gte=since).order_by("taken_at"):
        series[snapshot.channel_id].append(snapshot)
    open_incidents: dict[int, list[Incident]] = defaultdict(list)
    for incident in Incident.objects.filter(resolved_at__isnull=True, channel__isnull=False):
        open_incidents[incident.channel_id].append(incident)
    rows = []
    for channel in Channel.objects.order_by("name"):
        points = series.get(channel.id, [])
        latest = points[-1] if points else None
        row = ChannelRow(channel=channel, latest=latest, open_incidents=open_incidents.get(channel.id, []))
        row.rate_spark = sparkline(
            [None if p.delivery_rate is None else round(p.delivery_rate * 100, 2) for p in points],
            bad=row.rate_ok is False,
            range_=(80, 100),
        )
        row.latency_spark = sparkline([p.receipt_p95_ms for p in points])
        rows.append(row)
    return {
        "rows": rows,
        "backlogs": lane_backlogs(now=now),
        "last_run": WatchRun.objects.order_by("-taken_at").first(),
        "open_count": Incident.objects.filter(resolved_at__isnull=True).count(),
        "threshold": min_delivery_rate(),
    }


def incident_list(*, status: str = "open"):
    incidents = Incident.objects.select_related("channel", "acknowledged_by", "resolved_by")
    if status == "open":
        incidents = incidents.filter(resolved_at__isnull=True)
    return incidents.order_by("-started_at", "-id")


def acknowledgement_stats(*, days: int = 30, now=None) -> dict:
    """Time to acknowledge over the last `days`, against the 30-minute target. Incidents
    that cleared by themselves before anyone acknowledged are counted apart."""
    now = now or timezone.now()
    recent = list(
        Incident.objects.filter(started_at__gte=now - timedelta(days=days)).values_list(
            "started_at", "acknowledged_at", "resolved_at", "resolved_by"
        )
    )
    acknowledged = [ack - start for start, ack, _res, _by in recent if ack]
    waiting = [now - start for start, ack, res, _by in recent if not ack and not res]
    self_cleared = sum(1 for _start, ack, res, by in recent if not ack and res and by is None)
    within = sum(1 for delta in acknowledged if delta <= ACK_TARGET)
    return {
        "days": days,
        "total": len(recent),
        "acknowledged": len(acknowledged),
        "within_target": within,
        "within_target_pct": round(100 * within / len(acknowledged), 1) if acknowledged else None,
        "median_minutes": round(median(acknowledged).total_seconds() / 60, 1) if acknowledged else None,
        "overdue_open": sum(1 for delta in waiting if delta > ACK_TARGET),
        "self_cleared": self_cleared,
        "target_minutes": int(ACK_TARGET.total_seconds() // 60),
    }


def code_mappings(*, channel: Channel):
    return ProviderCodeMapping.objects.filter(channel=channel).select_related("updated_by").order_by("scope", "code")


def unmapped_receipt_codes(*, channel: Channel, scan: int = 2000) -> list[tuple[str, int]]:
    """Raw receipt codes the mapping did not know (stored with reason `unknown`) among the
    channel's latest receipts, most frequent first."""
    counts: dict[str, int] = defaultdict(int)
    latest = ReceiptRaw.objects.filter(channel=channel).order_by("-id").values_list("raw_status", "failure_reason")
    for raw_status, reason in latest[:scan]:
        if reason == "unknown":
            counts[raw_status] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
