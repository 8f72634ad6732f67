from compliance.demo import HUAMEI_MARKETING, KUAIDA_NOTIFICATION
from compliance.gates import blocked_numbers
from compliance.models import Complaint, ConsentRecord, PlatformSuppression, Suppression
from tenants.models import Tenant


def test_demo_seed_creates_compliance_data(db, tmp_path, monkeypatch):
    from smsportal import demo

    monkeypatch.setattr(demo, "LOGINS_FILE", tmp_path / "demo-logins.json")  # never clobber the real demo's logins
    assert demo.seed() is True
    huamei = Tenant.objects.get(slug="huamei-retail")
    kuaida = Tenant.objects.get(slug="kuaida-logistics")
    # Other apps' demos (campaign contacts) may add consent of their own; ours must all be there.
    granted = set(
        ConsentRecord.objects.for_tenant(huamei)
        .filter(purpose="marketing", action="grant")
        .values_list("number", flat=True)
    )
    assert set(HUAMEI_MARKETING) <= granted
    assert set(KUAIDA_NOTIFICATION) <= set(
        ConsentRecord.objects.for_tenant(kuaida).filter(purpose="notification").values_list("number", flat=True)
    )
    unsubscribed = set(
        Suppression.objects.for_tenant(huamei).filter(reason="unsubscribe").values_list("number", flat=True)
    )
    assert {"+8613800138027", "+8613800138028", "+8613001300010"} <= unsubscribed
    assert set(Complaint.objects.for_tenant(huamei).values_list("status", flat=True)) >= {
        "received",
        "investigating",
        "resolved",
    }
    assert PlatformSuppression.objects.filter(removed_at__isnull=True).exists()
    blocked = blocked_numbers(tenant=huamei, numbers=["+8613800138001", "+8613800138027"], message_class="marketing")
    assert blocked == {"+8613800138027": "suppressed"}
