import pytest

from tenants.models import Membership, TenantRequired


def test_for_tenant_refuses_none(db):
    with pytest.raises(TenantRequired):
        Membership.objects.for_tenant(None)


def test_for_tenant_filters_to_the_tenant(member, teammate, outsider):
    ids = set(Membership.objects.for_tenant(member.tenant).values_list("id", flat=True))
    assert ids == {member.id, teammate.id}
