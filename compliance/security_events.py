"""Account security events into the audit log: sign-in (and failed attempts), password
changes and resets, e-mail changes, two-factor authenticators added, removed or reset.

Thin receivers of django-allauth's and Django's signals (the only hook those flows offer);
each writes one audit event and nothing else. These are platform events (no tenant): staff
see them in the whole audit log."""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.dispatch import receiver

from compliance.audit import audit_record


def _ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def _record(action: str, *, request=None, user=None, after: dict | None = None, actor_label: str = "") -> None:
    audit_record(tenant=None, actor=user, action=action, after=after, ip_address=_ip(request), actor_label=actor_label)


def connect() -> None:
    """Called from ComplianceConfig.ready()."""
    from allauth.account import signals as account
    from allauth.mfa import signals as mfa

    account.user_logged_in.connect(_signed_in, dispatch_uid="compliance.signed_in")
    account.password_changed.connect(
        _password("account.password_changed"), dispatch_uid="compliance.pw_changed", weak=False
    )
    account.password_set.connect(_password("account.password_set"), dispatch_uid="compliance.pw_set", weak=False)
    account.password_reset.connect(_password("account.password_reset"), dispatch_uid="compliance.pw_reset", weak=False)
    account.email_changed.connect(_email_changed, dispatch_uid="compliance.email_changed")
    mfa.authenticator_added.connect(_mfa("mfa.added"), dispatch_uid="compliance.mfa_added", weak=False)
    mfa.authenticator_removed.connect(_mfa("mfa.removed"), dispatch_uid="compliance.mfa_removed", weak=False)
    mfa.authenticator_reset.connect(_mfa("mfa.reset"), dispatch_uid="compliance.mfa_reset", weak=False)


def _signed_in(sender, request, user, **kwargs) -> None:
    _record("account.signed_in", request=request, user=user)


@receiver(user_login_failed, dispatch_uid="compliance.sign_in_failed")
def _sign_in_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already removed the password from `credentials`; what was typed as the login stays.
    login = str(credentials.get("email") or credentials.get("username") or credentials.get("login") or "")[:200]
    _record("account.sign_in_failed", request=request, after={"login": login}, actor_label=login or "anonymous")


def _password(action: str):
    def handler(sender, request, user, **kwargs) -> None:
        _record(action, request=request, user=user)

    return handler


def _email_changed(sender, request, user, from_email_address=None, to_email_address=None, **kwargs) -> None:
    _record(
        "account.email_changed",
        request=request,
        user=user,
        after={
            "from": getattr(from_email_address, "email", None),
            "to": getattr(to_email_address, "email", None),
        },
    )


def _mfa(action: str):
    def handler(sender, request, user, authenticator=None, **kwargs) -> None:
        _record(action, request=request, user=user, after={"type": getattr(authenticator, "type", "")})

    return handler
