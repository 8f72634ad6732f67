"""The review workflow: every transition, every forbidden one, and bad input."""

from __future__ import annotations

import pytest
from django.core import mail

from compliance.models import AuditEvent
from smsportal.errors import ServiceError
from smsportal.factories.templates import SignatureFactory, TemplateVersionFactory, approved_template
from templates import services
from templates.models import MessageTemplate, ReviewCase, Signature, TemplateVersion, TenantVerification
from templates.selectors import template_for_sending
from templates.tests.conftest import VALID_USCC, fake_pdf, pdf_file, png_file

pytestmark = pytest.mark.django_db

GOOD_MARKETING = "尊敬的会员，本周六会员日全场满200减30。拒收请回复R"
CODE_VARS = [{"name": "code", "type": "code", "max_length": 6, "example": "385721"}]


def make_template(
    tenant, actor, signature, *, kind="verification", body="您的验证码为${code}，5分钟内有效。", variables=None
):
    return services.template_create(
        tenant=tenant,
        actor=actor,
        name=f"模板{MessageTemplate.objects.count() + 1}",
        kind=kind,
        signature_id=signature.pk,
        body=body,
        variables=CODE_VARS if variables is None else variables,
    )


def actions(tenant):
    return list(AuditEvent.objects.filter(tenant=tenant).order_by("id").values_list("action", flat=True))


def versions(template):
    return list(TemplateVersion.objects.filter(template=template).order_by("number").values_list("number", "status"))


# --- the happy path, transition by transition --------------------------------------------------


def test_full_lifecycle_draft_to_approved_to_new_version(
    tenant, member, signature, reviewer, django_capture_on_commit_callbacks
):
    template = make_template(tenant, member.user, signature)
    assert versions(template) == [(1, "draft")]

    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert version.status == TemplateVersion.Status.PENDING_REVIEW
    case = ReviewCase.objects.get(template_version=version)
    assert case.status == ReviewCase.Status.PENDING and case.due_at > case.queued_at

    with django_capture_on_commit_callbacks(execute=True):
        services.review_approve(actor=reviewer, case_id=case.pk)
    template.refresh_from_db()
    assert template.approved_version.number == 1
    assert template_for_sending(tenant=tenant, template_id=template.pk).number == 1
    assert len(mail.outbox) == 1
    assert member.user.email in mail.outbox[0].to
    assert template.name in mail.outbox[0].subject

    draft = services.template_edit(
        tenant=tenant, actor=member.user, template=template, body="您的验证码为${code}，10分钟内有效。"
    )
    assert draft.number == 2 and draft.status == "draft"
    assert template_for_sending(tenant=tenant, template_id=template.pk).number == 1  # old one still in force
    version1 = TemplateVersion.objects.get(template=template, number=1)
    assert version1.body == "您的验证码为${code}，5分钟内有效。"  # untouched

    services.template_submit(tenant=tenant, actor=member.user, template=template)
    case2 = ReviewCase.objects.get(template_version=draft)
    services.review_approve(actor=reviewer, case_id=case2.pk)
    assert versions(template) == [(1, "superseded"), (2, "approved")]
    assert template_for_sending(tenant=tenant, template_id=template.pk).number == 2
    assert actions(tenant) == [
        "template.created",
        "template.submitted",
        "template.queued_for_review",
        "template.approved",
        "template.version_created",
        "template.submitted",
        "template.queued_for_review",
        "template.approved",
    ]


def test_block_finding_returns_draft_with_findings(tenant, member, signature, verified):
    template = make_template(
        tenant, member.user, signature, kind="marketing", body="尊敬的会员，本周六全场满200减30", variables=[]
    )
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert version.status == TemplateVersion.Status.DRAFT
    assert "marketing.unsubscribe" in [f["rule"] for f in version.block_findings]
    assert not ReviewCase.objects.filter(template_version=version).exists()
    assert actions(tenant)[-2:] == ["template.submitted", "template.returned"]
    # applying the fix and resubmitting queues it
    fix = next(f for f in version.findings if f["rule"] == "marketing.unsubscribe")["fix"]
    services.template_edit(tenant=tenant, actor=member.user, template=template, body=fix["body"])
    assert services.template_submit(tenant=tenant, actor=member.user, template=template).status == "pending_review"


def test_warnings_do_not_block(tenant, member, signature):
    template = make_template(
        tenant, member.user, signature, kind="notification", body="请登陆App查看订单。", variables=[]
    )
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert version.status == "pending_review"
    assert [f["rule"] for f in version.findings] == ["content.typo"]


def test_reject_requires_reason_and_records_it(tenant, member, signature, reviewer, django_capture_on_commit_callbacks):
    template = make_template(tenant, member.user, signature)
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    case = ReviewCase.objects.get(template_version=version)
    with pytest.raises(ServiceError) as caught:
        services.review_reject(actor=reviewer, case_id=case.pk, reason_code="")
    assert caught.value.code == "reason_required"
    with pytest.raises(ServiceError):
        services.review_reject(actor=reviewer, case_id=case.pk, reason_code="other", reason_text=" ")
    with django_capture_on_commit_callbacks(execute=True):
        services.review_reject(actor=reviewer, case_id=case.pk, reason_code="vague_content", reason_text="请写明用途")
    version.refresh_from_db()
    assert version.status == "rejected"
    assert "请写明用途" in version.rejection_reason
    assert len(mail.outbox) == 1
    assert member.user.email in mail.outbox[0].to
    assert "请写明用途" in mail.outbox[0].body
    # a rejected version is immutable: editing makes version 2
    draft = services.template_edit(
        tenant=tenant, actor=member.user, template=template, body="您的验证码为${code}，用于登录。"
    )
    assert draft.number == 2
    assert TemplateVersion.objects.get(pk=version.pk).status == "rejected"


def test_withdraw_returns_to_draft_and_closes_case(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    services.template_withdraw(tenant=tenant, actor=member.user, template=template)
    version.refresh_from_db()
    assert version.status == "draft"
    assert ReviewCase.objects.get(template_version=version).status == "withdrawn"
    assert "template.withdrawn" in actions(tenant)


# --- forbidden transitions -------------------------------------------------------------------


def test_non_staff_cannot_approve_even_own_tenant(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    case = ReviewCase.objects.get(template_version=version)
    with pytest.raises(ServiceError) as caught:
        services.review_approve(actor=member.user, case_id=case.pk)
    assert caught.value.code == "not_reviewer" and caught.value.status == 403
    with pytest.raises(ServiceError):
        services.review_reject(actor=member.user, case_id=case.pk, reason_code="other", reason_text="x")
    version.refresh_from_db()
    assert version.status == "pending_review"


def test_cannot_decide_twice(tenant, member, signature, reviewer):
    template = make_template(tenant, member.user, signature)
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    case = ReviewCase.objects.get(template_version=version)
    services.review_approve(actor=reviewer, case_id=case.pk)
    with pytest.raises(ServiceError) as caught:
        services.review_reject(actor=reviewer, case_id=case.pk, reason_code="other", reason_text="late")
    assert caught.value.code == "already_decided"
    with pytest.raises(ServiceError):
        services.review_approve(actor=reviewer, case_id=case.pk)


def test_cannot_submit_without_draft(tenant, member, signature):
    template = approved_template(tenant=tenant, signature=signature)
    with pytest.raises(ServiceError) as caught:
        services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert caught.value.code == "no_draft"


def test_cannot_submit_twice(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    services.template_submit(tenant=tenant, actor=member.user, template=template)
    with pytest.raises(ServiceError) as caught:
        services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert caught.value.code == "no_draft"


def test_cannot_edit_while_under_review(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    services.template_submit(tenant=tenant, actor=member.user, template=template)
    with pytest.raises(ServiceError) as caught:
        services.template_edit(tenant=tenant, actor=member.user, template=template, body="改动${code}")
    assert caught.value.code == "version_under_review"
    assert TemplateVersion.objects.get(template=template).body == "您的验证码为${code}，5分钟内有效。"


def test_cannot_withdraw_when_nothing_pending(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    with pytest.raises(ServiceError) as caught:
        services.template_withdraw(tenant=tenant, actor=member.user, template=template)
    assert caught.value.code == "not_under_review"


def test_template_approval_needs_approved_signature(tenant, member, reviewer):
    pending_signature = SignatureFactory(tenant=tenant, status=Signature.Status.PENDING_REVIEW)
    template = make_template(tenant, member.user, pending_signature)
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    case = ReviewCase.objects.get(template_version=version)
    with pytest.raises(ServiceError) as caught:
        services.review_approve(actor=reviewer, case_id=case.pk)
    assert caught.value.code == "signature_not_approved"


def test_withdrawn_case_cannot_be_decided(tenant, member, signature, reviewer):
    template = make_template(tenant, member.user, signature)
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    services.template_withdraw(tenant=tenant, actor=member.user, template=template)
    case = ReviewCase.objects.get(template_version=version)
    with pytest.raises(ServiceError) as caught:
        services.review_approve(actor=reviewer, case_id=case.pk)
    assert caught.value.code == "already_decided"


def test_direct_version_edit_of_approved_is_impossible_through_edit(tenant, member, signature):
    template = approved_template(tenant=tenant, signature=signature)
    approved_id = template.approved_version_id
    services.template_edit(tenant=tenant, actor=member.user, template=template, body="新文本${code}，5分钟内有效。")
    assert TemplateVersion.objects.get(pk=approved_id).body == "您的验证码为${code}，5分钟内有效，请勿泄露给他人。"


# --- templates: bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"name": ""}, "invalid_name"),
        ({"kind": "spam"}, "invalid_kind"),
        ({"signature_id": 999999}, "signature_not_found"),
        ({"body": "  "}, "body_required"),
        ({"variables": "code"}, "invalid_variables"),
        ({"variables": [{"name": "code", "type": "code", "max_length": "six"}]}, "invalid_variables"),
    ],
)
def test_template_create_bad_input(tenant, member, signature, kwargs, code):
    data = {"name": "登录验证码", "kind": "verification", "signature_id": signature.pk, "body": "验证码${code}"}
    data.update(kwargs)
    with pytest.raises(ServiceError) as caught:
        services.template_create(tenant=tenant, actor=member.user, **data)
    assert caught.value.code == code
    assert not MessageTemplate.objects.filter(tenant=tenant).exists()


def test_template_create_duplicate_name(tenant, member, signature):
    make_template(tenant, member.user, signature)
    with pytest.raises(ServiceError) as caught:
        services.template_create(
            tenant=tenant, actor=member.user, name="模板1", kind="alert", signature_id=signature.pk, body="x"
        )
    assert caught.value.code == "template_exists"


def test_other_tenants_signature_cannot_be_used(tenant, member, outsider):
    foreign = SignatureFactory(tenant=outsider.tenant)
    with pytest.raises(ServiceError) as caught:
        services.template_create(
            tenant=tenant, actor=member.user, name="x", kind="alert", signature_id=foreign.pk, body="告警"
        )
    assert caught.value.code == "signature_not_found"


def test_undeclared_variable_is_a_block_finding(tenant, member, signature):
    template = make_template(tenant, member.user, signature, body="您的验证码为${code}，${who}，5分钟内有效。")
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert version.status == "draft"
    assert "var.undeclared" in [f["rule"] for f in version.block_findings]


def test_template_delete_rules(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    services.template_delete(tenant=tenant, actor=member.user, template=template)
    assert not MessageTemplate.objects.filter(pk=template.pk).exists()
    approved = approved_template(tenant=tenant, signature=signature)
    with pytest.raises(ServiceError) as caught:
        services.template_delete(tenant=tenant, actor=member.user, template=approved)
    assert caught.value.code == "template_in_use"


# --- signatures ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("【华美零售】", "signature_brackets"),
        ("[华美]", "signature_brackets"),
        ("华", "invalid_signature"),
        ("华美零售华美零售华美零售华", "invalid_signature"),
        ("华美 零售", "invalid_signature"),
        ("华美-零售", "invalid_signature"),
        ("客服通知", "vague_signature"),
        ("温馨提示", "vague_signature"),
    ],
)
def test_signature_name_rules(tenant, member, name, code):
    with pytest.raises(ServiceError) as caught:
        services.signature_apply(tenant=tenant, actor=member.user, name=name, kind="trademark", proofs=[pdf_file()])
    assert caught.value.code == code
    assert caught.value.fields.get("name")
    assert not Signature.objects.filter(tenant=tenant).exists()


def test_signature_apply_and_review(tenant, member, reviewer):
    signature = services.signature_apply(
        tenant=tenant, actor=member.user, name="华美App", kind="app", proofs=[png_file(), pdf_file()]
    )
    assert signature.status == "pending_review"
    assert signature.documents.count() == 2
    case = ReviewCase.objects.get(signature=signature)
    services.review_reject(actor=reviewer, case_id=case.pk, reason_code="documents_missing")
    signature.refresh_from_db()
    assert signature.status == "rejected" and signature.rejection_reason
    services.signature_resubmit(tenant=tenant, actor=member.user, signature=signature, proofs=[pdf_file("new.pdf")])
    new_case = ReviewCase.objects.get(signature=signature, status="pending")
    services.review_approve(actor=reviewer, case_id=new_case.pk)
    signature.refresh_from_db()
    assert signature.is_approved
    assert "signature.submitted" in actions(tenant) and "signature.approved" in actions(tenant)


def test_signature_resubmit_only_when_rejected(tenant, member, signature):
    with pytest.raises(ServiceError) as caught:
        services.signature_resubmit(tenant=tenant, actor=member.user, signature=signature, proofs=[pdf_file()])
    assert caught.value.code == "signature_not_rejected"


def test_signature_needs_proof(tenant, member):
    with pytest.raises(ServiceError) as caught:
        services.signature_apply(tenant=tenant, actor=member.user, name="华美App", kind="app", proofs=[])
    assert caught.value.code == "proof_required"
    assert not Signature.objects.filter(tenant=tenant).exists()


def test_third_party_signature_needs_authorisation(tenant, member):
    with pytest.raises(ServiceError) as caught:
        services.signature_apply(
            tenant=tenant, actor=member.user, name="合作品牌", kind="trademark", third_party=True, proofs=[pdf_file()]
        )
    assert caught.value.code == "authorisation_required"
    signature = services.signature_apply(
        tenant=tenant,
        actor=member.user,
        name="合作品牌",
        kind="trademark",
        third_party=True,
        proofs=[pdf_file()],
        authorisation=pdf_file("letter.pdf"),
    )
    assert signature.documents.filter(kind="authorisation").count() == 1


def test_company_signature_needs_verified_tenant(tenant, member, verified):
    verified.status = TenantVerification.Status.PENDING_REVIEW
    verified.save()
    with pytest.raises(ServiceError) as caught:
        services.signature_apply(
            tenant=tenant, actor=member.user, name="华美零售集团", kind="company", proofs=[pdf_file()]
        )
    assert caught.value.code == "tenant_not_verified"
    verified.status = TenantVerification.Status.VERIFIED
    verified.save()
    assert services.signature_apply(
        tenant=tenant, actor=member.user, name="华美零售集团", kind="company", proofs=[pdf_file()]
    ).pk


@pytest.mark.parametrize(
    ("upload", "code"),
    [
        (fake_pdf(), "file_type"),
        (pdf_file(pad=6 * 1024 * 1024), "file_too_large"),
        (png_file("x.gif", fmt="GIF"), "file_type"),  # GIF is not a proof format
    ],
)
def test_signature_bad_uploads(tenant, member, upload, code):
    with pytest.raises(ServiceError) as caught:
        services.signature_apply(tenant=tenant, actor=member.user, name="华美App", kind="app", proofs=[upload])
    assert caught.value.code == code
    assert not Signature.objects.filter(tenant=tenant).exists()


def test_signature_delete_in_use(tenant, member, signature):
    approved_template(tenant=tenant, signature=signature)
    with pytest.raises(ServiceError) as caught:
        services.signature_delete(tenant=tenant, actor=member.user, signature=signature)
    assert caught.value.code == "signature_in_use"


# --- tenant verification -----------------------------------------------------------------------


def test_verification_submit_and_verify(tenant, member, reviewer):
    verification = services.verification_submit(
        tenant=tenant,
        actor=member.user,
        company_name="华美零售集团有限公司",
        credit_code=VALID_USCC.lower(),
        licence=pdf_file(),
        registered_domains="https://huamei.com/\nm.huamei.com",
    )
    assert verification.status == "pending_review"
    assert verification.credit_code == VALID_USCC
    assert verification.domains == ["huamei.com", "m.huamei.com"]
    case = ReviewCase.objects.get(verification=verification)
    services.review_approve(actor=reviewer, case_id=case.pk, marketing_allowed=True)
    verification.refresh_from_db()
    assert verification.is_verified and verification.marketing_allowed


def test_verification_refused_with_reason(tenant, member, reviewer):
    verification = services.verification_submit(
        tenant=tenant, actor=member.user, company_name="华美零售集团", credit_code=VALID_USCC, licence=pdf_file()
    )
    case = ReviewCase.objects.get(verification=verification)
    services.review_reject(actor=reviewer, case_id=case.pk, reason_code="documents_missing", reason_text="执照模糊")
    verification.refresh_from_db()
    assert verification.status == "refused" and "执照模糊" in verification.refusal_reason


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("91350100M000100Y4", "invalid_credit_code"),  # 17 chars
        ("91350100M000100Y44", "invalid_credit_code"),  # wrong check digit
        ("", "invalid_credit_code"),
    ],
)
def test_verification_bad_credit_code(tenant, member, code, error):
    with pytest.raises(ServiceError) as caught:
        services.verification_submit(
            tenant=tenant, actor=member.user, company_name="华美", credit_code=code, licence=pdf_file()
        )
    assert caught.value.code == error
    assert caught.value.fields["credit_code"]
    assert not TenantVerification.objects.filter(tenant=tenant).exists()


def test_verification_needs_licence_and_right_type(tenant, member):
    with pytest.raises(ServiceError) as caught:
        services.verification_submit(tenant=tenant, actor=member.user, company_name="华美", credit_code=VALID_USCC)
    assert caught.value.code == "file_required"
    with pytest.raises(ServiceError) as caught:
        services.verification_submit(
            tenant=tenant, actor=member.user, company_name="华美", credit_code=VALID_USCC, licence=fake_pdf()
        )
    assert caught.value.code == "file_type"


def test_marketing_needs_verified_tenant(tenant, member, signature):
    template = make_template(tenant, member.user, signature, kind="marketing", body=GOOD_MARKETING, variables=[])
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert "marketing.verified_tenant" in [f["rule"] for f in version.block_findings]


def test_tenant_sensitive_words_apply(tenant, member, signature, reviewer, verified):
    services.tenant_sensitive_words_set(tenant=tenant, actor=reviewer, words="青龙\n青龙\n")
    with pytest.raises(ServiceError):
        services.tenant_sensitive_words_set(tenant=tenant, actor=member.user, words="x")
    template = make_template(
        tenant, member.user, signature, kind="notification", body="内部代号青龙已发货。", variables=[]
    )
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert "content.sensitive" in [f["rule"] for f in version.block_findings]


# --- rich templates ----------------------------------------------------------------------------


def test_rich_template_frames(tenant, member, signature, reviewer):
    template = services.template_create(
        tenant=tenant,
        actor=member.user,
        name="新品图文",
        kind="notification",
        signature_id=signature.pk,
        is_rich=True,
        title="新品到店",
    )
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert "rich.frames" in [f["rule"] for f in version.block_findings]
    services.frame_add(tenant=tenant, actor=member.user, template=template, kind="text", text="您关注的商品已到店。")
    services.frame_add(tenant=tenant, actor=member.user, template=template, kind="image", image=png_file("a.png"))
    services.frame_add(tenant=tenant, actor=member.user, template=template, kind="text", text="欢迎光临。")
    services.frame_move(tenant=tenant, actor=member.user, template=template, position=3, up=True)
    draft = TemplateVersion.objects.get(template=template, status="draft")
    assert list(draft.frames.values_list("kind", flat=True)) == ["text", "text", "image"]
    assert draft.body == "您关注的商品已到店。\n欢迎光临。"
    services.frame_remove(tenant=tenant, actor=member.user, template=template, position=2)
    assert list(draft.frames.values_list("position", "kind")) == [(1, "text"), (2, "image")]
    version = services.template_submit(tenant=tenant, actor=member.user, template=template)
    assert version.status == "pending_review", version.findings
    services.review_approve(actor=reviewer, case_id=ReviewCase.objects.get(template_version=version).pk)
    # editing an approved rich template copies the frames into a new draft
    services.frame_add(tenant=tenant, actor=member.user, template=template, kind="text", text="周末无休。")
    new_draft = TemplateVersion.objects.get(template=template, status="draft")
    assert new_draft.number == 2 and new_draft.frames.count() == 3
    assert version.frames.count() == 2


def test_rich_frame_bad_uploads(tenant, member, signature):
    template = services.template_create(
        tenant=tenant,
        actor=member.user,
        name="图文",
        kind="notification",
        signature_id=signature.pk,
        is_rich=True,
        title="t",
    )
    with pytest.raises(ServiceError) as caught:
        services.frame_add(tenant=tenant, actor=member.user, template=template, kind="image", image=pdf_file())
    assert caught.value.code == "file_type"
    with pytest.raises(ServiceError) as caught:
        services.frame_add(
            tenant=tenant, actor=member.user, template=template, kind="image", image=png_file(pad=1024 * 1024 + 10)
        )
    assert caught.value.code == "file_too_large"
    for _ in range(2):
        services.frame_add(
            tenant=tenant, actor=member.user, template=template, kind="image", image=png_file(pad=900 * 1024)
        )
    with pytest.raises(ServiceError) as caught:
        services.frame_add(
            tenant=tenant, actor=member.user, template=template, kind="image", image=png_file(pad=300 * 1024)
        )
    assert caught.value.code == "rich_too_large"


def test_factory_draft_version_is_editable(tenant, member, signature):
    template = approved_template(tenant=tenant, signature=signature)
    draft = TemplateVersionFactory(template=template, number=2)
    edited = services.template_edit(
        tenant=tenant, actor=member.user, template=template, body="验证码${code}，用于登录。"
    )
    assert edited.pk == draft.pk


def test_edit_to_rejected_signature_is_refused(tenant, member, signature):
    template = make_template(tenant, member.user, signature)
    rejected = SignatureFactory(tenant=tenant, status=Signature.Status.REJECTED)
    with pytest.raises(ServiceError) as caught:
        services.template_edit(tenant=tenant, actor=member.user, template=template, signature_id=rejected.pk)
    assert caught.value.code == "signature_rejected"
    template.refresh_from_db()
    assert template.signature_id == signature.pk


def test_platform_words_only_staff(tenant, member, reviewer):
    with pytest.raises(ServiceError) as caught:
        services.platform_word_add(actor=member.user, word="青龙")
    assert caught.value.code == "not_reviewer"
    item = services.platform_word_add(actor=reviewer, word=" 青龙 ")
    assert item.word == "青龙"
    assert "青龙" in services.platform_sensitive_words()
    assert AuditEvent.objects.filter(action="platform_word.added", tenant=None).exists()
    with pytest.raises(ServiceError):
        services.platform_word_add(actor=reviewer, word="")
    services.platform_word_remove(actor=reviewer, word_id=item.pk)
    with pytest.raises(ServiceError) as caught:
        services.platform_word_remove(actor=reviewer, word_id=item.pk)
    assert caught.value.code == "word_not_found"
