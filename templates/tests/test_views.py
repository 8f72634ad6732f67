"""Portal and staff pages: they render, outsiders get 404, roles are enforced, bad input shows errors."""

from __future__ import annotations

import pytest
from django.urls import reverse

from smsportal.factories import MembershipFactory
from smsportal.factories.templates import (
    MessageTemplateFactory,
    SignatureFactory,
    TemplateVersionFactory,
    TenantVerificationFactory,
    approved_template,
)
from templates import services
from templates.models import (
    MessageTemplate,
    ReviewCase,
    Signature,
    SignatureDocument,
    TemplateVersion,
    TenantVerification,
)
from templates.tests.conftest import VALID_USCC, fake_pdf, pdf_file, png_file
from tenants.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tenant, member, signature, verified):
    """A draft template, an approved one, a rich one with an image frame, a signature document."""
    draft = MessageTemplateFactory(tenant=tenant, signature=signature, name="草稿模板")
    TemplateVersionFactory(template=draft, number=1)
    approved = approved_template(tenant=tenant, signature=signature, name="已通过模板")
    rich = services.template_create(
        tenant=tenant,
        actor=member.user,
        name="图文",
        kind="notification",
        signature_id=signature.pk,
        is_rich=True,
        title="新品",
    )
    frame = services.frame_add(tenant=tenant, actor=member.user, template=rich, kind="image", image=png_file())
    applied = services.signature_apply(
        tenant=tenant, actor=member.user, name="华美App", kind="app", proofs=[pdf_file()]
    )
    document = SignatureDocument.objects.get(signature=applied)
    verified.licence.save("licence.pdf", pdf_file(), save=True)
    verified.licence_content_type = "application/pdf"
    verified.save()
    return {
        "draft": draft,
        "approved": approved,
        "rich": rich,
        "frame": frame,
        "document": document,
        "signature": applied,
    }


def tenant_pages(world):  # every portal URL of the app
    draft, frame, document, signature = world["draft"], world["frame"], world["document"], world["signature"]
    return [
        ("get", reverse("templates:list")),
        ("get", reverse("templates:create")),
        ("get", reverse("templates:detail", args=[draft.pk])),
        ("get", reverse("templates:edit", args=[draft.pk])),
        ("get", reverse("templates:frame_image", args=[frame.pk])),
        ("get", reverse("templates:signatures")),
        ("get", reverse("templates:signature_document", args=[document.pk])),
        ("get", reverse("templates:verification")),
        ("get", reverse("templates:verification_licence")),
        ("post", reverse("templates:submit", args=[draft.pk])),
        ("post", reverse("templates:withdraw", args=[draft.pk])),
        ("post", reverse("templates:fix", args=[draft.pk])),
        ("post", reverse("templates:delete", args=[draft.pk])),
        ("post", reverse("templates:frame_add", args=[world["rich"].pk])),
        ("post", reverse("templates:frame_change", args=[world["rich"].pk, 1])),
        ("post", reverse("templates:signature_resubmit", args=[signature.pk])),
        ("post", reverse("templates:signature_delete", args=[signature.pk])),
    ]


def test_member_sees_every_page(member_client, world):
    for method, url in tenant_pages(world):
        if method == "get":
            response = member_client.get(url)
            assert response.status_code == 200, url


def test_outsider_lists_show_nothing_of_ours(outsider_client, world):
    assert "草稿模板" not in outsider_client.get(reverse("templates:list")).content.decode()
    assert "华美App" not in outsider_client.get(reverse("templates:signatures")).content.decode()
    assert outsider_client.get(reverse("templates:verification_licence")).status_code == 404


def _object_args(world):
    draft, rich = world["draft"], world["rich"]
    return [
        ("detail", [draft.pk]),
        ("edit", [draft.pk]),
        ("frame_image", [world["frame"].pk]),
        ("signature_document", [world["document"].pk]),
        ("submit", [draft.pk]),
        ("withdraw", [draft.pk]),
        ("fix", [draft.pk]),
        ("delete", [draft.pk]),
        ("frame_add", [rich.pk]),
        ("frame_change", [rich.pk, 1]),
        ("signature_resubmit", [world["signature"].pk]),
        ("signature_delete", [world["signature"].pk]),
    ]


def test_outsider_object_pages_all_404(outsider_client, world):
    for name, args in _object_args(world):
        url = reverse(f"templates:{name}", args=args)
        method = "get" if name in {"detail", "edit", "frame_image", "signature_document"} else "post"
        assert getattr(outsider_client, method)(url).status_code == 404, name
    assert MessageTemplate.objects.filter(pk=world["draft"].pk).exists()
    assert Signature.objects.filter(pk=world["signature"].pk).exists()


def test_outsider_counter_and_check_cannot_use_our_template(outsider_client, world):
    data = {"body": "x", "template": world["draft"].pk, "var-TOTAL_FORMS": 0, "var-INITIAL_FORMS": 0}
    assert outsider_client.post(reverse("templates:counter"), data).status_code == 404
    assert outsider_client.post(reverse("templates:check"), data).status_code == 404


def test_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("templates:list"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.FINANCE])
def test_read_only_roles_cannot_write(client_for, tenant, world, role):
    client = client_for(MembershipFactory(tenant=tenant, role=role))
    assert client.get(reverse("templates:list")).status_code == 200
    assert client.get(reverse("templates:create")).status_code == 403
    assert client.post(reverse("templates:submit", args=[world["draft"].pk])).status_code == 403
    assert client.post(reverse("templates:delete", args=[world["draft"].pk])).status_code == 403
    response = client.post(reverse("templates:signatures"), {"name": "新签名", "kind": "app"})
    assert response.status_code == 403
    assert not Signature.objects.filter(name="新签名").exists()
    assert client.post(reverse("templates:verification"), {"company_name": "x"}).status_code == 403


def test_operator_cannot_submit_verification(client_for, teammate, world):
    client = client_for(teammate)
    response = client.post(reverse("templates:verification"), {"company_name": "华美", "credit_code": VALID_USCC})
    assert response.status_code == 403


def form_data(signature, body, variables=(), **extra):
    data = {"name": "双十一活动", "kind": "marketing", "signature": signature.pk, "body": body, "title": ""}
    data.update(
        {"var-TOTAL_FORMS": len(variables) + 1, "var-INITIAL_FORMS": 0, "var-MIN_NUM_FORMS": 0, "var-MAX_NUM_FORMS": 20}
    )
    for index, spec in enumerate(variables):
        for key, value in spec.items():
            data[f"var-{index}-{key}"] = value
    data.update(extra)
    return data


def test_create_submit_fix_flow(member_client, tenant, signature, verified):
    response = member_client.post(reverse("templates:create"), form_data(signature, "尊敬的会员，本周六全场满200减30"))
    template = MessageTemplate.objects.get(tenant=tenant, name="双十一活动")
    assert response.status_code == 302
    member_client.post(reverse("templates:submit", args=[template.pk]))
    page = member_client.get(reverse("templates:detail", args=[template.pk])).content.decode()
    assert "marketing.unsubscribe" in page
    member_client.post(reverse("templates:fix", args=[template.pk]), {"rule": "marketing.unsubscribe"})
    version = TemplateVersion.objects.get(template=template)
    assert version.body.endswith("拒收请回复R")
    member_client.post(reverse("templates:submit", args=[template.pk]))
    version.refresh_from_db()
    assert version.status == "pending_review"


def test_create_with_variables(member_client, tenant, signature):
    data = form_data(
        signature,
        "您的验证码为${code}，5分钟内有效。",
        [{"name": "code", "type": "code", "max_length": 6, "example": "1234"}],
        kind="verification",
        name="登录码",
    )
    assert member_client.post(reverse("templates:create"), data).status_code == 302
    version = TemplateVersion.objects.get(template__name="登录码")
    assert version.variables == [{"name": "code", "type": "code", "max_length": 6, "example": "1234"}]


def test_create_bad_input_shows_errors_and_keeps_text(member_client, tenant, signature):
    data = form_data(signature, "", name="")
    response = member_client.post(reverse("templates:create"), data)
    assert response.status_code == 200
    assert "has-error" in response.content.decode()
    data = form_data(signature, "保留我的文字${x}", [{"name": "x", "type": "", "example": "1"}])
    response = member_client.post(reverse("templates:create"), data)
    assert response.status_code == 200
    assert "保留我的文字" in response.content.decode()
    assert not MessageTemplate.objects.filter(tenant=tenant).exists()


def test_other_tenants_signature_in_form_is_refused(member_client, tenant, outsider):
    foreign = SignatureFactory(tenant=outsider.tenant)
    response = member_client.post(reverse("templates:create"), form_data(foreign, "你好"))
    assert response.status_code == 200
    assert not MessageTemplate.objects.filter(tenant=tenant).exists()


def test_edit_approved_creates_new_draft(member_client, tenant, signature):
    template = approved_template(tenant=tenant, signature=signature)
    data = form_data(signature, "您的验证码为${code}，10分钟内有效。", template.approved_version.variables)
    response = member_client.post(reverse("templates:edit", args=[template.pk]), data)
    assert response.status_code == 302
    assert list(
        TemplateVersion.objects.filter(template=template).order_by("number").values_list("status", flat=True)
    ) == ["approved", "draft"]


def test_counter_counts_signature_and_price(member_client, signature):
    data = {
        "body": "a" * 64,
        "signature": signature.pk,
        "kind": "notification",
        "var-TOTAL_FORMS": 0,
        "var-INITIAL_FORMS": 0,
    }
    page = member_client.post(reverse("templates:counter"), data).content.decode()
    # 【华美零售】 makes it UCS-2: 6 + 64 = 70 → one segment
    assert 'data-testid="characters">70<' in page
    assert 'data-testid="encoding">UCS-2<' in page
    assert 'data-testid="segments">1<' in page
    assert 'data-testid="price">¥0.13<' in page
    data["body"] = "a" * 65
    page = member_client.post(reverse("templates:counter"), data).content.decode()
    assert 'data-testid="segments">2<' in page and "¥0.26" in page


def test_live_check_lists_findings_with_fix(member_client, signature):
    data = {
        "body": "尊敬的会员，上新了",
        "signature": signature.pk,
        "kind": "marketing",
        "var-TOTAL_FORMS": 0,
        "var-INITIAL_FORMS": 0,
    }
    page = member_client.post(reverse("templates:check"), data).content.decode()
    assert "marketing.unsubscribe" in page
    assert "data-fix-body=" in page


def test_signature_apply_page(member_client, tenant):
    response = member_client.post(
        reverse("templates:signatures"), {"name": "【华美】", "kind": "app", "proofs": [pdf_file()]}
    )
    assert response.status_code == 200
    assert "【】" in response.content.decode()
    response = member_client.post(
        reverse("templates:signatures"), {"name": "华美App", "kind": "app", "proofs": [fake_pdf()]}
    )
    assert response.status_code == 200 and not Signature.objects.filter(tenant=tenant).exists()
    response = member_client.post(
        reverse("templates:signatures"), {"name": "华美App", "kind": "app", "proofs": [pdf_file(), png_file()]}
    )
    assert response.status_code == 302
    assert Signature.objects.get(tenant=tenant, name="华美App").documents.count() == 2


def test_verification_page_submit(member_client, tenant):
    response = member_client.post(
        reverse("templates:verification"),
        {"company_name": "华美零售集团有限公司", "credit_code": "91350100M000100Y44", "licence": pdf_file()},
    )
    assert response.status_code == 200
    assert "has-error" in response.content.decode()
    assert not ReviewCase.objects.filter(tenant=tenant).exists()
    response = member_client.post(
        reverse("templates:verification"),
        {
            "company_name": "华美零售集团有限公司",
            "credit_code": VALID_USCC,
            "licence": pdf_file(),
            "registered_domains": "huamei.com",
        },
    )
    assert response.status_code == 302
    assert ReviewCase.objects.filter(tenant=tenant, subject="verification", status="pending").exists()


def test_document_download_is_private(member_client, world):
    response = member_client.get(reverse("templates:signature_document", args=[world["document"].pk]))
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content).startswith(b"%PDF-")


# --- staff ---------------------------------------------------------------------------------


@pytest.fixture
def pending_case(tenant, member, signature):
    template = approved_template(tenant=tenant, signature=signature, name="待审模板")
    services.template_edit(
        tenant=tenant, actor=member.user, template=template, body="您的验证码为${code}，10分钟内有效。"
    )
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    return ReviewCase.objects.get(template_version=version)


def test_staff_queue_and_case(staff_client, pending_case):
    page = staff_client.get(reverse("templates_staff:queue")).content.decode()
    assert "待审模板" in page and "2:00" in page
    page = staff_client.get(reverse("templates_staff:case", args=[pending_case.pk])).content.decode()
    assert "template.queued_for_review" in page  # history
    assert "10分钟内有效" in page


def test_staff_approve_and_reject(staff_client, pending_case):
    response = staff_client.post(reverse("templates_staff:reject", args=[pending_case.pk]), {"reason_code": ""})
    assert response.status_code == 400
    response = staff_client.post(reverse("templates_staff:approve", args=[pending_case.pk]))
    assert response.status_code == 302
    pending_case.refresh_from_db()
    assert pending_case.status == "approved"
    assert pending_case.template_version.template.approved_version_id == pending_case.template_version_id


def test_staff_reject_with_reason(staff_client, pending_case):
    response = staff_client.post(
        reverse("templates_staff:reject", args=[pending_case.pk]),
        {"reason_code": "vague_content", "reason_text": "用途不清"},
    )
    assert response.status_code == 302
    version = TemplateVersion.objects.get(pk=pending_case.template_version_id)
    assert version.status == "rejected" and "用途不清" in version.rejection_reason


def test_staff_pages_are_404_for_tenant_members(member_client, pending_case, world):
    urls = [
        ("get", reverse("templates_staff:queue")),
        ("get", reverse("templates_staff:case", args=[pending_case.pk])),
        ("post", reverse("templates_staff:approve", args=[pending_case.pk])),
        ("post", reverse("templates_staff:reject", args=[pending_case.pk])),
        ("post", reverse("templates_staff:words", args=[pending_case.pk])),
        ("get", reverse("templates_staff:document", args=[world["document"].pk])),
        (
            "get",
            reverse("templates_staff:licence", args=[TenantVerification.objects.get(tenant=world["draft"].tenant).pk]),
        ),
        ("get", reverse("templates_staff:frame_image", args=[world["frame"].pk])),
    ]
    for method, url in urls:
        assert getattr(member_client, method)(url).status_code == 404, url
    pending_case.refresh_from_db()
    assert pending_case.status == "pending"  # a member cannot approve their own tenant's template


def test_staff_can_download_documents(staff_client, world):
    assert staff_client.get(reverse("templates_staff:document", args=[world["document"].pk])).status_code == 200
    assert staff_client.get(reverse("templates_staff:frame_image", args=[world["frame"].pk])).status_code == 200


def test_staff_verification_case_and_words(staff_client, tenant, member):
    verification = services.verification_submit(
        tenant=tenant, actor=member.user, company_name="华美零售集团", credit_code=VALID_USCC, licence=pdf_file()
    )
    case = ReviewCase.objects.get(verification=verification)
    assert staff_client.get(reverse("templates_staff:case", args=[case.pk])).status_code == 200
    assert staff_client.get(reverse("templates_staff:licence", args=[verification.pk])).status_code == 200
    staff_client.post(reverse("templates_staff:words", args=[case.pk]), {"words": "青龙"})
    verification.refresh_from_db()
    assert verification.sensitive_words == ["青龙"]
    staff_client.post(reverse("templates_staff:approve", args=[case.pk]), {"marketing_allowed": "off"})
    verification.refresh_from_db()
    assert verification.is_verified and not verification.marketing_allowed


def test_signature_case_page(staff_client, world):
    case = ReviewCase.objects.get(signature=world["signature"])
    page = staff_client.get(reverse("templates_staff:case", args=[case.pk])).content.decode()
    assert world["document"].original_name in page


def test_verification_factory_flag(tenant):
    assert TenantVerificationFactory(tenant=tenant).is_verified


def test_rich_template_title_edit_page(member_client, world):
    rich = world["rich"]
    data = form_data(world["draft"].signature, "", title="新品到店啦")
    del data["name"], data["kind"]
    response = member_client.post(reverse("templates:edit", args=[rich.pk]), data)
    assert response.status_code == 302
    assert TemplateVersion.objects.get(template=rich, status="draft").title == "新品到店啦"


def test_edit_to_rejected_signature_is_refused(member_client, tenant, signature):
    template = approved_template(tenant=tenant, signature=signature)
    rejected = SignatureFactory(tenant=tenant, status=Signature.Status.REJECTED)
    data = form_data(rejected, "您的验证码为${code}，10分钟内有效。", template.approved_version.variables)
    response = member_client.post(reverse("templates:edit", args=[template.pk]), data)
    assert response.status_code == 200  # the rejected signature is not even a choice
    template.refresh_from_db()
    assert template.signature_id == signature.pk
    assert TemplateVersion.objects.filter(template=template).count() == 1


def test_findings_follow_the_language(member_client, signature):
    from django.conf import settings

    member_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    data = {
        "body": "尊敬的会员，上新了",
        "signature": signature.pk,
        "kind": "marketing",
        "var-TOTAL_FORMS": 0,
        "var-INITIAL_FORMS": 0,
    }
    page = member_client.post(reverse("templates:check"), data).content.decode()
    assert "A marketing message must end with how to unsubscribe" in page
    member_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    page = member_client.post(reverse("templates:check"), data).content.decode()
    assert "营销短信须以退订方式结尾" in page


def test_platform_words_page(staff_client, client_for, tenant, member, signature):
    url = reverse("templates_staff:words_platform")
    member_client = client_for(member)
    assert member_client.get(url).status_code == 404
    assert member_client.post(url, {"word": "青龙"}).status_code == 404
    assert staff_client.get(url).status_code == 200
    staff_client.post(url, {"word": "青龙"})
    from templates.models import PlatformSensitiveWord

    word = PlatformSensitiveWord.objects.get(word="青龙")
    template = services.template_create(
        tenant=tenant,
        actor=member.user,
        name="通知",
        kind="notification",
        signature_id=signature.pk,
        body="青龙已发货。",
    )
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert "content.sensitive" in [f["rule"] for f in version.block_findings]
    staff_client.post(url, {"remove": word.pk})
    assert not PlatformSensitiveWord.objects.exists()
    assert staff_client.post(url, {"remove": "nope"}).status_code == 200
    assert staff_client.post(url, {"word": ""}).status_code == 200
