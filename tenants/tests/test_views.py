from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from smsportal.factories import MembershipFactory, TenantFactory, UserFactory
from tenants import services
from tenants.middleware import SESSION_TENANT_KEY
from tenants.models import ApiKey, Invitation, Membership, Role, Tenant

# --- creating and switching tenants ----------------------------------------------------


def test_pages_need_a_login(client, db):
    for name in ("tenants:create", "tenants:members", "tenants:apikeys", "tenants:settings", "tenants:invite"):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_a_user_without_tenant_is_sent_to_create_one(client, db):
    client.force_login(UserFactory())
    assert client.get("/")["Location"] == reverse("tenants:create")
    assert client.get(reverse("tenants:members"))["Location"] == reverse("tenants:create")


def test_create_a_tenant_in_the_portal(client, db):
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("tenants:create")).status_code == 200
    response = client.post(
        reverse("tenants:create"),
        {
            "name": "快达物流",
            "slug": "kuaida",
            "contact_name": "王强",
            "contact_email": "it@kuaida.example.cn",
            "timezone": "Asia/Shanghai",
        },
    )
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="kuaida")
    assert Membership.objects.get(tenant=tenant).user == user
    assert client.session[SESSION_TENANT_KEY] == tenant.pk
    assert client.get("/").status_code == 200


def test_create_a_tenant_with_a_taken_slug_shows_the_error_on_the_field(client, db):
    TenantFactory(slug="kuaida")
    client.force_login(UserFactory())
    response = client.post(
        reverse("tenants:create"),
        {"name": "x", "slug": "kuaida", "contact_name": "y", "contact_email": "bad", "timezone": "Asia/Shanghai"},
    )
    assert response.status_code == 200
    assert "contact_email" in response.context["form"].errors
    response = client.post(
        reverse("tenants:create"),
        {"name": "x", "slug": "kuaida", "contact_name": "y", "contact_email": "y@x.cn", "timezone": "Asia/Shanghai"},
    )
    assert response.status_code == 200
    assert "slug" in response.context["form"].errors
    assert Tenant.objects.count() == 1


def test_switch_between_own_tenants_only(client_for, member, outsider):
    second = MembershipFactory(user=member.user, role=Role.VIEWER)
    client = client_for(member)
    client.post(reverse("tenants:switch"), {"tenant": second.tenant_id})
    assert client.session[SESSION_TENANT_KEY] == second.tenant_id
    assert client.get("/").context["current_tenant"] == second.tenant

    client.post(reverse("tenants:switch"), {"tenant": outsider.tenant_id})
    assert client.session[SESSION_TENANT_KEY] == second.tenant_id
    client.post(reverse("tenants:switch"), {"tenant": "nonsense"})
    assert client.session[SESSION_TENANT_KEY] == second.tenant_id


def test_a_session_pointing_at_a_foreign_tenant_falls_back_to_an_own_one(client_for, member, outsider):
    client = client_for(member)
    session = client.session
    session[SESSION_TENANT_KEY] = outsider.tenant_id
    session.save()
    response = client.get(reverse("tenants:members"))
    assert response.context["current_tenant"] == member.tenant
    assert outsider.user.email not in response.content.decode()


# --- settings ------------------------------------------------------------------------------


def test_settings_save_for_managers(member_client, member):
    response = member_client.post(
        reverse("tenants:settings"),
        {"name": "新名字", "contact_name": "李", "contact_email": "li@x.cn", "timezone": "Asia/Urumqi"},
    )
    assert response.status_code == 302
    member.tenant.refresh_from_db()
    assert (member.tenant.name, member.tenant.timezone) == ("新名字", "Asia/Urumqi")


def test_outsider_settings_page_shows_only_their_own_tenant(outsider_client, member):
    response = outsider_client.get(reverse("tenants:settings"))
    assert response.status_code == 200
    assert member.tenant.name not in response.content.decode()


# --- members and invitations --------------------------------------------------------------


def test_member_list_shows_the_team_and_not_others(member_client, member, teammate, outsider):
    body = member_client.get(reverse("tenants:members")).content.decode()
    assert teammate.user.email in body
    assert outsider.user.email not in body


def test_invite_a_member_sends_the_email(member_client, member, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = member_client.post(reverse("tenants:invite"), {"email": "new@example.com", "role": Role.VIEWER})
    assert response.status_code == 302
    invitation = Invitation.objects.get(tenant=member.tenant)
    assert invitation.role == Role.VIEWER
    assert len(mailoutbox) == 1
    assert "/tenant/invitations/" in mailoutbox[0].body
    assert "new@example.com" in member_client.get(reverse("tenants:members")).content.decode()


def test_invite_with_a_bad_email_or_a_member_shows_form_errors(member_client, teammate):
    response = member_client.post(reverse("tenants:invite"), {"email": "not an email", "role": Role.VIEWER})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    response = member_client.post(reverse("tenants:invite"), {"email": teammate.user.email, "role": Role.VIEWER})
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not Invitation.objects.exists()


def test_change_role_and_remove(member_client, member, teammate):
    response = member_client.post(reverse("tenants:member_role", args=[teammate.pk]), {"role": Role.FINANCE})
    assert response.status_code == 302
    teammate.refresh_from_db()
    assert teammate.role == Role.FINANCE
    member_client.post(reverse("tenants:member_remove", args=[teammate.pk]))
    assert not Membership.objects.filter(pk=teammate.pk).exists()


def test_last_owner_is_protected_with_a_message(member_client, member):
    response = member_client.post(reverse("tenants:member_role", args=[member.pk]), {"role": Role.VIEWER}, follow=True)
    assert response.status_code == 200
    assert any(m.level_tag == "error" for m in response.context["messages"])
    response = member_client.post(reverse("tenants:member_remove", args=[member.pk]), follow=True)
    assert any(m.level_tag == "error" for m in response.context["messages"])
    member.refresh_from_db()
    assert member.role == Role.OWNER


def test_change_role_with_an_invalid_role_is_a_message_not_a_500(member_client, teammate):
    response = member_client.post(reverse("tenants:member_role", args=[teammate.pk]), {"role": "emperor"}, follow=True)
    assert response.status_code == 200
    teammate.refresh_from_db()
    assert teammate.role == Role.OPERATOR


def test_outsider_gets_404_for_members_and_invitations_of_another_tenant(outsider_client, member, teammate):
    invitation, _token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="x@example.com", role=Role.VIEWER
    )
    for url, data in (
        (reverse("tenants:member_role", args=[teammate.pk]), {"role": Role.VIEWER}),
        (reverse("tenants:member_remove", args=[teammate.pk]), {}),
        (reverse("tenants:invitation_revoke", args=[invitation.pk]), {}),
    ):
        assert outsider_client.post(url, data).status_code == 404, url
    teammate.refresh_from_db()
    invitation.refresh_from_db()
    assert teammate.role == Role.OPERATOR
    assert invitation.revoked_at is None


def test_revoke_an_invitation(member_client, member):
    invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="x@example.com", role=Role.VIEWER
    )
    assert member_client.post(reverse("tenants:invitation_revoke", args=[invitation.pk])).status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert member_client.get(reverse("tenants:invitation_accept", args=[token])).status_code == 404


def test_accept_an_invitation_flow(client, member):
    _invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="new@example.com", role=Role.OPERATOR
    )
    url = reverse("tenants:invitation_accept", args=[token])
    response = client.get(url)
    assert response.status_code == 200
    assert "new@example.com" in response.content.decode()  # asks to log in as the invited address

    newcomer = UserFactory(email="new@example.com")
    client.force_login(newcomer)
    assert client.get(url).status_code == 200
    response = client.post(url)
    assert response.status_code == 302
    assert Membership.objects.get(tenant=member.tenant, user=newcomer).role == Role.OPERATOR
    assert client.session[SESSION_TENANT_KEY] == member.tenant_id
    response = client.post(url)
    assert response.status_code == 409


def test_accept_with_the_wrong_account_or_too_late(client, member):
    invitation, token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="right@example.com", role=Role.OPERATOR
    )
    url = reverse("tenants:invitation_accept", args=[token])
    client.force_login(UserFactory(email="wrong@example.com"))
    response = client.post(url)
    assert response.status_code == 403
    assert "right@example.com" in response.content.decode()
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(url).status_code == 410
    assert client.get(reverse("tenants:invitation_accept", args=["garbage"])).status_code == 404
    assert Membership.objects.filter(tenant=member.tenant).count() == 1


# --- API keys ------------------------------------------------------------------------------


def test_create_a_key_shows_the_secret_once(member_client, member):
    response = member_client.post(reverse("tenants:apikeys"), {"name": "CRM", "scopes": ["send", "read"]})
    assert response.status_code == 200
    secret = response.context["new_secret"]
    assert secret.startswith("sk_")
    assert secret in response.content.decode()
    key = ApiKey.objects.get(tenant=member.tenant)
    assert key.scopes == ["read", "send"]
    later = member_client.get(reverse("tenants:apikeys")).content.decode()
    assert "CRM" in later
    assert secret not in later
    assert key.prefix in later


def test_create_a_key_without_scopes_is_a_form_error(member_client):
    response = member_client.post(reverse("tenants:apikeys"), {"name": "CRM"})
    assert response.status_code == 200
    assert "scopes" in response.context["form"].errors
    assert not ApiKey.objects.exists()


def test_rename_and_revoke_a_key(member_client, member):
    key, _raw = services.apikey_create(tenant=member.tenant, actor=member.user, name="old", scopes=["read"])
    assert member_client.post(reverse("tenants:apikey_rename", args=[key.pk]), {"name": "new"}).status_code == 302
    response = member_client.post(reverse("tenants:apikey_rename", args=[key.pk]), {"name": ""}, follow=True)
    assert any(m.level_tag == "error" for m in response.context["messages"])
    assert member_client.post(reverse("tenants:apikey_revoke", args=[key.pk])).status_code == 302
    key.refresh_from_db()
    assert key.name == "new"
    assert key.revoked_at is not None


def test_outsider_gets_404_for_another_tenants_keys(outsider_client, member):
    key, _raw = services.apikey_create(tenant=member.tenant, actor=member.user, name="theirs", scopes=["read"])
    assert outsider_client.post(reverse("tenants:apikey_rename", args=[key.pk]), {"name": "x"}).status_code == 404
    assert outsider_client.post(reverse("tenants:apikey_revoke", args=[key.pk])).status_code == 404
    assert "theirs" not in outsider_client.get(reverse("tenants:apikeys")).content.decode()
    key.refresh_from_db()
    assert (key.name, key.revoked_at) == ("theirs", None)


# --- roles ---------------------------------------------------------------------------------

MANAGER_PAGES = [
    ("get", "tenants:invite", []),
    ("post", "tenants:invite", []),
    ("get", "tenants:apikeys", []),
    ("post", "tenants:apikeys", []),
    ("get", "tenants:settings", []),
    ("post", "tenants:member_role", ["teammate"]),
    ("post", "tenants:member_remove", ["teammate"]),
    ("post", "tenants:invitation_revoke", ["invitation"]),
    ("post", "tenants:apikey_rename", ["key"]),
    ("post", "tenants:apikey_revoke", ["key"]),
]


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.FINANCE, Role.VIEWER])
def test_non_managers_cannot_manage_members_keys_or_settings(client_for, member, teammate, role):
    invitation, _token = services.invitation_create(
        tenant=member.tenant, actor=member.user, email="x@example.com", role=Role.VIEWER
    )
    key, _raw = services.apikey_create(tenant=member.tenant, actor=member.user, name="k", scopes=["read"])
    objects = {"teammate": teammate.pk, "invitation": invitation.pk, "key": key.pk}
    client = client_for(MembershipFactory(tenant=member.tenant, role=role))
    for method, name, args in MANAGER_PAGES:
        url = reverse(name, args=[objects[a] for a in args])
        response = getattr(client, method)(url, {"role": Role.OWNER, "name": "x", "email": "y@example.com"})
        assert response.status_code == 403, (role, method, url)
    assert client.get(reverse("tenants:members")).status_code == 200
    teammate.refresh_from_db()
    key.refresh_from_db()
    assert teammate.role == Role.OPERATOR
    assert key.revoked_at is None
    assert Invitation.objects.count() == 1


def test_admin_can_manage(client_for, member, teammate):
    client = client_for(MembershipFactory(tenant=member.tenant, role=Role.ADMIN))
    assert client.get(reverse("tenants:apikeys")).status_code == 200
    assert client.post(reverse("tenants:member_role", args=[teammate.pk]), {"role": Role.VIEWER}).status_code == 302
    teammate.refresh_from_db()
    assert teammate.role == Role.VIEWER


def test_every_tenant_page_declares_a_permission():
    from tenants import urls

    for pattern in urls.urlpatterns:
        callback = pattern.callback
        if pattern.name in {"create", "switch", "invitation_accept"}:
            continue  # before or across tenants: login only, tenant checked inside
        assert getattr(callback, "tenant_permission", None), pattern.name


# --- suspension ----------------------------------------------------------------------------


def test_suspended_tenant_users_see_the_suspended_page(member_client, member, staff_user):
    services.tenant_suspend(tenant=member.tenant, actor=staff_user, reason="未付款")
    for url in ("/", reverse("tenants:members"), reverse("tenants:apikeys")):
        response = member_client.get(url)
        assert response.status_code == 403, url
        assert "未付款" in response.content.decode()
    services.tenant_reactivate(tenant=member.tenant, actor=staff_user)
    assert member_client.get("/").status_code == 200


# --- staff area ----------------------------------------------------------------------------


def test_staff_area_is_404_for_tenant_users(member_client, member):
    assert member_client.get(reverse("staff:tenants")).status_code == 404
    assert (
        member_client.post(reverse("staff:tenant_suspend", args=[member.tenant_id]), {"reason": "x"}).status_code == 404
    )
    member.tenant.refresh_from_db()
    assert member.tenant.is_active


def test_staff_area_needs_login(client, db):
    response = client.get(reverse("staff:tenants"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_staff_without_totp_are_sent_to_set_it_up(client, db):
    client.force_login(UserFactory(is_staff=True))
    response = client.get(reverse("staff:tenants"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert client.get("/").status_code == 302
    assert client.get(reverse("mfa_index")).status_code == 200


def test_staff_with_totp_see_tenants_and_suspend_and_reactivate(staff_client, member, outsider):
    body = staff_client.get(reverse("staff:tenants")).content.decode()
    assert member.tenant.name in body and outsider.tenant.name in body

    response = staff_client.post(reverse("staff:tenant_suspend", args=[member.tenant_id]), {"reason": "投诉过多"})
    assert response.status_code == 302
    member.tenant.refresh_from_db()
    assert not member.tenant.is_active
    assert member.tenant.suspended_reason == "投诉过多"

    response = staff_client.post(reverse("staff:tenant_reactivate", args=[member.tenant_id]))
    assert response.status_code == 302
    member.tenant.refresh_from_db()
    assert member.tenant.is_active


def test_staff_suspend_without_reason_or_unknown_tenant(staff_client, member):
    response = staff_client.post(
        reverse("staff:tenant_suspend", args=[member.tenant_id]), {"reason": "  "}, follow=True
    )
    assert any(m.level_tag == "error" for m in response.context["messages"])
    member.tenant.refresh_from_db()
    assert member.tenant.is_active
    assert staff_client.post(reverse("staff:tenant_suspend", args=[999999]), {"reason": "x"}).status_code == 404
    assert staff_client.get(reverse("staff:tenant_suspend", args=[member.tenant_id])).status_code == 405
