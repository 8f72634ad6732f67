from datetime import timedelta

import pytest
from django.utils import timezone

from compliance.models import AuditEvent
from smsportal.errors import ServiceError
from smsportal.factories import MembershipFactory, TenantFactory, UserFactory
from tenants import services
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant, hash_token


def _tenant_kwargs(**overrides):
    kwargs = {
        "name": "华美零售",
        "slug": "huamei",
        "contact_name": "李娜",
        "contact_email": "ops@huamei.example.cn",
    }
    kwargs.update(overrides)
    return kwargs


# --- tenant_create ----------------------------------------------------------------------


def test_tenant_create_makes_the_actor_owner_with_shanghai_time(db):
    user = UserFactory()
    tenant = services.tenant_create(actor=user, **_tenant_kwargs(slug="  HuaMei "))
    assert tenant.slug == "huamei"
    assert tenant.timezone == "Asia/Shanghai"
    assert Membership.objects.get(tenant=tenant, user=user).role == Role.OWNER
    assert AuditEvent.objects.filter(tenant=tenant, action="tenant.created").exists()


def test_tenant_create_refuses_a_duplicate_slug(db):
    TenantFactory(slug="huamei")
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(actor=UserFactory(), **_tenant_kwargs(slug="HUAMEI"))
    assert caught.value.code == "slug_taken"
    assert caught.value.status == 409
    assert "slug" in caught.value.fields
    assert Tenant.objects.count() == 1


@pytest.mark.parametrize("slug", ["admin", "api", "staff"])
def test_tenant_create_refuses_a_reserved_slug(db, slug):
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(actor=UserFactory(), **_tenant_kwargs(slug=slug))
    assert caught.value.code == "slug_reserved"
    assert not Tenant.objects.exists()


@pytest.mark.parametrize("slug", ["", "has space", "华美", "a/b"])
def test_tenant_create_refuses_a_malformed_slug(db, slug):
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(actor=UserFactory(), **_tenant_kwargs(slug=slug))
    assert caught.value.code in {"bad_slug", "required"}
    assert "slug" in caught.value.fields


def test_tenant_create_refuses_an_unknown_timezone(db):
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(actor=UserFactory(), timezone_name="Mars/Olympus", **_tenant_kwargs())
    assert caught.value.code == "bad_timezone"
    assert not Tenant.objects.exists()
    assert not Membership.objects.exists()


def test_tenant_create_refuses_a_malformed_contact_email(db):
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(actor=UserFactory(), **_tenant_kwargs(contact_email="not-an-email"))
    assert caught.value.code == "bad_email"
    assert "contact_email" in caught.value.fields


def test_tenant_create_refuses_an_overlong_name(db):
    with pytest.raises(ServiceError) as caught:
        services.tenant_create(actor=UserFactory(), **_tenant_kwargs(name="名" * 121))
    assert caught.value.code == "too_long"


def test_tenant_update_changes_fields_and_refuses_bad_timezone(member):
    tenant = services.tenant_update(tenant=member.tenant, actor=member.user, name="新名字", timezone="Asia/Urumqi")
    assert (tenant.name, tenant.timezone) == ("新名字", "Asia/Urumqi")
    with pytest.raises(ServiceError) as caught:
        services.tenant_update(tenant=member.tenant, actor=member.user, timezone="Nowhere")
    assert caught.value.code == "bad_timezone"
    with pytest.raises(ServiceError) as caught:
        services.tenant_update(tenant=member.tenant, actor=member.user, slug="other")
    assert caught.value.code == "unknown_fields"


# --- suspend / reactivate ------------------------------------------------------------------


def test_only_staff_can_suspend_and_reactivate(member, staff_user):
    with pytest.raises(ServiceError) as caught:
        services.tenant_suspend(tenant=member.tenant, actor=member.user, reason="unpaid")
    assert caught.value.code == "staff_only"
    assert caught.value.status == 403

    tenant = services.tenant_suspend(tenant=member.tenant, actor=staff_user, reason=" spam complaints ")
    assert not tenant.is_active
    assert tenant.suspended_reason == "spam complaints"

    with pytest.raises(ServiceError):
        services.tenant_reactivate(tenant=tenant, actor=member.user)
    tenant = services.tenant_reactivate(tenant=tenant, actor=staff_user)
    assert tenant.is_active
    assert tenant.suspended_reason == ""
    assert set(AuditEvent.objects.filter(tenant=tenant).values_list("action", flat=True)) >= {
        "tenant.suspended",
        "tenant.reactivated",
    }


def test_suspend_requires_a_reason(member, staff_user):
    with pytest.raises(ServiceError) as caught:
        services.tenant_suspend(tenant=member.tenant, actor=staff_user, reason="  ")
    assert caught.value.code == "reason_required"


# --- invitations ---------------------------------------------------------------------------


def test_invitation_create_stores_only_a_hash_and_mails_the_link(
    member, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, token = services.invitation_create(
            tenant=member.tenant, actor=member.user, email=" New@Example.COM ", role=Role.FINANCE
        )
    assert invitation.email == "new@example.com"
    assert invitation.token_hash == hash_token(token)
    assert token not in invitation.token_hash
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["new@example.com"]
    assert f"/tenant/invitations/{token}/" in mailoutbox[0].body


@pytest.mark.parametrize("email", ["", "nobody", "a@b", "two@@example.com"])
def test_invitation_create_refuses_a_malformed_email(member, email):
    with pytest.raises(ServiceError) as caught:
        services.invitation_create(tenant=member.tenant, actor=member.user, email=email, role=Role.VIEWER)
    assert caught.value.code == "bad_email"
    assert not Invitation.objects.exists()


def test_invitation_create_refuses_an_existing_member_and_unknown_role(member, teammate):
    with pytest.raises(ServiceError) as caught:
        services.invitation_create(
            tenant=member.tenant, actor=member.user, email=teammate.user.email.upper(), role=Role.VIEWER
        )
    assert caught.value.code == "already_member"
    with pytest.raises(ServiceError) as caught:
        services.invitation_create(tenant=member.tenant, actor=member.user, email="x@example.com", role="god")
    assert caught.value.code == "bad_role"


def test_invitation_accept_creates_the_membership_once(member):
    invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="new@example.com", role=Role.FINANCE
    )
    newcomer = UserFactory(email="new@example.com")
    membership = services.invitation_accept(user=newcomer, token=token)
    assert (membership.tenant_id, membership.role) == (member.tenant_id, Role.FINANCE)
    invitation.refresh_from_db()
    assert invitation.accepted_by == newcomer

    with pytest.raises(ServiceError) as caught:
        services.invitation_accept(user=newcomer, token=token)
    assert caught.value.code == "invitation_used"
    assert caught.value.status == 409


def test_invitation_accept_refuses_an_expired_invitation(member):
    invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="late@example.com", role=Role.VIEWER
    )
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ServiceError) as caught:
        services.invitation_accept(user=UserFactory(email="late@example.com"), token=token)
    assert caught.value.code == "invitation_expired"
    assert caught.value.status == 410
    assert Membership.objects.filter(tenant=member.tenant).count() == 1


def test_invitation_accept_refuses_another_email(member):
    _invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="right@example.com", role=Role.VIEWER
    )
    with pytest.raises(ServiceError) as caught:
        services.invitation_accept(user=UserFactory(email="wrong@example.com"), token=token)
    assert caught.value.code == "invitation_other_email"
    assert caught.value.status == 403


def test_invitation_accept_refuses_an_existing_member(member):
    _invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="twice@example.com", role=Role.VIEWER
    )
    user = UserFactory(email="twice@example.com")
    MembershipFactory(tenant=member.tenant, user=user, role=Role.ADMIN)
    with pytest.raises(ServiceError) as caught:
        services.invitation_accept(user=user, token=token)
    assert caught.value.code == "already_member"
    assert Membership.objects.get(tenant=member.tenant, user=user).role == Role.ADMIN


def test_revoked_or_unknown_invitation_is_not_found(member, outsider):
    invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="gone@example.com", role=Role.VIEWER
    )
    with pytest.raises(ServiceError) as caught:
        services.invitation_revoke(tenant=outsider.tenant, actor=outsider.user, invitation_id=invitation.pk)
    assert caught.value.status == 404
    services.invitation_revoke(tenant=member.tenant, actor=member.user, invitation_id=invitation.pk)
    for bad_token in (token, "no-such-token"):
        with pytest.raises(ServiceError) as caught:
            services.invitation_get_by_token(bad_token)
        assert caught.value.code == "invitation_not_found"


# --- roles and removal -------------------------------------------------------------------


def test_the_last_owner_cannot_be_demoted_or_removed(member):
    with pytest.raises(ServiceError) as caught:
        services.membership_change_role(
            tenant=member.tenant, actor=member.user, membership_id=member.pk, role=Role.ADMIN
        )
    assert caught.value.code == "last_owner"
    with pytest.raises(ServiceError) as caught:
        services.membership_remove(tenant=member.tenant, actor=member.user, membership_id=member.pk)
    assert caught.value.code == "last_owner"
    member.refresh_from_db()
    assert member.role == Role.OWNER


def test_an_owner_can_step_down_once_there_is_another_owner(member, teammate):
    services.membership_change_role(tenant=member.tenant, actor=member.user, membership_id=teammate.pk, role=Role.OWNER)
    services.membership_change_role(tenant=member.tenant, actor=member.user, membership_id=member.pk, role=Role.VIEWER)
    member.refresh_from_db()
    assert member.role == Role.VIEWER
    services.membership_remove(tenant=member.tenant, actor=teammate.user, membership_id=member.pk)
    assert not Membership.objects.filter(pk=member.pk).exists()


def test_only_owners_make_or_unmake_owners(member, teammate):
    admin = MembershipFactory(tenant=member.tenant, role=Role.ADMIN)
    with pytest.raises(ServiceError) as caught:
        services.membership_change_role(
            tenant=member.tenant, actor=admin.user, membership_id=teammate.pk, role=Role.OWNER
        )
    assert caught.value.code == "owner_only"
    second_owner = MembershipFactory(tenant=member.tenant, role=Role.OWNER)
    with pytest.raises(ServiceError) as caught:
        services.membership_change_role(
            tenant=member.tenant, actor=admin.user, membership_id=second_owner.pk, role=Role.VIEWER
        )
    assert caught.value.code == "owner_only"
    with pytest.raises(ServiceError) as caught:
        services.membership_remove(tenant=member.tenant, actor=admin.user, membership_id=second_owner.pk)
    assert caught.value.code == "owner_only"
    # An administrator may still manage non-owners.
    services.membership_change_role(
        tenant=member.tenant, actor=admin.user, membership_id=teammate.pk, role=Role.FINANCE
    )
    teammate.refresh_from_db()
    assert teammate.role == Role.FINANCE


def test_role_change_refuses_unknown_role_and_other_tenants_member(member, teammate, outsider):
    with pytest.raises(ServiceError) as caught:
        services.membership_change_role(tenant=member.tenant, actor=member.user, membership_id=teammate.pk, role="x")
    assert caught.value.code == "bad_role"
    with pytest.raises(ServiceError) as caught:
        services.membership_change_role(
            tenant=member.tenant, actor=member.user, membership_id=outsider.pk, role=Role.VIEWER
        )
    assert caught.value.status == 404
    with pytest.raises(ServiceError) as caught:
        services.membership_remove(tenant=member.tenant, actor=member.user, membership_id=outsider.pk)
    assert caught.value.status == 404
    outsider.refresh_from_db()
    assert outsider.role == Role.OWNER


# --- API keys ----------------------------------------------------------------------------


def test_apikey_create_returns_the_secret_once_and_stores_a_hash(member):
    key, raw = services.apikey_create(tenant=member.tenant, actor=member.user, name=" CRM ", scopes=["read", "send"])
    assert raw.startswith(f"sk_{key.prefix}_")
    assert key.secret_hash == hash_token(raw)
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in {stored.secret_hash, stored.prefix, stored.name}
    assert (stored.name, stored.scopes) == ("CRM", ["read", "send"])


@pytest.mark.parametrize(
    ("name", "scopes", "code"),
    [
        ("", ["read"], "name_required"),
        ("k" * 81, ["read"], "too_long"),
        ("ok", [], "scopes_required"),
        ("ok", ["root"], "bad_scope"),
    ],
)
def test_apikey_create_refuses_bad_input(member, name, scopes, code):
    with pytest.raises(ServiceError) as caught:
        services.apikey_create(tenant=member.tenant, actor=member.user, name=name, scopes=scopes)
    assert caught.value.code == code
    assert not ApiKey.objects.exists()


def test_apikey_rename_and_revoke_stay_inside_the_tenant(member, outsider):
    key, _raw = services.apikey_create(tenant=member.tenant, actor=member.user, name="old", scopes=["read"])
    for call in (
        lambda: services.apikey_rename(tenant=outsider.tenant, actor=outsider.user, key_id=key.pk, name="x"),
        lambda: services.apikey_revoke(tenant=outsider.tenant, actor=outsider.user, key_id=key.pk),
    ):
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.status == 404
    key.refresh_from_db()
    assert (key.name, key.revoked_at) == ("old", None)

    with pytest.raises(ServiceError) as caught:
        services.apikey_rename(tenant=member.tenant, actor=member.user, key_id=key.pk, name="  ")
    assert caught.value.code == "name_required"
    assert services.apikey_rename(tenant=member.tenant, actor=member.user, key_id=key.pk, name="new").name == "new"

    revoked = services.apikey_revoke(tenant=member.tenant, actor=member.user, key_id=key.pk)
    assert revoked.revoked_at is not None and revoked.revoked_by == member.user
    again = services.apikey_revoke(tenant=member.tenant, actor=member.user, key_id=key.pk)
    assert again.revoked_at == revoked.revoked_at
    assert AuditEvent.objects.filter(tenant=member.tenant, action="apikey.revoked").count() == 1
