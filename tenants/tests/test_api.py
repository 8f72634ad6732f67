import re

import pytest
import yaml
from django.core.management import call_command
from rest_framework.test import APIClient

from smsportal.factories import api_key_for
from tenants import services
from tenants.models import ApiKey


def _get(key: str | None = None, header: str = "HTTP_AUTHORIZATION", path: str = "/api/v1/me"):
    client = APIClient()
    extra = {header: key} if key is not None else {}
    return client.get(path, **extra)


def _error_code(response) -> str:
    return response.json()["error"]["code"]


def test_me_returns_the_keys_tenant(member, api_for):
    response = api_for(member, scopes=["send"]).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["tenant"]["slug"] == member.tenant.slug
    assert body["tenant"]["timezone"] == "Asia/Shanghai"
    assert body["key"]["scopes"] == ["send"]
    assert "secret" not in str(body).lower()


def test_me_records_last_use(member):
    raw = api_key_for(member)
    assert _get(f"Bearer {raw}").status_code == 200
    assert ApiKey.objects.get(tenant=member.tenant).last_used_at is not None


def test_x_api_key_header_is_accepted(member):
    response = _get(api_key_for(member), header="HTTP_X_API_KEY")
    assert response.status_code == 200
    assert response.json()["tenant"]["slug"] == member.tenant.slug


def test_missing_key_is_401_missing_api_key(db):
    response = _get()
    assert response.status_code == 401
    assert _error_code(response) == "missing_api_key"
    assert response["WWW-Authenticate"] == "Bearer"
    assert _get("Bearer ").status_code == 401


@pytest.mark.parametrize("raw", ["nonsense", "sk_", "sk_abc", "Basic dXNlcjpwYXNz", "sk_deadbeef_whatever"])
def test_malformed_or_unknown_key_is_401_invalid_api_key(db, raw):
    response = _get(f"Bearer {raw}" if not raw.startswith("Basic") else raw)
    assert response.status_code == 401
    assert _error_code(response) == "invalid_api_key"


def test_wrong_secret_for_a_real_prefix_is_401_invalid_api_key(member):
    raw = api_key_for(member)
    prefix = raw.split("_")[1]
    forged = f"sk_{prefix}_{'A' * 43}"
    response = _get(f"Bearer {forged}")
    assert response.status_code == 401
    assert _error_code(response) == "invalid_api_key"


def test_revoked_key_is_refused_immediately(member):
    key, raw = services.apikey_create(tenant=member.tenant, actor=member.user, name="k", scopes=["read"])
    assert _get(f"Bearer {raw}").status_code == 200
    services.apikey_revoke(tenant=member.tenant, actor=member.user, key_id=key.pk)
    response = _get(f"Bearer {raw}")
    assert response.status_code == 401
    assert _error_code(response) == "revoked_api_key"


def test_suspended_tenants_keys_get_403_tenant_suspended(member, staff_user):
    raw = api_key_for(member)
    services.tenant_suspend(tenant=member.tenant, actor=staff_user, reason="unpaid")
    response = _get(f"Bearer {raw}")
    assert response.status_code == 403
    assert _error_code(response) == "tenant_suspended"
    services.tenant_reactivate(tenant=member.tenant, actor=staff_user)
    assert _get(f"Bearer {raw}").status_code == 200


def test_a_portal_session_is_not_an_api_credential(member_client):
    response = member_client.get("/api/v1/me")
    assert response.status_code == 401
    assert _error_code(response) == "missing_api_key"


def test_the_key_decides_the_tenant_not_the_client(member, outsider):
    response = _get(f"Bearer {api_key_for(outsider)}", path=f"/api/v1/me?tenant={member.tenant_id}")
    assert response.json()["tenant"]["slug"] == outsider.tenant.slug


# --- schema and docs -----------------------------------------------------------------------


def test_schema_is_openapi_3_and_documents_me(db):
    response = APIClient().get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me" in schema["paths"]
    description = schema["info"]["description"]
    for sample in ("curl -H", "requests.get", "HttpClient", "curl_init"):
        assert sample in description


def test_schema_validates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 0


def test_docs_page_uses_local_assets(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
    # Every script and stylesheet comes from our own static files, none from another host.
    # (Not a bare "cdn" search: the page's random CSRF token can contain those letters.)
    external = re.findall(r'(?:src|href)=["\'](?:https?:)?//[^"\']+', body)
    assert external == []
    assert "cdn.jsdelivr" not in body and "unpkg.com" not in body
    assert client.get("/api/redoc/").status_code == 200
