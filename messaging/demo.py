"""Messaging demo data: channels for every carrier (two simulated each, one HTTP-provider
channel disabled), and about six weeks of realistic traffic for both demo tenants — tens of
thousands of messages across classes, carriers and provinces with delivery latencies and
failure reasons — written set-based (COPY), captured through billing's
`ledger_capture_batch` at their delivery times so balances and statements add up; then
last month's statements (billing.demo.finish), per-minute channel counters and a few replies.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from messaging.models import PRIORITY_BY_CLASS, Channel, Message, lane_for
from smsportal.enums import Carrier
from smsportal.numbers import InvalidNumber, normalize

CHINA = ZoneInfo("Asia/Shanghai")
COPY_SQL = "COPY messaging_message ({columns}) FROM STDIN"
DAYS = 42
VOLUME = {"huamei-retail": 36000, "kuaida-logistics": 18000}
CLASS_MIX = {
    "huamei-retail": {"verification": 0.40, "notification": 0.30, "marketing": 0.25, "alert": 0.05},
    "kuaida-logistics": {"verification": 0.35, "notification": 0.62, "alert": 0.03},
}
CARRIER_MIX = {Carrier.MOBILE: 0.56, Carrier.UNICOM: 0.24, Carrier.TELECOM: 0.17, Carrier.BROADNET: 0.03}
# Median receipt latency (s) by carrier and failure odds by reason, as the simulator has them.
LATENCY = {Carrier.MOBILE: 0.9, Carrier.UNICOM: 1.2, Carrier.TELECOM: 1.4, Carrier.BROADNET: 2.1}
FAILURES = {
    Carrier.MOBILE: {"vacant_number": 0.006, "unreachable": 0.005, "carrier_blacklist": 0.002},
    Carrier.UNICOM: {"vacant_number": 0.007, "unreachable": 0.007, "carrier_blacklist": 0.002},
    Carrier.TELECOM: {"vacant_number": 0.008, "unreachable": 0.008, "carrier_blacklist": 0.003},
    Carrier.BROADNET: {"vacant_number": 0.012, "unreachable": 0.012, "carrier_blacklist": 0.004},
}
RAW = {
    "vacant_number": "MK:0001",
    "unreachable": "MK:0005",
    "carrier_blacklist": "MK:0045",
    "content_blocked": "MK:0039",
    "expired": "",
}
# Busy hours (China time): a daytime hump, evening marketing, quiet nights.
HOUR_WEIGHTS = [1, 0.5, 0.3, 0.3, 0.3, 0.5, 1.5, 3, 6, 8, 8, 7, 6, 6, 7, 7, 7, 7, 7, 8, 8, 7, 4, 2]
CHANNELS = [
    ("移动-直连A", [Carrier.MOBILE], 100, "0.0280", 3000),
    ("移动-备用B", [Carrier.MOBILE], 40, "0.0310", 1500),
    ("联通-直连A", [Carrier.UNICOM], 100, "0.0290", 2000),
    ("联通-备用B", [Carrier.UNICOM], 40, "0.0320", 1000),
    ("电信-直连A", [Carrier.TELECOM], 100, "0.0300", 2000),
    ("电信-备用B", [Carrier.TELECOM], 40, "0.0330", 1000),
    ("广电-直连A", [Carrier.BROADNET], 100, "0.0350", 500),
    ("广电-三网聚合B", [Carrier.BROADNET, Carrier.MOBILE, Carrier.UNICOM, Carrier.TELECOM], 20, "0.0380", 800),
]


def seed_channels() -> list[Channel]:
    channels = []
    for index, (name, carriers, weight, cost, rate) in enumerate(CHANNELS):
        channel, _ = Channel.objects.update_or_create(
            name=name,
            defaults={
                "adapter": Channel.Adapter.SIMULATED,
                "carriers": [str(c) for c in carriers],
                "message_classes": ["verification", "notification", "marketing", "alert"],
                "weight": weight,
                "cost_per_message": cost,
                "rate_limit": rate,
                "batch_size": 500,
                "receipt_timeout_seconds": 600,
                "enabled": True,
                "settings": {"seed": 100 + index},
            },
        )
        channels.append(channel)
    Channel.objects.update_or_create(
        name="HTTP-云通讯（待启用）",
        defaults={
            "adapter": "http",
            "carriers": ["mobile", "unicom", "telecom"],
            "message_classes": ["notification", "marketing"],
            "weight": 50,
            "cost_per_message": "0.0260",
            "rate_limit": 500,
            "batch_size": 200,
            "enabled": False,
            "settings": {
                "url": "https://sms-gw.example.cn/v2/batch",
                "auth_header": "Authorization",
                "auth_token": "demo-token-7f3a9c2e51b8",
                "callback_token": "cb-1b2c3d4e5f60",
            },
        },
    )
    return channels


def _number_pool(rng: random.Random, size: int) -> list:
    prefixes = {
        Carrier.MOBILE: [
            "134",
            "135",
            "136",
            "137",
            "138",
            "139",
            "150",
            "151",
            "152",
            "158",
            "159",
            "182",
            "183",
            "187",
            "188",
            "198",
        ],
        Carrier.UNICOM: ["130", "131", "132", "155", "156", "166", "185", "186"],
        Carrier.TELECOM: ["133", "153", "173", "177", "180", "181", "189", "199"],
        Carrier.BROADNET: ["192"],
    }
    pool = []
    carriers, weights = zip(*CARRIER_MIX.items(), strict=True)
    while len(pool) < size:
        carrier = rng.choices(carriers, weights)[0]
        raw = rng.choice(prefixes[carrier]) + f"{rng.randrange(10**8):08d}"
        try:
            number = normalize(raw)
        except InvalidNumber:
            continue
        pool.append(number)
    return pool


def _templates(tenant) -> dict[str, tuple]:
    from templates.models import MessageTemplate
    from templates.rendering import fill_body, signature_prefix
    from templates.segments import count_segments

    found = {}
    for template in (
        MessageTemplate.objects.for_tenant(tenant)
        .filter(approved_version__isnull=False, is_rich=False)
        .select_related("approved_version", "signature")
    ):
        version = template.approved_version
        examples = {v.get("name"): v.get("example", "") for v in version.variables or []}
        body = signature_prefix(template.signature.name) + fill_body(version.body, examples)
        found.setdefault(template.kind, (template.pk, version.pk, body, count_segments(body).segments))
    return found


def _traffic(tenant, channels, rng: random.Random, now) -> int:
    templates = _templates(tenant)
    mix = {k: v for k, v in CLASS_MIX[tenant.slug].items() if k in templates}
    if not mix:
        return 0
    classes, class_weights = zip(*mix.items(), strict=True)
    pool = _number_pool(rng, 4000)
    by_carrier = {}
    for channel in channels:
        for carrier in channel.carriers:
            by_carrier.setdefault(carrier, []).append(channel)
    start = now - timedelta(days=DAYS)
    rows = []
    for _ in range(VOLUME[tenant.slug]):
        day = rng.randrange(DAYS)
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        local = (
            (start + timedelta(days=day))
            .astimezone(CHINA)
            .replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        )
        accepted = local.astimezone(UTC)
        if accepted >= now - timedelta(minutes=10):
            continue
        message_class = rng.choices(classes, class_weights)[0]
        template_id, version_id, body, segments = templates[message_class]
        number = rng.choice(pool)
        candidates = by_carrier.get(number.carrier) or channels
        channel = rng.choices(candidates, [c.weight for c in candidates])[0]
        dip = 3.0 if hour == 21 else 1.0
        roll = rng.random()
        reason = ""
        for failure, odds in FAILURES.get(number.carrier, FAILURES[Carrier.MOBILE]).items():
            if roll < odds * dip:
                reason = failure
                break
            roll -= odds * dip
        if not reason and message_class == "marketing" and rng.random() < 0.004:
            reason = "content_blocked"
        if not reason and rng.random() < 0.002:
            reason = "expired"
        submitted = accepted + timedelta(milliseconds=rng.uniform(40, 400 if message_class != "marketing" else 4000))
        latency = LATENCY.get(number.carrier, 1.0) * dip * math.exp(rng.gauss(0, 0.5))
        if reason == "expired":
            status, done = "expired", submitted + timedelta(seconds=600)
        elif reason:
            status, done = "failed", submitted + timedelta(seconds=latency)
        else:
            status, done = "delivered", submitted + timedelta(seconds=latency)
        rows.append(
            (
                tenant.pk,
                accepted,
                done,
                number.e164,
                number.carrier,
                number.province,
                message_class,
                lane_for(message_class),
                PRIORITY_BY_CLASS[message_class],
                template_id,
                version_id,
                body,
                segments,
                status,
                reason,
                "",
                "DELIVRD" if status == "delivered" else RAW.get(reason, ""),
                channel.pk,
                f"SIM{channel.pk}-demo{len(rows)}",
                "routed: demo history",
                "{}",
                1,
                "",
                accepted,
                submitted,
                done,
                0,
                0,
            )
        )
    columns = (
        "tenant_id",
        "created_at",
        "updated_at",
        "number",
        "carrier",
        "province",
        "message_class",
        "lane",
        "priority",
        "template_id",
        "template_version_id",
        "body",
        "segments",
        "status",
        "failure_reason",
        "failure_detail",
        "raw_status",
        "channel_id",
        "channel_ref",
        "route_reason",
        "tried_channel_ids",
        "submit_attempts",
        "client_ref",
        "accepted_at",
        "submitted_at",
        "done_at",
        "parts_delivered_mask",
        "parts_failed_mask",
    )
    rows.sort(key=lambda r: r[1])
    with connection.cursor() as cursor, cursor.copy(COPY_SQL.format(columns=", ".join(columns))) as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _capture(tenants) -> None:
    from billing.services import ledger_capture_batch

    for tenant in tenants:
        delivered = (
            Message.objects.for_tenant(tenant)
            .filter(status="delivered")
            .order_by("done_at")
            .values_list("pk", "segments", "message_class", "done_at")
        )
        batch = []
        for message_id, segments, message_class, done_at in delivered.iterator(chunk_size=5000):
            batch.append((tenant.pk, message_id, segments, message_class, done_at))
            if len(batch) >= 5000:
                ledger_capture_batch(items=batch)
                batch = []
        if batch:
            ledger_capture_batch(items=batch)


def _channel_minutes(since) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_channelminute (channel_id, minute, submitted, submit_errors, delivered, failed,
                expired, latency_ms_sum, latency_count)
            SELECT channel_id, date_trunc('minute', done_at), count(*), 0,
                   count(*) FILTER (WHERE status = 'delivered'), count(*) FILTER (WHERE status = 'failed'),
                   count(*) FILTER (WHERE status = 'expired'),
                   coalesce(sum(extract(epoch FROM done_at - submitted_at) * 1000)
                            FILTER (WHERE status = 'delivered'), 0)::bigint,
                   count(*) FILTER (WHERE status = 'delivered')
            FROM messaging_message WHERE channel_id IS NOT NULL AND done_at >= %s
            GROUP BY 1, 2
            ON CONFLICT (channel_id, minute) DO NOTHING
            """,
            [since],
        )


def _replies(tenant, rng: random.Random, now) -> None:
    from messaging.services import inbound_receive_batch

    recent = list(
        Message.objects.for_tenant(tenant)
        .filter(message_class__in=["marketing", "notification"], status="delivered")
        .order_by("-id")
        .values_list("pk", "number", "channel_id", "done_at")[:400]
    )
    texts = ["好的，谢谢", "收到", "TD", "请问周六几点开门？", "退订", "已签收，谢谢师傅", "R"]
    rows = []
    for message_id, number, channel_id, done_at in rng.sample(recent, min(12, len(recent))):
        rows.append(
            {
                "tenant_id": tenant.pk,
                "channel_id": channel_id,
                "in_reply_to_id": message_id,
                "number": number,
                "text": rng.choice(texts),
                "received_at": min(now, done_at + timedelta(minutes=rng.randrange(1, 90))),
            }
        )
    inbound_receive_batch(rows)


def seed(ctx) -> None:
    rng = random.Random(20260601)
    now = timezone.now()
    channels = seed_channels()
    tenants = [ctx.tenants[slug] for slug in VOLUME if slug in ctx.tenants]
    if Message.objects.filter(tenant__in=tenants).exists():
        return
    for tenant in tenants:
        _traffic(tenant, channels, rng, now)
    _capture(tenants)
    try:
        from billing import demo as billing_demo

        billing_demo.finish(ctx)
    except ImportError:
        pass
    _channel_minutes(now - timedelta(hours=3))
    for tenant in tenants:
        _replies(tenant, rng, now)
