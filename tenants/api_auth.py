"""API key authentication: the key, and only the key, decides the tenant."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from tenants.models import ApiKey, Tenant, hash_token


@dataclass
class ApiClient:
    """Stands in for request.user on API calls: the key and its tenant."""

    key: ApiKey
    tenant: Tenant
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_authenticated: bool = True
    is_staff: bool = False
    is_api_client: bool = True

    @property
    def pk(self):  # audit and created_by fields store the key's creator, never a foreign user
        return None

    @property
    def audit_label(self) -> str:
        return f"api key {self.key.prefix} ({self.key.name})"


class ApiKeyFailed(exceptions.AuthenticationFailed):
    def __init__(self, code: str, message: str):
        super().__init__(detail=message, code=code)


def parse_key(header_value: str) -> str | None:
    value = header_value.strip()
    if value.lower().startswith("bearer "):
        value = value[7:].strip()
    return value or None


def _key_with_tenant(prefix: str) -> ApiKey | None:
    """The key with this prefix and its tenant, in one join (every API call starts here)."""
    from smsportal.joined import fetch_joined, select_list

    found = fetch_joined(
        f"""SELECT {select_list(ApiKey, "k")}, {select_list(Tenant, "t")}
              FROM tenants_apikey k JOIN tenants_tenant t ON t.id = k.tenant_id
             WHERE k.prefix = %s""",  # noqa: S608
        [prefix],
        [ApiKey, Tenant],
    )
    if found is None:
        return None
    key, tenant = found
    key.tenant = tenant
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw = parse_key(request.META.get("HTTP_AUTHORIZATION", "")) or parse_key(request.META.get("HTTP_X_API_KEY", ""))
        if not raw:
            return None
        if not raw.startswith(settings.API_KEY_PREFIX) or raw.count("_") < 2:
            raise ApiKeyFailed("invalid_api_key", _("The API key is not valid."))
        prefix = raw[len(settings.API_KEY_PREFIX) :].split("_", 1)[0]
        key = _key_with_tenant(prefix)
        if key is None or not hmac.compare_digest(key.secret_hash, hash_token(raw)):
            raise ApiKeyFailed("invalid_api_key", _("The API key is not valid."))
        if key.revoked_at is not None:
            raise ApiKeyFailed("revoked_api_key", _("This API key has been revoked."))
        if not key.tenant.is_active:
            raise exceptions.PermissionDenied(
                detail=_("This enterprise account is suspended; contact support."), code="tenant_suspended"
            )
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > timedelta(minutes=1):
            # Throttled so a busy integration does not turn every call into a write.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        client = ApiClient(key=key, tenant=key.tenant, scopes=frozenset(key.scopes))
        request._request.tenant = key.tenant
        request._request.api_client = client
        return client, key

    def authenticate_header(self, request):
        return self.keyword


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents the API key as an HTTP bearer token in the OpenAPI schema."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_<prefix>_<secret>",
            "description": "An API key from the portal (API keys page). `X-API-Key: <key>` is accepted too.",
        }
