"""fetch_joined builds the same instances the ORM would, from one hand-written join."""

import pytest
from django.forms.models import model_to_dict

from smsportal.errors import Conflict, NotFound
from smsportal.factories.templates import MessageTemplateFactory, approved_template
from templates.models import MessageTemplate, TemplateVersion
from templates.selectors import template_for_sending


def _fields(instance):
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_send_lookup_matches_the_orm(tenant):
    template = approved_template(tenant=tenant)
    version = template_for_sending(tenant=tenant, template_id=template.pk)
    orm = MessageTemplate.objects.select_related("signature", "approved_version").get(pk=template.pk)
    assert _fields(version) == _fields(orm.approved_version)
    assert isinstance(version.variables, list) and version.variables  # JSON decoded, as the ORM does
    assert _fields(version.template) == _fields(orm)
    assert _fields(version.template.signature) == _fields(orm.signature)
    assert not version._state.adding and version.template.signature.is_approved
    assert model_to_dict(TemplateVersion.objects.get(pk=version.pk)) == model_to_dict(version)


def test_the_send_lookup_is_tenant_scoped_and_checks_approval(tenant, outsider):
    template = approved_template(tenant=tenant)
    with pytest.raises(NotFound):
        template_for_sending(tenant=outsider.tenant, template_id=template.pk)
    for bad in ("abc", None, 2**70):
        with pytest.raises(NotFound):
            template_for_sending(tenant=tenant, template_id=bad)
    draft = MessageTemplateFactory(tenant=tenant)  # no approved version: the outer join finds none
    with pytest.raises(Conflict) as refused:
        template_for_sending(tenant=tenant, template_id=draft.pk)
    assert refused.value.code == "template_not_approved"
