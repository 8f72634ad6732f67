"""Accounts through django-allauth, in the portal's layout: sign-up with mandatory email
verification, log in and out, password reset, TOTP two-factor with recovery codes."""

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core.cache import cache
from django.urls import reverse

from smsportal.factories import UserFactory
from smsportal.factories.tenants import DEFAULT_PASSWORD
from tenants.models import User

NEW_PASSWORD = "lantern-orbit-4471"


def totp_now(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def link_in(mail, path_start: str) -> str:
    match = re.search(rf"https?://[^/\s]+({re.escape(path_start)}\S+)", mail.body)
    assert match, mail.body
    return match.group(1)


def test_sign_up_needs_email_verification_then_logs_in(client, db, mailoutbox):
    response = client.post(
        reverse("account_signup"),
        {"email": "new@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not User.objects.get(email="new@example.com").emailaddress_set.get().verified

    # Until verified, logging in only re-sends the verification.
    response = client.post(reverse("account_login"), {"login": "new@example.com", "password": NEW_PASSWORD})
    assert response["Location"] == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session

    confirm = link_in(mailoutbox[0], "/accounts/confirm-email/")
    assert client.get(confirm).status_code == 200
    response = client.post(confirm)
    assert response.status_code == 302
    assert User.objects.get(email="new@example.com").emailaddress_set.get().verified

    response = client.post(reverse("account_login"), {"login": "new@example.com", "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert client.get("/")["Location"] == reverse("tenants:create")  # a new person starts by creating a tenant


def test_sign_up_with_a_taken_email_or_weak_password_creates_nobody(client, db, mailoutbox):
    UserFactory(email="taken@example.com")
    response = client.post(
        reverse("account_signup"),
        {"email": "taken@example.com", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    # allauth does not reveal that the address is registered; it tells the owner by email instead.
    assert response["Location"] == reverse("account_email_verification_sent")
    assert mailoutbox[0].to == ["taken@example.com"]
    response = client.post(
        reverse("account_signup"), {"email": "x@example.com", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password1"]
    assert User.objects.count() == 1


def test_log_in_with_a_wrong_password_is_a_form_error(client, db):
    UserFactory(email="me@example.com")
    response = client.post(reverse("account_login"), {"login": "me@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_log_in_and_out(client, member):
    response = client.post(reverse("account_login"), {"login": member.user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_reset_by_email(client, member, mailoutbox):
    response = client.post(reverse("account_reset_password"), {"email": member.user.email})
    assert response.status_code == 302
    link = link_in(mailoutbox[0], "/accounts/password/reset/key/")
    response = client.get(link)
    assert response.status_code == 302  # allauth moves the key into the session
    form_url = response["Location"]
    response = client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)


def test_account_pages_render_in_the_portal_layout(client, member):
    client.force_login(member.user)
    for name in ("account_email", "account_change_password", "mfa_index"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        body = response.content.decode()
        assert 'class="topbar"' in body, name
        assert reverse("mfa_index") in body  # the account sub-navigation
    assert reverse("account_email") in client.get("/").content.decode()  # reachable from the top bar
    anonymous = client.__class__()
    for name in ("account_login", "account_signup", "account_reset_password"):
        assert 'class="topbar"' in anonymous.get(reverse(name)).content.decode(), name


@pytest.fixture
def fresh_login(client, member):
    """A logged-in session that just confirmed its password, as allauth asks before MFA changes."""
    client.post(reverse("account_login"), {"login": member.user.email, "password": DEFAULT_PASSWORD})
    assert client.get(reverse("mfa_activate_totp"))["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(reverse("account_reauthenticate"), {"password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return client


def test_any_user_can_turn_on_totp_and_gets_recovery_codes(fresh_login, member):
    client = fresh_login
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 200
    secret = client.session["mfa.totp.secret"]
    response = client.post(reverse("mfa_activate_totp"), {"code": "000000" if totp_now(secret) != "000000" else "1"})
    assert response.status_code == 200
    assert response.context["form"].errors
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_now(secret)})
    assert response.status_code == 302
    types = set(Authenticator.objects.filter(user=member.user).values_list("type", flat=True))
    assert types == {Authenticator.Type.TOTP, Authenticator.Type.RECOVERY_CODES}
    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 200

    # The next sign-in asks for a code after the password.
    client.post(reverse("account_logout"))
    cache.clear()  # a code is accepted only once; the test re-uses the current period
    response = client.post(reverse("account_login"), {"login": member.user.email, "password": DEFAULT_PASSWORD})
    assert response["Location"] == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": "12345678"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": totp_now(secret)})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.user.pk)


def test_a_recovery_code_signs_in_once(client, db):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    user = UserFactory(email="codes@example.com")
    TOTP.activate(user, generate_totp_secret())
    code = RecoveryCodes.activate(user).get_unused_codes()[0]
    for attempt in range(2):
        client.post(reverse("account_login"), {"login": user.email, "password": DEFAULT_PASSWORD})
        response = client.post(reverse("mfa_authenticate"), {"code": code})
        if attempt == 0:
            assert response.status_code == 302
            assert client.session["_auth_user_id"] == str(user.pk)
            client.post(reverse("account_logout"))
        else:
            assert response.status_code == 200
            assert "_auth_user_id" not in client.session
