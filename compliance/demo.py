"""Compliance demo data: consent for the demo tenants' contacts, unsubscribe replies that
suppressed numbers, complaints in different workflow states, a platform suppression.

Numbers shared with the other apps' demos (contacts, campaigns, messages):
  华美零售 marketing contacts  +86138001380{00..29} (Mobile), +86130013000{01..10} (Unicom),
                               +86189001890{01..06} (Telecom), +86192001920{01..04} (Broadnet)
  快达物流 notification contacts +86139001390{01..12}
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from compliance import services
from compliance.models import (
    Complaint,
    ComplaintSource,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    Purpose,
    SuppressionReason,
    SuppressionScope,
)
from smsportal.numbers import normalize

HUAMEI_MARKETING = (
    [f"+86138001380{i:02d}" for i in range(30)]
    + [f"+86130013000{i:02d}" for i in range(1, 11)]
    + [f"+86189001890{i:02d}" for i in range(1, 7)]
    + [f"+86192001920{i:02d}" for i in range(1, 5)]
)
KUAIDA_NOTIFICATION = [f"+86139001390{i:02d}" for i in range(1, 13)]
HUAMEI_UNSUBSCRIBED = [("+8613800138027", "TD"), ("+8613800138028", "退订"), ("+8613001300010", "ｓｔｏｐ")]
SOURCES = [ConsentSource.WEB_FORM, ConsentSource.APP, ConsentSource.PAPER, ConsentSource.WEB_FORM]
EVIDENCE = {
    ConsentSource.WEB_FORM: "会员注册页勾选“同意接收华美零售优惠信息”，IP 已记录",
    ConsentSource.APP: "华美 APP 设置页开启“促销通知”开关",
    ConsentSource.PAPER: "门店会员登记表（纸质，已扫描存档）",
}


def _records(tenant, numbers, purpose, actor, base_time, label):
    rows = []
    for index, raw in enumerate(numbers):
        number = normalize(raw)
        source = SOURCES[index % len(SOURCES)]
        rows.append(
            ConsentRecord(
                tenant=tenant,
                number=number.e164,
                carrier=number.carrier,
                province=number.province,
                purpose=purpose,
                action=ConsentAction.GRANT,
                occurred_at=base_time + timedelta(hours=7 * index),
                source=source,
                evidence_text=EVIDENCE[source],
                evidence_url="https://huamei.example.cn/consent/form-v3" if source == ConsentSource.WEB_FORM else "",
                recorded_by=actor,
                recorded_by_label=label,
            )
        )
    return rows


def seed(ctx) -> None:
    now = timezone.now()
    huamei = ctx.tenants["huamei-retail"]
    kuaida = ctx.tenants["kuaida-logistics"]
    operator = ctx.users["operator@huamei.example.cn"]
    kuaida_owner = ctx.users["owner@kuaida.example.cn"]
    ConsentRecord.objects.bulk_create(
        _records(huamei, HUAMEI_MARKETING, Purpose.MARKETING, operator, now - timedelta(days=60), operator.email)
        + _records(
            huamei, HUAMEI_MARKETING[:10], Purpose.NOTIFICATION, operator, now - timedelta(days=59), operator.email
        )
        + _records(
            kuaida,
            KUAIDA_NOTIFICATION,
            Purpose.NOTIFICATION,
            kuaida_owner,
            now - timedelta(days=30),
            kuaida_owner.email,
        )
    )
    # Replies that asked to stop: consent revoked and the number suppressed for marketing.
    for index, (number, text) in enumerate(HUAMEI_UNSUBSCRIBED):
        services.inbound_reply_handle(
            tenant=huamei,
            number=number,
            text=text,
            received_at=now - timedelta(days=5 - index),
            channel_label="模拟通道",
        )
    services.suppression_add_bulk(
        tenant=huamei,
        actor=operator,
        numbers=["+8613800138029"],
        reason=SuppressionReason.CARRIER_BLACKLIST,
        scope=SuppressionScope.ALL,
        note="运营商反馈：号码在黑名单",
    )
    # Complaints: one fresh, one being investigated, one resolved.
    fresh = services.complaint_record(
        tenant=huamei,
        actor=operator,
        source=ComplaintSource.CUSTOMER,
        number="+8613800138026",
        text="顾客来电：一天内收到两条促销短信，要求不再发送。",
        received_at=now - timedelta(hours=3),
    )
    investigating = services.complaint_record(
        tenant=huamei,
        actor=ctx.staff[1],
        source=ComplaintSource.CENTRE_12321,
        number="+8618900189006",
        text="12321 转办：用户称未同意接收营销短信（工单 2026-118842）。",
        received_at=now - timedelta(hours=30),
    )
    services.complaint_advance(
        tenant=huamei, actor=operator, complaint_id=investigating.pk, step="investigate", note="调取同意记录核实中"
    )
    resolved = services.complaint_record(
        tenant=huamei,
        actor=ctx.staff[1],
        source=ComplaintSource.CARRIER,
        number="+8613001300009",
        text="中国联通投诉转办：用户投诉营销短信频次过高。",
        received_at=now - timedelta(days=6),
    )
    services.complaint_advance(tenant=huamei, actor=operator, complaint_id=resolved.pk, step="acknowledge")
    services.complaint_advance(
        tenant=huamei,
        actor=operator,
        complaint_id=resolved.pk,
        step="resolve",
        note="已向用户致歉，号码已加入营销屏蔽名单，营销频次上限调整为每模板每天 1 条。",
    )
    assert Complaint.objects.for_tenant(huamei).count() == 3 and fresh.pk
    services.platform_suppression_add_bulk(
        actor=ctx.staff[1],
        numbers=["+8613900139012"],
        reason=SuppressionReason.COMPLAINT,
        scope=SuppressionScope.ALL,
        note="12321 多次投诉，全平台屏蔽",
    )
