"""Reads of the campaigns app: lists, imports, audiences (set-based SQL), campaign stats."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from campaigns.models import Campaign, CampaignRecipient, ContactImport, ContactList
from smsportal.enums import Carrier, MessageStatus
from smsportal.errors import NotFound, Unprocessable

CONDITION_OPS = {
    "eq": "=",
    "ne": "<>",
    "contains": "LIKE",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "exists": "exists",
}
CONSENT_STATES = ("any", "granted", "not_granted")
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def contact_lists(*, tenant) -> QuerySet[ContactList]:
    return ContactList.objects.for_tenant(tenant)


def contact_list_get(*, tenant, list_id) -> ContactList:
    try:
        return ContactList.objects.for_tenant(tenant).get(pk=int(list_id))
    except (ContactList.DoesNotExist, TypeError, ValueError):
        raise NotFound("not_found", _("No such contact list.")) from None


def contact_import_get(*, tenant, import_id) -> ContactImport:
    try:
        return ContactImport.objects.for_tenant(tenant).select_related("contact_list").get(pk=int(import_id))
    except (ContactImport.DoesNotExist, TypeError, ValueError):
        raise NotFound("not_found", _("No such import.")) from None


def campaigns(*, tenant) -> QuerySet[Campaign]:
    return Campaign.objects.for_tenant(tenant).select_related("template")


def campaign_get(*, tenant, campaign_id) -> Campaign:
    try:
        return Campaign.objects.for_tenant(tenant).select_related("template").get(pk=int(campaign_id))
    except (Campaign.DoesNotExist, TypeError, ValueError):
        raise NotFound("not_found", _("No such campaign.")) from None


# --- Audiences ----------------------------------------------------------------------------
@dataclass
class Audience:
    """Which contacts a campaign reaches: lists combined, then filtered."""

    list_ids: list[int]
    carriers: list[str] = field(default_factory=list)
    provinces: list[str] = field(default_factory=list)
    conditions: list[dict] = field(default_factory=list)  # {"field", "op", "value"}
    consent: str = "any"

    @classmethod
    def of(cls, campaign: Campaign) -> Audience:
        spec = campaign.audience_filter or {}
        return cls(
            list_ids=list(campaign.contact_lists.values_list("pk", flat=True)),
            carriers=list(spec.get("carriers") or []),
            provinces=list(spec.get("provinces") or []),
            conditions=list(spec.get("conditions") or []),
            consent=spec.get("consent") or "any",
        )

    def as_filter(self) -> dict:
        return {
            "carriers": self.carriers,
            "provinces": self.provinces,
            "conditions": self.conditions,
            "consent": self.consent,
        }


def audience_validate(audience: Audience) -> None:
    errors: dict[str, list[str]] = {}
    unknown = [c for c in audience.carriers if c not in Carrier.values]
    if unknown:
        errors["carriers"] = [_("Unknown carrier: %(carriers)s") % {"carriers": ", ".join(unknown)}]
    if audience.consent not in CONSENT_STATES:
        errors["consent"] = [_("Unknown consent state.")]
    for condition in audience.conditions:
        if not isinstance(condition, dict) or not str(condition.get("field", "")).strip():
            errors.setdefault("conditions", []).append(_("A condition needs a field."))
            continue
        op = condition.get("op", "eq")
        if op not in CONDITION_OPS:
            errors.setdefault("conditions", []).append(_("Unknown comparison “%(op)s”.") % {"op": op})
        elif op in ("gt", "gte", "lt", "lte") and not _NUMERIC.match(str(condition.get("value", "")).strip()):
            errors.setdefault("conditions", []).append(_("“%(field)s”: compare with a number.") % condition)
    if errors:
        raise Unprocessable("invalid_audience", _("The audience filter is not valid."), fields=errors)


def audience_sql(*, tenant, audience: Audience) -> tuple[str, list]:
    """SELECT of (contact id, number) for the audience, one row per number (the most
    recently imported contact of a number wins when lists overlap)."""
    audience_validate(audience)
    where = ["c.tenant_id = %s", "c.contact_list_id = ANY(%s)"]
    params: list = [tenant.pk, [int(i) for i in audience.list_ids]]
    if audience.carriers:
        where.append("c.carrier = ANY(%s)")
        params.append(list(audience.carriers))
    if audience.provinces:
        where.append("c.province = ANY(%s)")
        params.append(list(audience.provinces))
    for condition in audience.conditions:
        name, op = str(condition["field"]).strip(), condition.get("op", "eq")
        value = str(condition.get("value", "")).strip()
        if op == "exists":
            where.append("coalesce(c.attributes->>%s, '') <> ''")
            params.append(name)
        elif op == "contains":
            where.append("c.attributes->>%s LIKE %s")
            params += [name, "%" + value.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"]
        elif op in ("eq", "ne"):
            where.append(f"coalesce(c.attributes->>%s, '') {CONDITION_OPS[op]} %s")
            params += [name, value]
        else:
            # Numeric comparison; values that are not numbers never match.
            where.append(
                f"(CASE WHEN c.attributes->>%s ~ '^-?[0-9]+(\\.[0-9]+)?$' THEN (c.attributes->>%s)::numeric END)"
                f" {CONDITION_OPS[op]} %s::numeric"
            )
            params += [name, name, value]
    if audience.consent != "any":
        latest = (
            "(SELECT r.action FROM compliance_consentrecord r WHERE r.tenant_id = c.tenant_id"
            " AND r.number = c.number AND r.purpose = 'marketing' ORDER BY r.occurred_at DESC, r.id DESC LIMIT 1)"
        )
        where.append(f"{latest} = 'grant'" if audience.consent == "granted" else f"{latest} IS DISTINCT FROM 'grant'")
    sql = (
        "SELECT DISTINCT ON (c.number) c.id, c.number FROM campaigns_contact c WHERE "  # noqa: S608
        + " AND ".join(where)
        + " ORDER BY c.number, c.id DESC"
    )
    return sql, params


def audience_count(*, tenant, audience: Audience) -> int:
    if not audience.list_ids:
        return 0
    sql, params = audience_sql(tenant=tenant, audience=audience)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM ({sql}) a", params)  # noqa: S608
        return cursor.fetchone()[0]


def audience_facets(*, tenant, list_ids: list[int]) -> dict:
    """Carriers, provinces and attribute names present in the lists, for the filter form."""
    if not list_ids:
        return {"carriers": [], "provinces": [], "fields": []}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT carrier, province, count(*) FROM campaigns_contact WHERE tenant_id = %s"
            " AND contact_list_id = ANY(%s) GROUP BY 1, 2",
            [tenant.pk, list_ids],
        )
        carriers: dict[str, int] = {}
        provinces: dict[str, int] = {}
        for carrier, province, count in cursor.fetchall():
            carriers[carrier] = carriers.get(carrier, 0) + count
            if province:
                provinces[province] = provinces.get(province, 0) + count
    fields = sorted(
        {
            f
            for fs in ContactList.objects.for_tenant(tenant).filter(pk__in=list_ids).values_list("fields", flat=True)
            for f in fs
        }
    )
    return {
        "carriers": sorted(carriers.items(), key=lambda kv: -kv[1]),
        "provinces": sorted(provinces.items(), key=lambda kv: -kv[1]),
        "fields": fields,
    }


# --- Campaign progress --------------------------------------------------------------------
@dataclass
class CampaignStats:
    audience: int = 0
    excluded: int = 0
    total: int = 0
    by_status: dict = field(default_factory=dict)
    failure_reasons: list = field(default_factory=list)
    rate_per_minute: int = 0
    clicks: int = 0
    unique_clicks: int = 0

    def count(self, *statuses) -> int:
        return sum(self.by_status.get(str(s), 0) for s in statuses)

    @property
    def queued(self) -> int:
        return self.count(MessageStatus.QUEUED, MessageStatus.SUBMITTING)

    @property
    def submitted(self) -> int:
        return self.count(MessageStatus.SUBMITTED)

    @property
    def delivered(self) -> int:
        return self.count(MessageStatus.DELIVERED)

    @property
    def failed(self) -> int:
        return self.count(MessageStatus.FAILED, MessageStatus.EXPIRED)

    @property
    def rejected(self) -> int:
        return self.count(MessageStatus.REJECTED)

    @property
    def sent(self) -> int:
        return self.submitted + self.delivered + self.failed

    @property
    def finished(self) -> int:
        return self.delivered + self.failed

    @property
    def delivery_rate(self) -> float | None:
        return round(100 * self.delivered / self.finished, 1) if self.finished else None

    @property
    def click_rate(self) -> float | None:
        return round(100 * self.unique_clicks / self.delivered, 1) if self.delivered else None

    @property
    def percent(self) -> int:
        to_send = self.total - self.rejected
        return int(100 * self.sent / to_send) if to_send > 0 else 0

    @property
    def eta_seconds(self) -> int | None:
        if not self.queued:
            return 0
        if not self.rate_per_minute:
            return None
        return int(self.queued * 60 / self.rate_per_minute)

    def as_dict(self) -> dict:
        return {
            "audience": self.audience,
            "excluded": self.excluded,
            "messages": self.total,
            "queued": self.queued,
            "submitted": self.submitted,
            "delivered": self.delivered,
            "failed": self.failed,
            "rejected": self.rejected,
            "delivery_rate": self.delivery_rate,
            "rate_per_minute": self.rate_per_minute,
            "eta_seconds": self.eta_seconds,
            "percent": self.percent,
            "failure_reasons": [{"reason": r, "count": c} for r, c in self.failure_reasons],
            "clicks": self.clicks,
            "unique_clicks": self.unique_clicks,
            "click_rate": self.click_rate,
        }


def campaign_stats(*, tenant, campaign: Campaign) -> CampaignStats:
    stats = CampaignStats(audience=campaign.audience_size, excluded=campaign.excluded_count)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT status, failure_reason, count(*),
                      count(*) FILTER (WHERE submitted_at > %s)
                 FROM messaging_message WHERE tenant_id = %s AND campaign_id = %s GROUP BY 1, 2""",
            [now - dt.timedelta(minutes=1), tenant.pk, campaign.pk],
        )
        reasons: dict[str, int] = {}
        for status, reason, count, last_minute in cursor.fetchall():
            stats.by_status[status] = stats.by_status.get(status, 0) + count
            stats.total += count
            stats.rate_per_minute += last_minute
            if reason:
                reasons[reason] = reasons.get(reason, 0) + count
        stats.failure_reasons = sorted(reasons.items(), key=lambda kv: -kv[1])
        cursor.execute(
            "SELECT coalesce(sum(clicks), 0), count(*) FILTER (WHERE clicks > 0) FROM campaigns_campaignrecipient"
            " WHERE tenant_id = %s AND campaign_id = %s AND clicks > 0",
            [tenant.pk, campaign.pk],
        )
        stats.clicks, stats.unique_clicks = cursor.fetchone()
    return stats


def campaign_click_hours(*, tenant, campaign: Campaign) -> list:
    return list(campaign.click_hours.filter(tenant=tenant).order_by("hour"))


def recipient_for_code(code: str) -> CampaignRecipient | None:
    from campaigns.links import recipient_id_from_code

    recipient_id = recipient_id_from_code(code)
    if recipient_id is None:
        return None
    return CampaignRecipient.objects.select_related("campaign").filter(pk=recipient_id).first()


def best_send_hour(*, tenant, days: int = 90) -> dict:
    """The local hour whose past deliveries (and clicks) did best, from this tenant's own data."""
    since = timezone.now() - dt.timedelta(days=days)
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT extract(hour FROM submitted_at AT TIME ZONE %s)::int AS hour,
                      count(*) FILTER (WHERE status = 'delivered'), count(*)
                 FROM messaging_message
                WHERE tenant_id = %s AND submitted_at > %s AND status IN ('delivered', 'failed', 'expired')
                  AND message_class = 'marketing'
                GROUP BY 1""",
            [tenant.timezone, tenant.pk, since],
        )
        deliveries = {hour: (delivered, total) for hour, delivered, total in cursor.fetchall()}
        cursor.execute(
            """SELECT extract(hour FROM hour AT TIME ZONE %s)::int, sum(unique_clicks)
                 FROM campaigns_linkclick WHERE tenant_id = %s AND hour > %s GROUP BY 1""",
            [tenant.timezone, tenant.pk, since],
        )
        clicks = dict(cursor.fetchall())
    total = sum(t for _d, t in deliveries.values())
    if total < 500 or len(deliveries) < 3:
        return {"hour": None, "enough_data": False, "messages": total}

    def score(hour: int) -> float:
        delivered, sent = deliveries[hour]
        rate = delivered / sent
        click_rate = (clicks.get(hour, 0) / delivered) if delivered else 0
        return rate + 2 * click_rate

    eligible = [h for h, (_d, t) in deliveries.items() if t >= 50]
    if not eligible:
        return {"hour": None, "enough_data": False, "messages": total}
    hour = max(eligible, key=score)
    delivered, sent = deliveries[hour]
    return {
        "hour": hour,
        "enough_data": True,
        "messages": total,
        "delivery_rate": round(100 * delivered / sent, 1),
        "clicks": int(clicks.get(hour, 0)),
    }


# --- Platform staff: campaigns across tenants ---------------------------------------------
STAFF_STATES = (Campaign.Status.RUNNING, Campaign.Status.SCHEDULED, Campaign.Status.PAUSED)
STAFF_BOARD_LIMIT = 200


@dataclass
class StaffCampaignRow:
    campaign: Campaign
    accepted: int = 0  # messages queued by the fan-out (refusals not counted)
    rejected: int = 0
    submitted: int = 0  # handed to a channel (including those since delivered or failed)
    delivered: int = 0
    failed: int = 0  # failed or expired

    @property
    def finished(self) -> int:
        return self.delivered + self.failed

    @property
    def delivery_rate(self) -> float | None:
        return self.delivered / self.finished if self.finished else None

    @property
    def average_per_minute(self) -> int | None:
        """Messages handed to channels per minute since the start (running campaigns only)."""
        campaign = self.campaign
        if campaign.status != Campaign.Status.RUNNING or campaign.started_at is None:
            return None
        minutes = max((timezone.now() - campaign.started_at).total_seconds() / 60, 1)
        return round(self.submitted / minutes)


def staff_campaign_board(*, states: tuple[str, ...] = STAFF_STATES) -> list[StaffCampaignRow]:
    """Running, scheduled and paused campaigns of every tenant (platform staff only), running
    first, with their counts from the reports rollups (at most a minute behind): two queries
    whatever the number of campaigns, and never a scan of the message table."""
    from django.db.models import Case, F, Sum, Value, When
    from django.db.models.functions import Coalesce

    from reports.models import MessageRollup

    rank = Case(
        When(status=Campaign.Status.RUNNING, then=Value(0)),
        When(status=Campaign.Status.PAUSED, then=Value(1)),
        default=Value(2),
    )
    campaigns = list(
        Campaign.objects.filter(status__in=states)
        .select_related("tenant", "template")
        .annotate(rank=rank)
        .order_by("rank", F("started_at").asc(nulls_last=True), F("send_at").asc(nulls_last=True), "id")[
            :STAFF_BOARD_LIMIT
        ]
    )
    rows = {c.pk: StaffCampaignRow(campaign=c) for c in campaigns}
    if not rows:
        return []
    # Messages are accepted after the campaign was created: a lower bound keeps the query on
    # the rollups' (tenant, hour) index.
    since = min(c.created_at for c in campaigns).replace(minute=0, second=0, microsecond=0)
    sums = {name: Coalesce(Sum(name), 0) for name in ("accepted", "rejected", "submitted", "delivered")}
    sums["finished_bad"] = Coalesce(Sum("failed"), 0) + Coalesce(Sum("expired"), 0)
    counts = (
        MessageRollup.objects.filter(
            tenant_id__in={c.tenant_id for c in campaigns},
            grain=MessageRollup.Grain.CAMPAIGN,
            campaign_id__in=list(rows),
            hour__gte=since,
        )
        .values("campaign_id")
        .annotate(**sums)
        .order_by("campaign_id")
    )
    for row in counts:
        target = rows.get(row["campaign_id"])
        if target is None:
            continue
        target.accepted, target.rejected = row["accepted"], row["rejected"]
        target.submitted, target.delivered, target.failed = row["submitted"], row["delivered"], row["finished_bad"]
    return list(rows.values())
