import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from smsportal.factories import api_key_for
from tenants.api_base import TenantAPIView, TenantViewSet
from tenants.models import ApiKey, Membership, Role, Tenant, TenantRequired
from tenants.roles import PERMISSIONS, role_allows


def test_for_tenant_refuses_none(db):
    with pytest.raises(TenantRequired):
        Membership.objects.for_tenant(None)


def test_for_tenant_refuses_an_unsaved_tenant(db):
    with pytest.raises(TenantRequired):
        Membership.objects.for_tenant(Tenant(name="x", slug="x"))


def test_for_tenant_filters_to_the_tenant(member, teammate, outsider):
    ids = set(Membership.objects.for_tenant(member.tenant).values_list("id", flat=True))
    assert ids == {member.id, teammate.id}


def test_a_tenant_api_view_cannot_override_get_queryset():
    with pytest.raises(TypeError, match="get_queryset"):

        class Sneaky(TenantAPIView):
            model = ApiKey

            def get_queryset(self):
                return ApiKey.objects.all()

    with pytest.raises(TypeError):

        class SneakySet(TenantViewSet):
            def get_queryset(self):
                return ApiKey.objects.all()


class KeyNames(TenantAPIView):
    """A test-only endpoint over a tenant-owned model, to show the base class's scoping."""

    model = ApiKey
    required_scopes = {"GET": "read", "POST": "manage"}

    def get(self, request):
        return Response(sorted(self.get_queryset().values_list("name", flat=True)))

    def post(self, request):
        return Response({"tenant": self.tenant.slug}, status=201)


class NamedOnly(KeyNames):
    def filter_queryset_for_view(self, queryset):
        return queryset.filter(name__startswith="b")


def _call(view, key, method="get"):
    request = getattr(APIRequestFactory(), method)("/test", HTTP_AUTHORIZATION=f"Bearer {key}")
    return view.as_view()(request)


def test_tenant_api_view_sees_only_the_keys_tenant(member, outsider):
    key = api_key_for(member, scopes=["read"])
    api_key_for(outsider, scopes=["read"])
    response = _call(KeyNames, key)
    assert response.status_code == 200
    assert response.data == ["test key"]
    assert ApiKey.objects.count() == 2


def test_filter_queryset_for_view_narrows_within_the_tenant(member, outsider):
    from tenants.services import apikey_create

    key = api_key_for(member, scopes=["read"])
    apikey_create(tenant=member.tenant, actor=member.user, name="beta", scopes=["read"])
    apikey_create(tenant=outsider.tenant, actor=outsider.user, name="bravo", scopes=["read"])
    assert _call(NamedOnly, key).data == ["beta"]


def test_required_scopes_are_enforced_per_method(member):
    read_only = api_key_for(member, scopes=["read"])
    response = _call(KeyNames, read_only, method="post")
    assert response.status_code == 403
    assert response.data["error"]["code"] == "missing_scope"
    manager = api_key_for(member, scopes=["manage"])
    assert _call(KeyNames, manager, method="post").status_code == 201
    assert _call(KeyNames, manager).status_code == 403


def test_roles_table():
    assert role_allows(Role.OWNER, "members.manage")
    assert role_allows(Role.ADMIN, "apikeys.manage")
    for role in (Role.OPERATOR, Role.FINANCE, Role.VIEWER):
        assert not role_allows(role, "members.manage")
        assert not role_allows(role, "apikeys.manage")
        assert not role_allows(role, "tenant.manage")
    assert role_allows(Role.OPERATOR, "messages.send")
    assert not role_allows(Role.FINANCE, "messages.send")
    assert role_allows(Role.FINANCE, "billing.view")
    assert not role_allows(Role.OPERATOR, "billing.view")
    assert role_allows(Role.VIEWER, "reports.view")
    assert not role_allows(None, "tenant.view")
    # Every permission names only real roles, and owners may do everything.
    for permission, roles in PERMISSIONS.items():
        assert roles <= set(Role.values), permission
        assert Role.OWNER in roles, permission


def test_unknown_permission_is_a_loud_error():
    with pytest.raises(KeyError, match="unknown permission"):
        role_allows(Role.OWNER, "templates.delete_everything")
