"""Concrete advice from a month of data. Plain Python over plain data (no database), so each
rule is tested with crafted numbers — and stays silent when the numbers are fine."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext_lazy as _

from templates.segments import LIMITS

DELIVERY_BENCHMARK = 0.98
KEY_REGION_BENCHMARK = 0.99
VACANT_RATE_LIMIT = 0.03
BLACKLIST_RATE_LIMIT = 0.01
ARRIVAL_SHARE_LIMIT = 0.90
NEAR_QUIET_SHARE_LIMIT = 0.10
MIN_VOLUME = 200  # below this, a rate says too little to advise on
EXTRA_SEGMENT_SLACK = 10  # flag a template when at most this many characters tip it over


@dataclass
class TemplateUsage:
    template_id: int
    name: str
    rendered_example: str  # full text with 【signature】 as sent, from the template's examples
    encoding: str
    characters: int
    segments: int
    delivered: int
    content_blocked: int = 0
    blocked_words: list[str] = field(default_factory=list)


@dataclass
class AudienceQuality:
    label: str  # a campaign or list name
    finished: int
    vacant: int


@dataclass
class HourQuality:
    hour: int  # local hour of day
    delivered: int
    within_target: float | None  # share within the class target
    delivery_rate: float | None


@dataclass
class AdviceInput:
    unit_price: Decimal
    templates: list[TemplateUsage] = field(default_factory=list)
    audiences: list[AudienceQuality] = field(default_factory=list)
    hours: list[HourQuality] = field(default_factory=list)
    carriers: list[tuple[str, int, float | None]] = field(default_factory=list)  # label, finished, rate
    key_regions: list[tuple[str, int, float | None]] = field(default_factory=list)
    blacklisted: int = 0
    finished: int = 0
    marketing_total: int = 0
    marketing_near_quiet: int = 0  # accepted within an hour of the quiet-hours boundaries
    quiet_start: str = "21:00"
    quiet_end: str = "08:00"


@dataclass
class Advice:
    rule: str
    severity: str  # "high" | "medium" | "low"
    title: str
    detail: str
    saving: Decimal | None = None


def _extra_segment(data: AdviceInput) -> list[Advice]:
    found = []
    for template in data.templates:
        if template.segments < 2 or template.delivered < MIN_VOLUME:
            continue
        single, part = LIMITS[template.encoding]
        fewer = template.segments - 1
        limit = single if fewer == 1 else fewer * part
        excess = template.characters - limit
        if 0 < excess <= EXTRA_SEGMENT_SLACK:
            saving = (Decimal(template.delivered) * data.unit_price).quantize(Decimal("0.01"))
            found.append(
                Advice(
                    rule="template_extra_segment",
                    severity="high" if saving >= 100 else "medium",
                    title=_("Shorten template “%(name)s” by %(n)d characters") % {"name": template.name, "n": excess},
                    detail=_(
                        "It takes %(segments)d segments (%(chars)d %(encoding)s characters, signature included); "
                        "cutting %(n)d characters makes it %(fewer)d and would have saved ¥%(saving)s on "
                        "%(delivered)d messages this month."
                    )
                    % {
                        "segments": template.segments,
                        "chars": template.characters,
                        "encoding": template.encoding,
                        "n": excess,
                        "fewer": fewer,
                        "saving": saving,
                        "delivered": template.delivered,
                    },
                    saving=saving,
                )
            )
    return found


def _content_blocked(data: AdviceInput) -> list[Advice]:
    found = []
    for template in data.templates:
        if template.content_blocked and template.content_blocked >= max(10, template.delivered * 0.005):
            words = "、".join(template.blocked_words) or str(_("no listed word — ask support for the carrier's reason"))
            found.append(
                Advice(
                    rule="content_blocked",
                    severity="high",
                    title=_("Carriers blocked template “%(name)s” %(n)d times")
                    % {"name": template.name, "n": template.content_blocked},
                    detail=_(
                        "Words that may trigger carrier filters: %(words)s. Rephrase them and resubmit the "
                        "template for review."
                    )
                    % {"words": words},
                )
            )
    return found


def _vacant_numbers(data: AdviceInput) -> list[Advice]:
    found = []
    for audience in data.audiences:
        if audience.finished >= MIN_VOLUME and audience.vacant / audience.finished > VACANT_RATE_LIMIT:
            share = audience.vacant / audience.finished
            found.append(
                Advice(
                    rule="vacant_numbers",
                    severity="medium",
                    title=_("Clean the list behind “%(label)s”: %(share).1f%% vacant numbers")
                    % {"label": audience.label, "share": share * 100},
                    detail=_(
                        "%(n)d numbers no longer exist. Remove them (download the failed numbers from the "
                        "campaign page) so they stop lowering your delivery rate."
                    )
                    % {"n": audience.vacant},
                )
            )
    return found


def _poor_hours(data: AdviceInput) -> list[Advice]:
    poor = [
        h
        for h in data.hours
        if h.delivered >= MIN_VOLUME
        and (
            (h.within_target is not None and h.within_target < ARRIVAL_SHARE_LIMIT)
            or (h.delivery_rate is not None and h.delivery_rate < DELIVERY_BENCHMARK)
        )
    ]
    if not poor:
        return []
    hours = "、".join(f"{h.hour:02d}:00–{(h.hour + 1) % 24:02d}:00" for h in sorted(poor, key=lambda h: h.hour))
    return [
        Advice(
            rule="poor_arrival_hours",
            severity="medium",
            title=_("Arrival was slow or unreliable at %(hours)s") % {"hours": hours},
            detail=_("Move non-urgent sends away from these hours; codes and alerts are unaffected by this advice."),
        )
    ]


def _near_quiet_hours(data: AdviceInput) -> list[Advice]:
    if data.marketing_total < MIN_VOLUME:
        return []
    share = data.marketing_near_quiet / data.marketing_total
    if share <= NEAR_QUIET_SHARE_LIMIT:
        return []
    return [
        Advice(
            rule="marketing_near_quiet_hours",
            severity="low",
            title=_("%(share).0f%% of marketing was sent close to quiet hours") % {"share": share * 100},
            detail=_(
                "Messages sent just before %(start)s or right after %(end)s draw more complaints and may be "
                "held until the next window. Schedule campaigns earlier in the day."
            )
            % {"start": data.quiet_start, "end": data.quiet_end},
        )
    ]


def _blacklist(data: AdviceInput) -> list[Advice]:
    if data.finished < MIN_VOLUME or data.blacklisted / data.finished <= BLACKLIST_RATE_LIMIT:
        return []
    return [
        Advice(
            rule="carrier_blacklist",
            severity="high",
            title=_("%(n)d messages went to numbers the carriers blacklist") % {"n": data.blacklisted},
            detail=_(
                "These people have complained or opted out at their carrier. Send marketing only with recorded "
                "consent and honour unsubscribe replies at once."
            ),
        )
    ]


def _below_benchmark(data: AdviceInput) -> list[Advice]:
    found = []
    for label, finished, delivery_rate in data.carriers:
        if finished >= MIN_VOLUME and delivery_rate is not None and delivery_rate < DELIVERY_BENCHMARK:
            found.append(
                Advice(
                    rule="carrier_below_benchmark",
                    severity="medium",
                    title=_("%(carrier)s delivered %(rate).1f%%, below the 98%% benchmark")
                    % {"carrier": label, "rate": delivery_rate * 100},
                    detail=_(
                        "See the failure reasons for this carrier below; vacant and blacklisted numbers are "
                        "yours to fix, channel errors are ours and are being routed around."
                    ),
                )
            )
    for label, finished, delivery_rate in data.key_regions:
        if finished >= MIN_VOLUME and delivery_rate is not None and delivery_rate < KEY_REGION_BENCHMARK:
            found.append(
                Advice(
                    rule="key_region_below_benchmark",
                    severity="medium",
                    title=_("%(region)s delivered %(rate).1f%%, below the 99%% key-region benchmark")
                    % {"region": label, "rate": delivery_rate * 100},
                    detail=_("Check the failure reasons for this region's numbers."),
                )
            )
    return found


RULES = (
    _extra_segment,
    _content_blocked,
    _vacant_numbers,
    _blacklist,
    _below_benchmark,
    _poor_hours,
    _near_quiet_hours,
)
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


def generate(data: AdviceInput) -> list[Advice]:
    advice = [item for rule in RULES for item in rule(data)]
    return sorted(advice, key=lambda item: (SEVERITY_ORDER[item.severity], -(item.saving or 0)))
