"""Every API error has the same JSON shape: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from smsportal.errors import ServiceError


def error_response(code: str, message: str, http_status: int, fields: dict | None = None, headers=None) -> Response:
    body = {"error": {"code": code, "message": str(message), "fields": fields or {}}}
    return Response(body, status=http_status, headers=headers)


def _flatten(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {}


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return error_response(exc.code, exc.message, exc.status, exc.fields)
    if isinstance(exc, Http404):
        return error_response("not_found", _("Not found."), status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return error_response("permission_denied", _("You do not have permission to do this."), 403)
    if isinstance(exc, exceptions.ValidationError):
        return error_response("invalid", _("The request has invalid fields."), 400, _flatten(exc.detail))
    if isinstance(exc, exceptions.ParseError):
        return error_response("bad_json", _("The request body is not valid JSON."), 400)
    if isinstance(exc, exceptions.Throttled):
        headers = {"Retry-After": str(int(exc.wait or 1))}
        return error_response("rate_limited", _("Too many requests; retry later."), 429, headers=headers)
    if isinstance(exc, exceptions.APIException):
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        response = drf_exception_handler(exc, context)
        headers = dict(response.headers) if response is not None else None
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
        return error_response(
            code,
            detail,
            exc.status_code,
            headers={k: v for k, v in (headers or {}).items() if k in ("WWW-Authenticate", "Retry-After", "Allow")},
        )
    return None
