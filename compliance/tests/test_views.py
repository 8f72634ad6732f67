import csv
import io

import pytest
from django.urls import reverse

from compliance.models import AuditEvent, Complaint, ConsentImport, ConsentRecord, Suppression
from compliance.views import number_ref, number_url
from smsportal.factories import MembershipFactory
from smsportal.factories.compliance import ComplaintFactory, ConsentRecordFactory, SuppressionFactory
from smsportal.pdf import pdf_fonts, pdf_text
from tenants.models import Role

A = "+8613800138001"


@pytest.fixture
def data(member):
    tenant = member.tenant
    consent = ConsentRecordFactory(tenant=tenant, number=A, evidence_text="门店纸质登记表 第 12 号")
    suppression = SuppressionFactory(tenant=tenant, number="+8613001300001")
    complaint = ComplaintFactory(tenant=tenant, number=A)
    job = ConsentImport.objects.create(
        tenant=tenant, filename="a.csv", content=b"number\n", purpose="marketing", source="import", status="ready"
    )
    return {"consent": consent, "suppression": suppression, "complaint": complaint, "import": job}


def tenant_pages(member, data):
    ref = number_ref(member.tenant_id, A)
    return [
        reverse("compliance:consents"),
        reverse("compliance:consent_new"),
        reverse("compliance:import_new"),
        reverse("compliance:import_detail", args=[data["import"].pk]),
        reverse("compliance:import_progress", args=[data["import"].pk]),
        reverse("compliance:number", args=[ref]),
        reverse("compliance:number_proof", args=[ref]),
        reverse("compliance:suppressions"),
        reverse("compliance:complaints"),
        reverse("compliance:complaint_new"),
        reverse("compliance:complaint_detail", args=[data["complaint"].pk]),
        reverse("compliance:settings"),
        reverse("compliance:audit"),
        reverse("compliance:audit_export"),
    ]


def test_every_page_works_for_the_owner(member_client, member, data):
    for url in tenant_pages(member, data):
        response = member_client.get(url)
        assert response.status_code == 200, url


OBJECT_PAGES = ["compliance:import_detail", "compliance:import_progress", "compliance:complaint_detail"]


def test_outsider_gets_404_for_this_tenants_objects(outsider_client, member, data):
    for name, pk in (
        ("compliance:import_detail", data["import"].pk),
        ("compliance:import_progress", data["import"].pk),
        ("compliance:complaint_detail", data["complaint"].pk),
    ):
        assert outsider_client.get(reverse(name, args=[pk])).status_code == 404, name
        assert (
            outsider_client.post(reverse(name, args=[pk]), {"step": "acknowledge", "mode": "partial"}).status_code
            == 404
        )
    ref = number_ref(member.tenant_id, A)  # a reference minted in another tenant does not open here
    assert outsider_client.get(reverse("compliance:number", args=[ref])).status_code == 404
    assert outsider_client.get(reverse("compliance:number_proof", args=[ref])).status_code == 404


def test_outsider_lists_show_nothing_of_this_tenant(outsider_client, data):
    for name in ("compliance:consents", "compliance:suppressions", "compliance:complaints", "compliance:audit"):
        body = outsider_client.get(reverse(name)).content.decode()
        assert "138****8001" not in body and "130****0001" not in body, name


def test_a_forged_reference_is_404(member_client):
    assert member_client.get(reverse("compliance:number", args=["not-a-token"])).status_code == 404


def test_anonymous_is_sent_to_login(client, member, data):
    for url in tenant_pages(member, data):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url


@pytest.mark.parametrize(
    ("role", "allowed", "denied"),
    [
        (
            Role.VIEWER,
            ["compliance:consents", "compliance:suppressions", "compliance:complaints"],
            [
                "compliance:consent_new",
                "compliance:import_new",
                "compliance:complaint_new",
                "compliance:settings",
                "compliance:audit",
            ],
        ),
        (
            Role.OPERATOR,
            ["compliance:consent_new", "compliance:import_new", "compliance:complaint_new"],
            ["compliance:settings", "compliance:audit", "compliance:audit_export"],
        ),
        (Role.FINANCE, ["compliance:consents"], ["compliance:consent_new", "compliance:audit"]),
        (Role.ADMIN, ["compliance:settings", "compliance:audit", "compliance:audit_export"], []),
    ],
)
def test_roles(client_for, tenant, role, allowed, denied):
    client = client_for(MembershipFactory(tenant=tenant, role=role))
    for name in allowed:
        assert client.get(reverse(name)).status_code == 200, name
    for name in denied:
        assert client.get(reverse(name)).status_code == 403, name


def test_viewer_cannot_post_suppressions_or_advance_complaints(client_for, tenant):
    viewer = client_for(MembershipFactory(tenant=tenant, role=Role.VIEWER))
    response = viewer.post(
        reverse("compliance:suppressions"), {"add-numbers": A, "add-reason": "manual", "add-scope": "all"}
    )
    assert response.status_code == 403
    complaint = ComplaintFactory(tenant=tenant)
    response = viewer.post(reverse("compliance:complaint_detail", args=[complaint.pk]), {"step": "acknowledge"})
    assert response.status_code == 403
    assert not Suppression.objects.for_tenant(tenant).exists()


def test_number_page_masks_for_operators_and_shows_full_to_admins_with_audit(client_for, tenant):
    ConsentRecordFactory(tenant=tenant, number=A)
    url = number_url(tenant.pk, A)
    operator = client_for(MembershipFactory(tenant=tenant, role=Role.OPERATOR))
    body = operator.get(url).content.decode()
    assert "138****8001" in body and "13800138001" not in body
    assert not AuditEvent.objects.filter(action="number.viewed_full").exists()
    admin = client_for(MembershipFactory(tenant=tenant, role=Role.ADMIN))
    body = admin.get(url).content.decode()
    assert "+8613800138001" in body
    assert AuditEvent.objects.filter(tenant=tenant, action="number.viewed_full").count() == 1


def test_number_page_shows_the_whole_history(member_client, member):
    from messaging.models import InboundMessage
    from smsportal.factories.messaging import MessageFactory

    tenant = member.tenant
    ConsentRecordFactory(tenant=tenant, number=A, evidence_text="官网注册勾选")
    ConsentRecordFactory(tenant=tenant, number=A, action="revoke", evidence_text="回复TD")
    SuppressionFactory(tenant=tenant, number=A, note="回复 TD 退订")
    ComplaintFactory(tenant=tenant, number=A, text="用户投诉")
    MessageFactory(tenant=tenant, number=A, body="【华美】周年庆")
    InboundMessage.objects.create(tenant=tenant, number=A, text="ＴＤ", is_opt_out=True)
    body = member_client.get(number_url(tenant.pk, A)).content.decode()
    for kind in (
        "history-consent",
        "history-revocation",
        "history-suppression",
        "history-complaint",
        "history-message",
        "history-reply",
    ):
        assert kind in body, kind
    assert "官网注册勾选" in body and "【华美】周年庆" in body and "ＴＤ" in body


def test_lookup_redirects_to_the_number_page(member_client, member):
    response = member_client.get(reverse("compliance:consents"), {"number": "138 0013 8001"})
    assert response.status_code == 302 and "/compliance/numbers/" in response["Location"]
    assert "13800138001" not in response["Location"]
    response = member_client.get(reverse("compliance:consents"), {"number": "1380013"})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()


def test_consent_proof_pdf_has_chinese_and_an_embedded_cjk_font(member_client, member):
    tenant = member.tenant
    ConsentRecordFactory(tenant=tenant, number=A, evidence_text="门店纸质登记表第十二号")
    response = member_client.get(reverse("compliance:number_proof", args=[number_ref(tenant.pk, A)]))
    assert response["Content-Type"] == "application/pdf"
    pdf = response.content
    text = pdf_text(pdf)
    assert "门店纸质登记表第十二号" in text and tenant.name in text and "+8613800138001" in text
    fonts = " ".join(pdf_fonts(pdf))
    assert any(name in fonts for name in ("WenQuanYi", "Noto", "SourceHan", "Droid")), fonts
    assert AuditEvent.objects.filter(tenant=tenant, action="number.proof_exported").exists()


def test_add_consent_by_hand_with_bad_input(member_client, member):
    url = reverse("compliance:consent_new")
    response = member_client.post(
        url,
        {"number": "02161234567", "purpose": "marketing", "action": "grant", "source": "paper", "evidence_text": "x"},
    )
    assert response.status_code == 200 and "error" in response.content.decode()
    response = member_client.post(url, {"number": A, "purpose": "marketing", "action": "revoke", "source": "paper"})
    assert response.status_code == 200  # nothing to revoke: shown on the form
    assert not ConsentRecord.objects.for_tenant(member.tenant).exists()
    response = member_client.post(
        url,
        {
            "number": "13800138001",
            "purpose": "marketing",
            "action": "grant",
            "source": "paper",
            "evidence_text": "纸质同意书",
        },
    )
    assert response.status_code == 302
    assert ConsentRecord.objects.for_tenant(member.tenant).get().recorded_by == member.user


def test_bulk_suppress_in_the_portal(member_client, member):
    response = member_client.post(
        reverse("compliance:suppressions"),
        {"add-numbers": "13800138001\n13001300001, 123", "add-reason": "manual", "add-scope": "all", "add-note": ""},
    )
    assert response.status_code == 302
    assert Suppression.objects.for_tenant(member.tenant).count() == 2
    response = member_client.post(
        reverse("compliance:suppressions"), {"remove-numbers": "13800138001", "remove-note": "误加"}
    )
    assert Suppression.objects.for_tenant(member.tenant).filter(removed_at__isnull=True).count() == 1


def test_complaint_portal_flow(member_client, member):
    response = member_client.post(
        reverse("compliance:complaint_new"), {"source": "customer", "number": "13800138001", "text": "客户来电投诉"}
    )
    complaint = Complaint.objects.for_tenant(member.tenant).get()
    assert response.status_code == 302
    url = reverse("compliance:complaint_detail", args=[complaint.pk])
    assert member_client.post(url, {"step": "resolve", "note": ""}).status_code == 200  # note required
    member_client.post(url, {"step": "resolve", "note": "已致歉并加入黑名单"})
    complaint.refresh_from_db()
    assert complaint.status == "resolved"


def test_settings_refuse_short_retention(member_client, member):
    response = member_client.post(reverse("compliance:settings"), {"retention_days": "90"})
    assert response.status_code == 200 and "180" in response.content.decode()
    response = member_client.post(reverse("compliance:settings"), {"retention_days": "365", "code_per_day": "5"})
    assert response.status_code == 302


def test_audit_log_filters_and_exports_own_tenant_only(member_client, member, outsider):
    from compliance.audit import audit_record

    audit_record(tenant=member.tenant, actor=member.user, action="consent.granted")
    audit_record(tenant=member.tenant, actor=member.user, action="suppression.added")
    audit_record(tenant=outsider.tenant, actor=outsider.user, action="consent.granted", after={"secret": "theirs"})
    body = member_client.get(reverse("compliance:audit"), {"action": "consent."}).content.decode()
    assert "consent.granted" in body and "suppression.added" not in body and "theirs" not in body
    response = member_client.get(reverse("compliance:audit_export"), {"action": "consent."})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "time" and [r[3] for r in rows[1:]] == ["consent.granted"]
    assert AuditEvent.objects.filter(tenant=member.tenant, action="audit.exported").exists()


def test_import_page_flow(member_client, member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("c.csv", "手机号,凭证\n13800138001,勾选\n1380013,x\n".encode())
    response = member_client.post(
        reverse("compliance:import_new"), {"file": upload, "purpose": "marketing", "source": "import"}
    )
    job = ConsentImport.objects.for_tenant(member.tenant).get()
    assert response.status_code == 302 and response["Location"].endswith(f"/imports/{job.pk}/")
    body = member_client.get(response["Location"]).content.decode()
    assert "import-errors" in body
    member_client.post(response["Location"], {"mode": "partial"})
    assert ConsentRecord.objects.for_tenant(member.tenant).count() == 1


def test_import_page_refuses_an_unreadable_file(member_client, member):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("c.csv", b"name,email\nx,y\n")
    response = member_client.post(
        reverse("compliance:import_new"), {"file": upload, "purpose": "marketing", "source": "import"}
    )
    assert response.status_code == 200 and not ConsentImport.objects.exists()


def test_evidence_file_is_served_only_within_the_tenant(
    member_client, client_for, outsider, member, tmp_path, settings
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("同意书.pdf", b"%PDF-1.4 scanned form")
    response = member_client.post(
        reverse("compliance:consent_new"),
        {"number": A, "purpose": "marketing", "action": "grant", "source": "paper", "evidence_file": upload},
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert "/compliance/numbers/" in response["Location"], response["Location"]
    record = ConsentRecord.objects.for_tenant(member.tenant).get()
    url = reverse("compliance:consent_evidence", args=[record.pk])
    response = member_client.get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4 scanned form"
    assert client_for(outsider).get(url).status_code == 404
    assert url in member_client.get(number_url(member.tenant_id, A)).content.decode()


def test_paging_the_consent_list_shows_no_lookup_error(member_client, member):
    response = member_client.get(reverse("compliance:consents"), {"page": "2"})
    assert response.status_code == 200 and 'class="error"' not in response.content.decode()
