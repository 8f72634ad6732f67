"""Factories for signatures, verification and message templates (approved by default)."""

from __future__ import annotations

import factory
from django.utils import timezone

from smsportal.enums import MessageClass
from smsportal.factories.tenants import TenantFactory
from templates.models import MessageTemplate, Signature, TemplateVersion, TenantVerification


class TenantVerificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TenantVerification

    tenant = factory.SubFactory(TenantFactory)
    company_name = factory.LazyAttribute(lambda o: o.tenant.name)
    credit_code = "91350100M000100Y43"
    status = TenantVerification.Status.VERIFIED
    marketing_allowed = True
    registered_domains = "example.com"
    submitted_at = factory.LazyFunction(timezone.now)
    decided_at = factory.LazyFunction(timezone.now)


class SignatureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Signature

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"华美零售{n}"[:12])
    kind = Signature.Kind.TRADEMARK
    status = Signature.Status.APPROVED
    submitted_at = factory.LazyFunction(timezone.now)


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    tenant = factory.SubFactory(TenantFactory)
    name = factory.Sequence(lambda n: f"模板{n}")
    kind = MessageClass.VERIFICATION
    signature = factory.SubFactory(SignatureFactory, tenant=factory.SelfAttribute("..tenant"))


class TemplateVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TemplateVersion

    template = factory.SubFactory(MessageTemplateFactory)
    tenant = factory.SelfAttribute("template.tenant")
    number = factory.Sequence(lambda n: n + 1)
    body = "您的验证码为${code}，5分钟内有效，请勿泄露给他人。"
    variables = factory.LazyFunction(lambda: [{"name": "code", "type": "code", "max_length": 6, "example": "385721"}])
    status = TemplateVersion.Status.DRAFT


def approved_template(*, tenant, kind=MessageClass.VERIFICATION, body=None, variables=None, signature=None, **kw):
    """A template whose version 1 is approved and in force (signature approved too)."""
    signature = signature or SignatureFactory(tenant=tenant)
    template = MessageTemplateFactory(tenant=tenant, kind=kind, signature=signature, **kw)
    extra = {}
    if body is not None:
        extra["body"] = body
    if variables is not None:
        extra["variables"] = variables
    version = TemplateVersionFactory(
        template=template,
        number=1,
        status=TemplateVersion.Status.APPROVED,
        submitted_at=timezone.now(),
        decided_at=timezone.now(),
        **extra,
    )
    template.approved_version = version
    template.save(update_fields=["approved_version", "updated_at"])
    return template
