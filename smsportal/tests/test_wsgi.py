"""The WSGI application as gunicorn calls it: API-key requests take the API's short middleware
list, everything else the portal's; both answer alike where they overlap."""

from __future__ import annotations

import io
import json
import sys
from contextlib import contextmanager

import pytest
from django.core import signals
from django.db import close_old_connections

from messaging.models import Message
from smsportal import wsgi
from smsportal.factories import api_key_for
from smsportal.factories.messaging import ready_to_send

pytestmark = pytest.mark.django_db


@contextmanager
def _inside_the_test_transaction():
    # As Django's test client does: a request must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def call(method: str, path: str, *, body: dict | bytes | None = None, **headers: str):
    data = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
        "wsgi.url_scheme": "https",  # as behind the TLS proxy: no redirect to HTTPS
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    answer = {}

    def start_response(status, response_headers, exc_info=None):
        answer["status"] = int(status.split()[0])
        answer["headers"] = dict(response_headers)

    with _inside_the_test_transaction():
        content = b"".join(wsgi.application(environ, start_response))
    return answer["status"], answer["headers"], content


@pytest.fixture
def key(member):
    return api_key_for(member)


def test_a_send_with_an_api_key_takes_the_short_path_and_is_queued(member, key):
    template = ready_to_send(member.tenant)
    body = {"template_id": template.pk, "number": "13800138000", "variables": {"code": "123456"}}
    environ_probe = {"PATH_INFO": "/api/v1/messages", "HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert wsgi.is_api_key_request(environ_probe)
    status, headers, content = call("POST", "/api/v1/messages", body=body, authorization=f"Bearer {key}")
    assert status == 201, content
    message = Message.objects.get(pk=json.loads(content)["id"])
    assert (message.tenant_id, message.status, message.number) == (member.tenant_id, "queued", "+8613800138000")
    assert headers["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware is on both paths


def test_the_short_path_answers_errors_in_the_same_shape_and_language(member, key):
    status, _headers, content = call("POST", "/api/v1/messages", body=b"{not json", x_api_key=key)
    assert status == 400 and json.loads(content)["error"]["code"] == "bad_json"
    status, _headers, content = call(
        "POST", "/api/v1/messages", body={}, authorization="Bearer sk_nope_nope", accept_language="en"
    )
    error = json.loads(content)["error"]
    assert (status, error["code"], error["message"]) == (401, "invalid_api_key", "The API key is not valid.")
    status, _headers, content = call("POST", "/api/v1/messages", body={}, authorization="Bearer sk_nope_nope")
    assert json.loads(content)["error"]["message"] == "API 密钥无效。"  # Chinese by default


def test_another_tenants_message_is_404_on_the_short_path(member, outsider, key):
    template = ready_to_send(member.tenant)
    body = {"template_id": template.pk, "number": "13800138000", "variables": {"code": "123456"}}
    message_id = json.loads(call("POST", "/api/v1/messages", body=body, authorization=f"Bearer {key}")[2])["id"]
    status, _headers, _content = call(
        "GET", f"/api/v1/messages/{message_id}", authorization=f"Bearer {api_key_for(outsider)}"
    )
    assert status == 404
    assert call("GET", f"/api/v1/messages/{message_id}", authorization=f"Bearer {key}")[0] == 200


def test_requests_without_a_key_or_with_a_cookie_take_the_portal_path():
    assert not wsgi.is_api_key_request({"PATH_INFO": "/api/v1/messages"})
    assert not wsgi.is_api_key_request({"PATH_INFO": "/api/v1/messages", "HTTP_X_API_KEY": "k", "HTTP_COOKIE": "s=1"})
    assert not wsgi.is_api_key_request({"PATH_INFO": "/templates/", "HTTP_AUTHORIZATION": "Bearer k"})
    status, headers, _content = call("GET", "/accounts/login/")
    assert status == 200 and headers["X-Frame-Options"] == "DENY"  # the portal's full stack
