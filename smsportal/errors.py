"""One error type for services. Views turn it into a form error, the API into JSON.

`code` is stable (clients switch on it); `message` is translated for people.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fields: dict | None = None,
        status: int | None = None,
    ):
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.fields = dict(fields or {})
        if field:
            self.fields.setdefault(field, [message])
        if status is not None:
            self.status = status


class NotFound(ServiceError):
    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class PaymentRequired(ServiceError):
    status = 402


class Unprocessable(ServiceError):
    status = 422
