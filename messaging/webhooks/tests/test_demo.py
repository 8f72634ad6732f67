import pytest

pytestmark = pytest.mark.django_db


def _context():
    """The demo context as smsportal.demo.seed() builds it, read back from the database."""
    from smsportal.demo import DEMO_TENANTS, STAFF, DemoContext
    from tenants.models import Tenant, User

    return DemoContext(
        tenants={t.slug: t for t in Tenant.objects.filter(slug__in=[t["slug"] for t in DEMO_TENANTS])},
        users={u.email: u for u in User.objects.filter(is_staff=False)},
        staff=[User.objects.get(email=email) for email, _name in STAFF],
    )


def test_demo_seed_has_a_webhook_history_and_watch_data(tmp_path, monkeypatch):
    from messaging.watch import demo as watch_demo
    from messaging.watch.models import Incident, ProviderCodeMapping
    from messaging.webhooks import demo as webhooks_demo
    from messaging.webhooks.models import WebhookAttempt, WebhookEndpoint, WebhookEvent
    from smsportal import demo

    monkeypatch.setattr(demo, "LOGINS_FILE", tmp_path / "demo-logins.json")  # never clobber the real demo's logins
    assert demo.seed() is True
    ctx = _context()
    # messaging.demo calls these; calling again must change nothing (idempotent).
    for _ in range(2):
        webhooks_demo.seed(ctx)
        watch_demo.seed(ctx)

    huamei = ctx.tenants["huamei-retail"]
    assert WebhookEndpoint.objects.filter(tenant=huamei).count() == 1
    assert set(WebhookEvent.objects.filter(tenant=huamei).values_list("status", flat=True)) == {"delivered", "failed"}
    assert WebhookAttempt.objects.filter(tenant=huamei).count() == 7
    assert ProviderCodeMapping.objects.filter(code="MK:0001").exists()
    assert Incident.objects.filter(acknowledged_at__isnull=False).count() == 2
