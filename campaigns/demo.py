"""Campaigns demo data: member lists imported through the real importer (CSV, with a few bad
rows), a completed Double-11 campaign with deliveries and clicks, a scheduled 12·12 campaign
and a draft, for 华美零售; a customer list and a draft for 快达物流."""

from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from campaigns import fanout, services
from campaigns.models import Campaign, CampaignRecipient, LinkClick

# Mobile, Unicom, Telecom and Broadnet prefixes: the provinces follow from the numbers.
PREFIXES = ["138", "139", "135", "150", "187", "130", "131", "186", "156", "133", "189", "180", "177", "199", "192"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "洋", "艳", "杰", "娟", "涛", "明", "超", "秀英"]


def _members_csv(rng: random.Random, count: int, *, extra_columns=True) -> bytes:
    lines = ["手机号,name,points,城市" if extra_columns else "手机号,name"]
    for index in range(count):
        number = f"{rng.choice(PREFIXES)}{rng.randrange(10**8):08d}"
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        if extra_columns:
            lines.append(f"{number},{name},{rng.randrange(50, 8000)},{rng.choice(['上海', '南京', '杭州', '广州'])}")
        else:
            lines.append(f"{number},{name}")
        if index % 997 == 0:
            lines.append(f"{number},{name},0,重复行" if extra_columns else f"{number},{name}")  # a duplicate
    lines += [
        "12345,测试,0,无效" if extra_columns else "12345,测试",
        "010-88886666,座机,0,无效" if extra_columns else "x,y",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _import(tenant, actor, name: str, content: bytes):
    started = services.contact_import_start(
        tenant=tenant, actor=actor, upload=SimpleUploadedFile(f"{name}.csv", content), new_list_name=name
    )
    done = services.contact_import_run(contact_import_id=started.pk)
    return done.contact_list


def _grant_consent(tenant, contact_list, share: float) -> None:
    """Most members ticked “receive offers” when they joined (recorded like compliance does)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO compliance_consentrecord (tenant_id, created_at, updated_at, number, carrier, province,
                   purpose, action, occurred_at, source, evidence_text, evidence_url, evidence_file, recorded_by_label)
               SELECT tenant_id, now(), now(), number, carrier, province, 'marketing', 'grant',
                      now() - interval '90 days', 'web_form', '会员注册页勾选“同意接收华美零售优惠信息”', '', '',
                      'demo import'
                 FROM campaigns_contact
                WHERE tenant_id = %s AND contact_list_id = %s AND abs(hashtext(number)) %% 100 < %s""",
            [tenant.pk, contact_list.pk, int(share * 100)],
        )


def _marketing_template(tenant, name: str):
    from templates.models import MessageTemplate

    return MessageTemplate.objects.for_tenant(tenant).filter(name=name, approved_version__isnull=False).first()


def _settle(campaign: Campaign, *, at: dt.datetime, rng: random.Random) -> None:
    """What the channels reported on the night: most delivered, a realistic failure mix."""
    from billing.services import ledger_capture_batch, ledger_release_batch
    from messaging.models import Message

    rows = list(
        Message.objects.filter(tenant=campaign.tenant, campaign_id=campaign.pk, status="queued").values_list(
            "id", "segments", "message_class"
        )
    )
    delivered, failed = [], []
    reasons = ["vacant_number"] * 4 + ["unreachable"] * 5 + ["carrier_blacklist"] * 1
    with connection.cursor() as cursor:
        for index, (message_id, segments, message_class) in enumerate(rows):
            sent = at + dt.timedelta(seconds=index // 40)
            if rng.random() < 0.965:
                cursor.execute(
                    """UPDATE messaging_message SET status = 'delivered', send_at = %s, submitted_at = %s,
                              done_at = %s, accepted_at = %s WHERE id = %s""",
                    [sent, sent, sent + dt.timedelta(seconds=rng.uniform(1.5, 6)), at, message_id],
                )
                delivered.append((campaign.tenant_id, message_id, segments, message_class, sent))
            else:
                reason = rng.choice(reasons)
                cursor.execute(
                    """UPDATE messaging_message SET status = 'failed', failure_reason = %s, send_at = %s,
                              submitted_at = %s, done_at = %s, accepted_at = %s WHERE id = %s""",
                    [reason, sent, sent, sent + dt.timedelta(seconds=20), at, message_id],
                )
                failed.append((campaign.tenant_id, message_id))
    if delivered:
        ledger_capture_batch(items=delivered)
    if failed:
        ledger_release_batch(items=failed)


def _clicks(campaign: Campaign, *, at: dt.datetime, rng: random.Random) -> None:
    recipients = list(
        CampaignRecipient.objects.filter(tenant=campaign.tenant, campaign=campaign).values_list("pk", flat=True)
    )
    clicked = rng.sample(recipients, k=max(1, len(recipients) // 12))
    CampaignRecipient.objects.filter(pk__in=clicked).update(clicks=1)
    per_hour: dict[dt.datetime, int] = {}
    for _ in clicked:
        hour = (at + dt.timedelta(hours=min(int(rng.expovariate(0.6)), 30))).replace(minute=0, second=0, microsecond=0)
        per_hour[hour] = per_hour.get(hour, 0) + 1
    LinkClick.objects.bulk_create(
        LinkClick(tenant=campaign.tenant, campaign=campaign, hour=hour, clicks=count + count // 5, unique_clicks=count)
        for hour, count in per_hour.items()
    )


def seed(ctx) -> None:
    rng = random.Random(1111)
    huamei = ctx.tenants["huamei-retail"]
    kuaida = ctx.tenants["kuaida-logistics"]
    operator = ctx.users["operator@huamei.example.cn"]
    kuaida_owner = ctx.users["owner@kuaida.example.cn"]
    services.campaign_settings_for(tenant=huamei)
    services.campaign_settings_for(tenant=kuaida)

    members = _import(huamei, operator, "华美会员（全国）", _members_csv(rng, 3000))
    vip = _import(huamei, operator, "华东金卡会员", _members_csv(rng, 600))
    _grant_consent(huamei, members, 0.85)
    _grant_consent(huamei, vip, 0.95)
    customers = _import(kuaida, kuaida_owner, "快达寄件客户", _members_csv(rng, 1200, extra_columns=False))
    _grant_consent(kuaida, customers, 0.7)

    promo = _marketing_template(huamei, "会员日促销")
    if promo is None:
        return  # the templates demo did not approve it: lists only
    shanghai = ZoneInfo(huamei.timezone)

    # Double-11: sent on the night of 11 November, completed.
    double11 = services.campaign_save(
        tenant=huamei,
        actor=operator,
        name="双11会员狂欢",
        template_id=promo.pk,
        list_ids=[members.pk, vip.pk],
        audience_filter={"consent": "granted"},
        respect_quiet_hours=True,
        rate_per_minute=3000,
    )
    services.campaign_review(tenant=huamei, actor=operator, campaign=double11)
    services.campaign_start(tenant=huamei, actor=operator, campaign=double11)
    fanout.campaign_fanout_run(campaign_id=double11.pk)
    night = dt.datetime(timezone.now().year, 11, 11, 19, 30, tzinfo=shanghai)
    if night > timezone.now():
        night = night.replace(year=night.year - 1)
    _settle(double11, at=night, rng=rng)
    Campaign.objects.filter(pk=double11.pk).update(
        status=Campaign.Status.COMPLETED,
        started_at=night,
        finished_at=night + dt.timedelta(minutes=50),
        link_url="https://m.huamei.example.cn/double11",
        created_at=night - dt.timedelta(days=3),
    )
    _clicks(Campaign.objects.get(pk=double11.pk), at=night, rng=rng)

    # 12·12: reviewed and scheduled for the morning of 12 December.
    twelve = services.campaign_save(
        tenant=huamei,
        actor=operator,
        name="12·12 年终盛典",
        template_id=promo.pk,
        list_ids=[members.pk],
        audience_filter={"consent": "granted", "conditions": [{"field": "points", "op": "gte", "value": "1000"}]},
        send_at=max(
            dt.datetime(timezone.now().year, 12, 12, 10, 0, tzinfo=shanghai), timezone.now() + dt.timedelta(days=1)
        ),
        rate_per_minute=2000,
    )
    services.campaign_review(tenant=huamei, actor=operator, campaign=twelve)
    services.campaign_start(tenant=huamei, actor=operator, campaign=twelve)

    # A draft being prepared: Shanghai gold members only.
    services.campaign_save(
        tenant=huamei,
        actor=operator,
        name="元旦金卡会员关怀（草稿）",
        template_id=promo.pk,
        list_ids=[vip.pk],
        audience_filter={"provinces": ["上海市"], "consent": "granted"},
    )

    kuaida_promo = _marketing_template(kuaida, "双十一寄件优惠")
    if kuaida_promo is not None:
        services.campaign_save(
            tenant=kuaida,
            actor=kuaida_owner,
            name="寄件客户回馈（草稿）",
            template_id=kuaida_promo.pk,
            list_ids=[customers.pk],
            audience_filter={"consent": "granted"},
        )
