import pytest

from smsportal import demo
from templates.models import MessageTemplate, ReviewCase, Signature, TemplateVersion, TenantVerification
from templates.selectors import template_for_sending

pytestmark = pytest.mark.django_db


def test_demo_seed_creates_templates_part():
    assert demo.seed() is True
    for slug, signature in (("huamei-retail", "华美零售"), ("kuaida-logistics", "快达物流")):
        verification = TenantVerification.objects.get(tenant__slug=slug)
        assert verification.is_verified and verification.marketing_allowed
        assert Signature.objects.get(tenant__slug=slug, name=signature).is_approved
        templates = MessageTemplate.objects.filter(tenant__slug=slug, approved_version__isnull=False)
        assert {"verification", "notification", "marketing", "alert"} <= set(templates.values_list("kind", flat=True))
        for template in templates:
            assert template_for_sending(tenant=template.tenant, template_id=template.pk)
    assert ReviewCase.objects.filter(status="pending", subject="template").count() >= 3
    rejected = TemplateVersion.objects.get(status="rejected")
    assert rejected.rejection_reason
    # the new version of an approved template waits while v1 stays in force
    login_code = MessageTemplate.objects.get(name="登录验证码")
    assert template_for_sending(tenant=login_code.tenant, template_id=login_code.pk).number == 1
    assert login_code.versions.filter(number=2, status="pending_review").exists()
