"""Shared fixtures: the trio (a member, a teammate, an outsider), logged-in clients,
API clients, and a Playwright page against the live server."""

from __future__ import annotations

import os

import pytest

from smsportal.factories import MembershipFactory, TenantFactory, api_key_for
from tenants.middleware import SESSION_TENANT_KEY
from tenants.models import Role


@pytest.fixture(autouse=True)
def _demo_logins_file_in_tmp(tmp_path_factory, monkeypatch):
    """A test that runs smsportal.demo.seed() must not overwrite ./var/demo-logins.json, which
    holds the passwords of the real demo database that `make demo` prints."""
    import smsportal.demo

    monkeypatch.setattr(smsportal.demo, "LOGINS_FILE", tmp_path_factory.getbasetemp() / "demo-logins.json")


@pytest.fixture
def tenant(db):
    return TenantFactory()


@pytest.fixture
def member(tenant):
    """The owner of `tenant`."""
    return MembershipFactory(tenant=tenant, role=Role.OWNER)


@pytest.fixture
def teammate(tenant):
    """A second member of the same tenant, an operator."""
    return MembershipFactory(tenant=tenant, role=Role.OPERATOR)


@pytest.fixture
def outsider(db):
    """The owner of another tenant: must see nothing of `tenant`."""
    return MembershipFactory(role=Role.OWNER)


def login(client, membership):
    client.force_login(membership.user)
    session = client.session
    session[SESSION_TENANT_KEY] = membership.tenant_id
    session.save()
    return client


@pytest.fixture
def member_client(client, member):
    return login(client, member)


@pytest.fixture
def outsider_client(client, outsider):
    return login(client, outsider)


@pytest.fixture
def client_for(db):
    """client_for(membership) → a new logged-in Django test client."""
    from django.test import Client

    return lambda membership: login(Client(), membership)


@pytest.fixture
def api_for(db):
    """api_for(membership, scopes=...) → a DRF APIClient carrying a fresh API key."""
    from rest_framework.test import APIClient

    def make(membership, scopes=("send", "read", "manage")):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_for(membership, scopes)}")
        return api

    return make


@pytest.fixture
def staff_user(db):
    """A platform staff member with TOTP turned on (required for staff)."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    from smsportal.factories import UserFactory

    user = UserFactory(is_staff=True)
    TOTP.activate(user, generate_totp_secret())
    return user


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


# --- Browser tests ----------------------------------------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(locale="zh-CN", base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()
