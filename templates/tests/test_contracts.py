"""The functions other apps rely on: template_for_sending, render_message, validate_variables."""

import pytest
from django.utils import translation

from smsportal.errors import ServiceError
from smsportal.factories.templates import (
    MessageTemplateFactory,
    SignatureFactory,
    TemplateVersionFactory,
    approved_template,
)
from templates.models import Signature
from templates.rendering import render_message, validate_variables
from templates.selectors import template_for_sending

pytestmark = pytest.mark.django_db


def test_template_for_sending_returns_approved_version(tenant):
    template = approved_template(tenant=tenant)
    version = template_for_sending(tenant=tenant, template_id=template.pk)
    assert version == template.approved_version


def test_template_for_sending_keeps_approved_while_new_draft_exists(tenant):
    template = approved_template(tenant=tenant)
    TemplateVersionFactory(template=template, number=2, body="新草稿${code}")
    assert template_for_sending(tenant=tenant, template_id=template.pk).number == 1


def test_template_for_sending_other_tenant_is_not_found(tenant, outsider):
    template = approved_template(tenant=tenant)
    with pytest.raises(ServiceError) as caught:
        template_for_sending(tenant=outsider.tenant, template_id=template.pk)
    assert caught.value.code == "template_not_found"
    assert caught.value.status == 404


@pytest.mark.parametrize("bad_id", [999999, "abc", None])
def test_template_for_sending_missing(tenant, bad_id):
    with pytest.raises(ServiceError) as caught:
        template_for_sending(tenant=tenant, template_id=bad_id)
    assert caught.value.code == "template_not_found"


def test_template_for_sending_unapproved(tenant):
    template = MessageTemplateFactory(tenant=tenant)
    TemplateVersionFactory(template=template)
    with pytest.raises(ServiceError) as caught:
        template_for_sending(tenant=tenant, template_id=template.pk)
    assert caught.value.code == "template_not_approved"
    assert caught.value.status == 409


def test_template_for_sending_signature_withdrawn(tenant):
    signature = SignatureFactory(tenant=tenant, status=Signature.Status.REJECTED)
    template = approved_template(tenant=tenant, signature=signature)
    with pytest.raises(ServiceError) as caught:
        template_for_sending(tenant=tenant, template_id=template.pk)
    assert caught.value.code == "template_not_approved"


def test_render_message_prefixes_signature(tenant):
    signature = SignatureFactory(tenant=tenant, name="快达物流")
    template = approved_template(tenant=tenant, signature=signature)
    version = template_for_sending(tenant=tenant, template_id=template.pk)
    assert render_message(version=version, variables={"code": "4821"}) == (
        "【快达物流】您的验证码为4821，5分钟内有效，请勿泄露给他人。"
    )


def test_render_message_accepts_numbers(tenant):
    template = approved_template(
        tenant=tenant,
        kind="notification",
        body="您的订单已发货，运费${fee}元。",
        variables=[{"name": "fee", "type": "amount", "max_length": 10, "example": "12.50"}],
    )
    assert render_message(version=template.approved_version, variables={"fee": 8}).endswith("运费8元。")


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({}, "code"),  # missing
        ({"code": "4821", "extra": "x"}, "extra"),  # unknown
        ({"code": "12"}, "code"),  # too short for a code
        ({"code": "12345678"}, "code"),  # too long
        ({"code": "12-34"}, "code"),  # wrong type
        ({"code": ["1234"]}, "code"),  # not text
    ],
)
def test_render_message_rejects_bad_variables(tenant, variables, field):
    template = approved_template(tenant=tenant)
    with pytest.raises(ServiceError) as caught:
        render_message(version=template.approved_version, variables=variables)
    assert caught.value.code == "invalid_variables"
    assert field in caught.value.fields


def test_validate_variables_is_empty_when_fine(tenant):
    template = approved_template(tenant=tenant)
    assert validate_variables(version=template.approved_version, variables={"code": "A1b2"}) == {}


def test_validate_variables_messages_follow_language(tenant):
    template = approved_template(tenant=tenant)
    with translation.override("en"):
        errors = validate_variables(version=template.approved_version, variables={"code": "1"})
    assert "digits or letters" in errors["code"][0] or "characters" in errors["code"][0]


def test_link_in_text_variable_is_refused(tenant):
    template = approved_template(
        tenant=tenant,
        kind="notification",
        body="${name}您好，您的包裹已到。",
        variables=[{"name": "name", "type": "name", "max_length": 10, "example": "张三"}],
    )
    errors = validate_variables(version=template.approved_version, variables={"name": "evil.com/x"})
    assert "name" in errors
