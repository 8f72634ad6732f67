from django.urls import reverse

from compliance.models import Complaint, PlatformComplianceSettings, PlatformSuppression, TenantComplianceSettings
from smsportal.factories.compliance import ComplaintFactory

A = "+8613800138001"


def staff_pages(complaint, tenant):
    return [
        reverse("compliance_staff:overview"),
        reverse("compliance_staff:resume", args=[tenant.pk]),
        reverse("compliance_staff:tenant_limits", args=[tenant.pk]),
        reverse("compliance_staff:suppressions"),
        reverse("compliance_staff:complaints"),
        reverse("compliance_staff:complaint_new"),
        reverse("compliance_staff:complaint_detail", args=[complaint.pk]),
        reverse("compliance_staff:settings"),
        reverse("compliance_staff:audit"),
        reverse("compliance_staff:audit_export"),
    ]


def test_staff_pages_work(staff_client, tenant):
    complaint = ComplaintFactory(tenant=tenant)
    for url in staff_pages(complaint, tenant):
        assert staff_client.get(url).status_code == 200, url


def test_tenant_members_get_404_on_staff_pages(member_client, tenant):
    complaint = ComplaintFactory(tenant=tenant)
    for url in staff_pages(complaint, tenant):
        assert member_client.get(url).status_code == 404, url
        assert member_client.post(url, {}).status_code == 404, url


def test_overview_shows_every_tenants_rate(staff_client, tenant, outsider):
    ComplaintFactory(tenant=tenant)
    body = staff_client.get(reverse("compliance_staff:overview")).content.decode()
    assert tenant.name in body and outsider.tenant.name in body


def test_staff_record_complaint_for_any_tenant(staff_client, tenant):
    response = staff_client.post(
        reverse("compliance_staff:complaint_new"),
        {"tenant": tenant.pk, "source": "12321", "number": "13800138001", "text": "12321 转办工单"},
    )
    assert response.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.tenant == tenant and complaint.recorded_by_label
    staff_client.post(reverse("compliance_staff:complaint_detail", args=[complaint.pk]), {"step": "acknowledge"})
    complaint.refresh_from_db()
    assert complaint.status == "acknowledged"


def test_staff_bad_complaint_input(staff_client, tenant):
    response = staff_client.post(
        reverse("compliance_staff:complaint_new"),
        {"tenant": tenant.pk, "source": "12321", "number": "110", "text": "x"},
    )
    assert response.status_code == 200 and not Complaint.objects.exists()


def test_platform_suppression_bulk(staff_client):
    url = reverse("compliance_staff:suppressions")
    staff_client.post(url, {"add-numbers": "13800138001 13001300001", "add-reason": "complaint", "add-scope": "all"})
    assert PlatformSuppression.objects.filter(removed_at__isnull=True).count() == 2
    staff_client.post(url, {"remove-numbers": "13800138001", "remove-note": "核实误报"})
    assert PlatformSuppression.objects.filter(removed_at__isnull=True).count() == 1


def test_resume_marketing(staff_client, tenant):
    TenantComplianceSettings.objects.create(tenant=tenant, marketing_paused=True, marketing_paused_reason="x")
    url = reverse("compliance_staff:resume", args=[tenant.pk])
    assert staff_client.post(url, {"note": ""}).status_code == 200
    assert staff_client.post(url, {"note": "已整改"}).status_code == 302
    assert not TenantComplianceSettings.objects.get(tenant=tenant).marketing_paused


def test_platform_settings(staff_client):
    data = {
        "code_per_minute": 1,
        "code_per_hour": 5,
        "code_per_day": 8,
        "marketing_per_template_day": 1,
        "notification_per_template_day": 10,
        "complaint_rate_threshold": "3.5",
        "complaint_rate_min_delivered": 1000,
        "complaint_rate_window_days": 30,
        "acknowledge_hours": 24,
        "resolve_hours": 72,
    }
    assert staff_client.post(reverse("compliance_staff:settings"), data).status_code == 302
    assert PlatformComplianceSettings.load().code_per_day == 8


def test_staff_audit_sees_all_tenants(staff_client, tenant, outsider):
    from compliance.audit import audit_record

    audit_record(tenant=tenant, actor=None, action="consent.granted", after={"who": "first"})
    audit_record(tenant=outsider.tenant, actor=None, action="consent.granted", after={"who": "second"})
    body = staff_client.get(reverse("compliance_staff:audit")).content.decode()
    assert "first" in body and "second" in body
    body = staff_client.get(reverse("compliance_staff:audit"), {"tenant": tenant.slug}).content.decode()
    assert "first" in body and "second" not in body


def test_staff_may_loosen_a_tenants_caps(staff_client, tenant):
    url = reverse("compliance_staff:tenant_limits", args=[tenant.pk])
    response = staff_client.post(url, {"retention_days": 365, "code_per_day": 50})
    assert response.status_code == 302
    row = TenantComplianceSettings.objects.get(tenant=tenant)
    assert (row.retention_days, row.code_per_day) == (365, 50)
    assert staff_client.post(url, {"retention_days": 30}).status_code == 200  # below the legal minimum
