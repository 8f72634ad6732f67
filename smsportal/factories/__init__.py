"""Test factories, one module per app, all importable from here."""

from smsportal.factories.tenants import (  # noqa: F401
    ApiKeyFactory,
    MembershipFactory,
    TenantFactory,
    UserFactory,
    api_key_for,
)
