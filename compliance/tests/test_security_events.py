"""Account security events land in the (platform) audit log, with the IP address."""

import time

from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.urls import reverse

from compliance.models import AuditEvent
from smsportal.factories.tenants import DEFAULT_PASSWORD

NEW_PASSWORD = "lantern-orbit-4471"


def sign_in(client, member, password=DEFAULT_PASSWORD):
    return client.post(
        reverse("account_login"), {"login": member.user.email, "password": password}, REMOTE_ADDR="10.9.8.7"
    )


def test_sign_in_and_failed_attempts_are_audited(client, member):
    sign_in(client, member, password="wrong-guess-123")
    failed = AuditEvent.objects.get(action="account.sign_in_failed")
    assert failed.after == {"login": member.user.email} and failed.actor is None and failed.tenant is None
    assert failed.ip_address == "10.9.8.7" and "wrong-guess" not in str(failed.after)
    assert sign_in(client, member).status_code == 302
    event = AuditEvent.objects.get(action="account.signed_in")
    assert event.actor == member.user and event.ip_address == "10.9.8.7"


def test_password_change_and_two_factor_are_audited(client, member, django_capture_on_commit_callbacks):
    sign_in(client, member)
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="account.password_changed", actor=member.user).exists()

    client.post(reverse("account_reauthenticate"), {"password": NEW_PASSWORD})
    client.get(reverse("mfa_activate_totp"))
    secret = client.session["mfa.totp.secret"]
    code = format_hotp_value(hotp_value(secret, int(time.time()) // 30))
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals after commit
        assert client.post(reverse("mfa_activate_totp"), {"code": code}).status_code == 302
    assert AuditEvent.objects.filter(action="mfa.added", actor=member.user, after__type="totp").exists()


def test_staff_see_security_events_in_the_audit_log(staff_client, member):
    from django.test import Client

    sign_in(Client(), member, password="wrong-guess-123")
    body = staff_client.get(reverse("compliance_staff:audit")).content.decode()
    assert "account.sign_in_failed" in body
