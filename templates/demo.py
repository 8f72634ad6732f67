"""Demo data: both tenants verified, approved signatures, approved templates of every kind,
some waiting for review and one rejected with a reason."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile

from templates import services
from templates.models import MessageTemplate, ReviewCase

CODE = [{"name": "code", "type": "code", "max_length": 6, "example": "385721"}]


def _pdf(name: str) -> SimpleUploadedFile:
    data = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    return SimpleUploadedFile(name, data, content_type="application/pdf")


def _png(name: str, colour: tuple[int, int, int]) -> SimpleUploadedFile:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (480, 270), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, 450, 240), outline=(255, 255, 255), width=6)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/png")


def _approve_pending(reviewer, tenant) -> None:
    for case in ReviewCase.objects.for_tenant(tenant).filter(status=ReviewCase.Status.PENDING).order_by("id"):
        services.review_approve(actor=reviewer, case_id=case.pk, notify=False)


def _template(tenant, actor, signature, name, kind, body, variables=(), **kw):
    return services.template_create(
        tenant=tenant,
        actor=actor,
        name=name,
        kind=kind,
        signature_id=signature.pk,
        body=body,
        variables=list(variables),
        **kw,
    )


def _submit(tenant, actor, template):
    version = services.template_submit(tenant=tenant, actor=actor, template=template)
    assert version.status == "pending_review", (template.name, version.findings)
    return version


def seed(ctx) -> None:
    reviewer = ctx.staff[0]
    huamei = ctx.tenants["huamei-retail"]
    kuaida = ctx.tenants["kuaida-logistics"]
    owner = ctx.users["owner@huamei.example.cn"]
    operator = ctx.users["operator@huamei.example.cn"]
    kuaida_owner = ctx.users["owner@kuaida.example.cn"]

    # Enterprise verification (USCCs with valid check digits).
    services.verification_submit(
        tenant=huamei,
        actor=owner,
        company_name="华美零售集团有限公司",
        credit_code="91350100M000100Y43",
        licence=_pdf("华美营业执照.pdf"),
        registered_domains="huamei.example.cn\nm.huamei.example.cn",
    )
    services.verification_submit(
        tenant=kuaida,
        actor=kuaida_owner,
        company_name="快达物流股份有限公司",
        credit_code="91110108551385082Q",
        licence=_pdf("快达营业执照.pdf"),
        registered_domains="kuaida.example.cn",
    )
    _approve_pending(reviewer, huamei)
    _approve_pending(reviewer, kuaida)

    # Signatures.
    huamei_sig = services.signature_apply(
        tenant=huamei, actor=owner, name="华美零售", kind="company", proofs=[_pdf("华美营业执照.pdf")]
    )
    services.signature_apply(
        tenant=huamei, actor=owner, name="华美会员", kind="app", proofs=[_pdf("华美会员App上架截图.pdf")]
    )
    kuaida_sig = services.signature_apply(
        tenant=kuaida, actor=kuaida_owner, name="快达物流", kind="company", proofs=[_pdf("快达营业执照.pdf")]
    )
    _approve_pending(reviewer, huamei)
    _approve_pending(reviewer, kuaida)

    # Approved templates of every kind.
    approved = [
        (huamei, operator, huamei_sig, "登录验证码", "verification",
         "您的登录验证码为${code}，5分钟内有效，请勿泄露给他人。", CODE),
        (huamei, operator, huamei_sig, "订单发货通知", "notification",
         "${name}您好，您的订单${order}已发货，预计${date}送达。",
         [{"name": "name", "type": "name", "max_length": 10, "example": "李女士"},
          {"name": "order", "type": "number", "max_length": 20, "example": "202605011234"},
          {"name": "date", "type": "datetime", "max_length": 12, "example": "5月3日"}]),
        (huamei, operator, huamei_sig, "会员日促销", "marketing",
         "尊敬的会员，本周六会员日全场满200减30，详情见 https://m.huamei.example.cn/vip 。拒收请回复R", []),
        (huamei, operator, huamei_sig, "库存系统告警", "alert", "库存同步失败${n}次，请值班人员立即处理。",
         [{"name": "n", "type": "number", "max_length": 4, "example": "3"}]),
        (kuaida, kuaida_owner, kuaida_sig, "取件验证码", "verification",
         "您的取件验证码为${code}，用于快递柜取件，24小时内有效。", CODE),
        (kuaida, kuaida_owner, kuaida_sig, "派送通知", "notification",
         "您的快递${waybill}正在派送，快递员${courier}，电话${phone}。",
         [{"name": "waybill", "type": "number", "max_length": 15, "example": "7788123456"},
          {"name": "courier", "type": "name", "max_length": 8, "example": "王师傅"},
          {"name": "phone", "type": "number", "max_length": 11, "example": "13800138000"}]),
        (kuaida, kuaida_owner, kuaida_sig, "双十一寄件优惠", "marketing",
         "亲爱的客户，双十一寄件满3单立减5元，回T退订", []),
        (kuaida, kuaida_owner, kuaida_sig, "分拣中心告警", "alert", "分拣线${line}停机，请立即处理。",
         [{"name": "line", "type": "text", "max_length": 6, "example": "A3"}]),
    ]  # fmt: skip
    for tenant, actor, signature, name, kind, body, variables in approved:
        template = _template(tenant, actor, signature, name, kind, body, variables)
        _submit(tenant, actor, template)
    _approve_pending(reviewer, huamei)
    _approve_pending(reviewer, kuaida)

    # A rich (图文) template, approved.
    rich = _template(
        huamei, operator, huamei_sig, "新店开业图文", "marketing", "", [], is_rich=True, title="华美新店开业"
    )
    services.frame_add(
        tenant=huamei, actor=operator, template=rich, kind="image", image=_png("banner.png", (200, 40, 60))
    )
    services.frame_add(
        tenant=huamei, actor=operator, template=rich, kind="text",
        text="尊敬的会员，华美滨江店5月1日开业，到店即送环保袋。拒收请回复R",
    )  # fmt: skip
    _submit(huamei, operator, rich)
    _approve_pending(reviewer, huamei)

    # A new version of an approved template waiting for review (v1 stays in force).
    code_template = MessageTemplate.objects.get(tenant=huamei, name="登录验证码")
    services.template_edit(
        tenant=huamei, actor=operator, template=code_template,
        body="您的登录验证码为${code}，10分钟内有效，请勿泄露给他人。",
    )  # fmt: skip
    _submit(huamei, operator, code_template)

    # Pending review.
    pending = _template(
        huamei, operator, huamei_sig, "退款到账通知", "notification", "您申请的退款${amount}元已原路退回，请注意查收。",
        [{"name": "amount", "type": "amount", "max_length": 10, "example": "128.00"}],
    )  # fmt: skip
    _submit(huamei, operator, pending)
    kuaida_pending = _template(
        kuaida, kuaida_owner, kuaida_sig, "签收提醒", "notification", "您的快递已签收，如有疑问请联系快达客服。"
    )
    _submit(kuaida, kuaida_owner, kuaida_pending)

    # Rejected with a reason.
    rejected = _template(
        huamei, operator, huamei_sig, "积分到期提醒", "notification", "您的积分即将到期，快来兑换好礼吧！"
    )
    version = _submit(huamei, operator, rejected)
    case = ReviewCase.objects.get(template_version=version)
    services.review_reject(
        actor=reviewer,
        case_id=case.pk,
        reason_code="marketing_as_notification",
        reason_text="“兑换好礼”属于营销内容，请改为营销模板并加退订方式。",
        notify=False,
    )
