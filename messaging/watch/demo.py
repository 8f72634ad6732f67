"""Demo data for the watch: a (disabled) generic HTTP provider channel with an edited code
mapping, and an incident history with acknowledgement times around the 30-minute target.
Idempotent. Called from messaging.demo.seed(ctx)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from messaging.models import Channel
from messaging.watch.models import Incident, ProviderCodeMapping
from smsportal.enums import Carrier, MessageClass

HTTP_CHANNEL = "云讯HTTP-备用（演示）"


def seed(ctx) -> None:
    if Channel.objects.filter(name=HTTP_CHANNEL).exists():
        return
    ops = ctx.staff[1] if len(ctx.staff) > 1 else (ctx.staff[0] if ctx.staff else None)
    channel = Channel.objects.create(
        name=HTTP_CHANNEL,
        adapter="http",
        carriers=[Carrier.MOBILE, Carrier.UNICOM, Carrier.TELECOM],
        message_classes=[MessageClass.NOTIFICATION, MessageClass.MARKETING],
        enabled=False,  # no real provider behind it in the demo
        weight=50,
        settings={
            "url": "https://api.yunxun.example.cn/v1/sms/batch",
            "header_name": "Authorization",
            "auth_value": "Bearer demo-not-a-real-token",
            "callback_token": "demo-callback-token",
        },
    )
    ProviderCodeMapping.objects.bulk_create(
        [
            ProviderCodeMapping(
                channel=channel,
                scope="receipt",
                code="MK:0001",
                outcome="failed",
                failure_reason="vacant_number",
                note="空号",
                updated_by=ops,
            ),
            ProviderCodeMapping(
                channel=channel,
                scope="receipt",
                code="MK:0005",
                outcome="failed",
                failure_reason="unreachable",
                note="关机/不在服务区",
                updated_by=ops,
            ),
            ProviderCodeMapping(
                channel=channel,
                scope="receipt",
                code="MI:0024",
                outcome="failed",
                failure_reason="carrier_blacklist",
                note="运营商黑名单",
                updated_by=ops,
            ),
            ProviderCodeMapping(
                channel=channel,
                scope="submit",
                code="E429",
                outcome="retry",
                failure_reason="throttled",
                note="服务商限速",
                updated_by=ops,
            ),
        ]
    )
    now = timezone.now()
    other = Channel.objects.exclude(pk=channel.pk).order_by("id").first() or channel
    history = [
        (Incident.Kind.BREAKER_OPEN, f"channel:{other.pk}", f"通道 {other.name}：熔断器状态 open", 3, 12, 40),
        (
            Incident.Kind.LOW_DELIVERY_RATE,
            f"channel:{other.pk}",
            f"通道 {other.name}：送达率 91.2%（阈值 95.0%）",
            9,
            41,
            95,
        ),
        (
            Incident.Kind.LANE_BACKLOG,
            "class:verification",
            "验证码在 urgent 队列中已等待 4.2 秒（目标 3 秒）",
            15,
            None,
            2,
        ),
    ]
    for kind, subject, summary, days_ago, ack_minutes, resolve_minutes in history:
        started = now - timedelta(days=days_ago, hours=3)
        Incident.objects.create(
            kind=kind,
            subject=subject,
            channel=other if subject.startswith("channel:") else None,
            lane="urgent" if kind == Incident.Kind.LANE_BACKLOG else "",
            message_class=MessageClass.VERIFICATION if kind == Incident.Kind.LANE_BACKLOG else "",
            summary=summary,
            details={"demo": True},
            started_at=started,
            last_seen_at=started + timedelta(minutes=resolve_minutes),
            acknowledged_at=started + timedelta(minutes=ack_minutes) if ack_minutes else None,
            acknowledged_by=ops if ack_minutes else None,
            recovered_at=None if ack_minutes else started + timedelta(minutes=resolve_minutes),
            resolved_at=started + timedelta(minutes=resolve_minutes),
            resolved_by=ops if ack_minutes else None,
        )
