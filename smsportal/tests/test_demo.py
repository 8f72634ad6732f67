"""The whole demo seed, run once (it makes six weeks of traffic, so it is the slowest test):
every app's part is there, consistent, and a second run changes nothing."""

import pytest
from django.core.management import call_command
from django.db.models import Count

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _context():
    from smsportal.demo import DEMO_TENANTS, STAFF, DemoContext
    from tenants.models import Tenant, User

    return DemoContext(
        tenants={t.slug: t for t in Tenant.objects.filter(slug__in=[t["slug"] for t in DEMO_TENANTS])},
        users={u.email: u for u in User.objects.filter(is_staff=False)},
        staff=[User.objects.get(email=email) for email, _name in STAFF],
    )


def test_demo_seed_makes_every_part_once():
    from smsportal import demo

    assert demo.seed() is True
    assert demo.seed() is False  # the second run reuses the data
    ctx = _context()
    huamei, kuaida = ctx.tenants["huamei-retail"], ctx.tenants["kuaida-logistics"]
    _templates(huamei, kuaida)
    _compliance(huamei, kuaida)
    _billing(huamei, kuaida)
    _messaging()
    _webhooks_and_watch(ctx, huamei)
    _campaigns()
    _reports(huamei, kuaida)


def _templates(huamei, kuaida):
    from templates.models import MessageTemplate, ReviewCase, Signature, TemplateVersion, TenantVerification
    from templates.selectors import template_for_sending

    for tenant, signature in ((huamei, "华美零售"), (kuaida, "快达物流")):
        verification = TenantVerification.objects.get(tenant=tenant)
        assert verification.is_verified and verification.marketing_allowed
        assert Signature.objects.get(tenant=tenant, name=signature).is_approved
        templates = MessageTemplate.objects.filter(tenant=tenant, approved_version__isnull=False)
        assert {"verification", "notification", "marketing", "alert"} <= set(templates.values_list("kind", flat=True))
        for template in templates:
            assert template_for_sending(tenant=tenant, template_id=template.pk)
    assert ReviewCase.objects.filter(status="pending", subject="template").count() >= 3
    assert TemplateVersion.objects.get(status="rejected").rejection_reason
    login_code = MessageTemplate.objects.get(name="登录验证码")
    assert template_for_sending(tenant=login_code.tenant, template_id=login_code.pk).number == 1
    assert login_code.versions.filter(number=2, status="pending_review").exists()


def _compliance(huamei, kuaida):
    from compliance.gates import blocked_numbers
    from compliance.models import Complaint, ConsentRecord, PlatformSuppression, Suppression

    assert ConsentRecord.objects.for_tenant(huamei).filter(purpose="marketing", action="grant").count() >= 50
    assert ConsentRecord.objects.for_tenant(kuaida).filter(purpose="notification").count() >= 12
    assert Suppression.objects.for_tenant(huamei).filter(reason="unsubscribe").count() >= 3
    assert {"received", "investigating", "resolved"} <= set(
        Complaint.objects.for_tenant(huamei).values_list("status", flat=True)
    )
    assert PlatformSuppression.objects.filter(removed_at__isnull=True).exists()
    blocked = blocked_numbers(tenant=huamei, numbers=["+8613800138001", "+8613800138027"], message_class="marketing")
    assert blocked == {"+8613800138027": "suppressed"}


def _billing(huamei, kuaida):
    from billing import selectors
    from billing.models import LedgerEntry, PlanAssignment, Statement

    assert LedgerEntry.objects.filter(tenant=huamei, kind="top_up").count() == 2
    assert LedgerEntry.objects.filter(tenant=kuaida, kind="top_up").exclude(reference="").exists()
    assert PlanAssignment.objects.filter(tenant=kuaida).exists()
    assert selectors.account_balance(tenant=huamei) > 0
    for tenant in (huamei, kuaida):
        assert Statement.objects.filter(tenant=tenant).exists()
    call_command("billing_check")


def _messaging():
    from billing.models import LedgerEntry
    from messaging.models import Channel, InboundMessage, Message

    for carrier in ("mobile", "unicom", "telecom", "broadnet"):
        assert Channel.objects.filter(carriers__contains=[carrier], enabled=True, adapter="simulated").count() >= 2
    assert Channel.objects.filter(adapter="http", enabled=False).exists()
    assert Channel.objects.filter(adapter="smpp").exists()
    by_tenant = dict(Message.objects.values_list("tenant__slug").annotate(n=Count("id")))
    assert by_tenant["huamei-retail"] > 20000 and by_tenant["kuaida-logistics"] > 10000
    assert {"delivered", "failed", "expired"} <= set(Message.objects.values_list("status", flat=True).distinct())
    reasons = set(Message.objects.filter(status="failed").values_list("failure_reason", flat=True).distinct())
    assert {"vacant_number", "unreachable", "carrier_blacklist"} <= reasons
    assert LedgerEntry.objects.filter(kind="capture").count() == Message.objects.filter(status="delivered").count()
    assert InboundMessage.objects.exists()


def _webhooks_and_watch(ctx, huamei):
    from messaging.watch import demo as watch_demo
    from messaging.watch.models import Incident, ProviderCodeMapping
    from messaging.webhooks import demo as webhooks_demo
    from messaging.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent

    for _ in range(2):  # idempotent
        webhooks_demo.seed(ctx)
        watch_demo.seed(ctx)
    assert WebhookEndpoint.objects.filter(tenant=huamei).count() == 1
    assert set(WebhookEvent.objects.filter(tenant=huamei).values_list("status", flat=True)) >= {"delivered", "failed"}
    assert WebhookAttempt.objects.filter(tenant=huamei).count() >= 7
    assert ProviderCodeMapping.objects.filter(code="MK:0001").exists()
    assert Incident.objects.filter(acknowledged_at__isnull=False).count() >= 2


def _campaigns():
    from campaigns.models import Campaign, ContactList, LinkClick
    from messaging.models import Message

    lists = ContactList.objects.filter(tenant__slug="huamei-retail")
    assert lists.count() == 2 and all(cl.contact_count > 500 for cl in lists)
    assert ContactList.objects.filter(tenant__slug="kuaida-logistics").count() == 1
    statuses = set(Campaign.objects.filter(tenant__slug="huamei-retail").values_list("status", flat=True))
    assert {"completed", "scheduled", "draft"} <= statuses
    double11 = Campaign.objects.get(name="双11会员狂欢")
    sent = Message.objects.filter(campaign_id=double11.pk)
    assert sent.filter(status="delivered").count() > 100 and sent.filter(status="failed").exists()
    assert LinkClick.objects.filter(campaign=double11).exists()


def _reports(huamei, kuaida):
    from reports.models import MessageRollup, QualityReport

    for tenant in (huamei, kuaida):
        assert MessageRollup.objects.for_tenant(tenant).exists()
        report = QualityReport.objects.get(tenant=tenant)
        assert report.pages >= 3 and report.summary["delivered"] > 0
