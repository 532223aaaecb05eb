"""One error shape for the whole API: {"error": {"code": "...", "message": "...", ...}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from core.jobs.services.intake import Refusal

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """An error with a stable code, a message for people and optional extra fields."""

    def __init__(self, status_code: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.extra = extra


def not_found() -> ApiError:
    """Return the 404 of a job that does not exist or belongs to another account."""
    return ApiError(404, "not_found", "No such separation.")


# Stable codes of DRF's own exceptions.
_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "invalid_key",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "invalid_request",
}


def _message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _message(detail[0])
    if isinstance(detail, dict) and detail:
        field, value = next(iter(detail.items()))
        inner = _message(value)
        return inner if field == "non_field_errors" else f"{field}: {inner}"
    return str(detail)


def body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    """Return the JSON body of an error."""
    return {"error": {"code": code, "message": message, **extra}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Answer every API error in one shape; unknown exceptions stay 500s (and are logged)."""
    if isinstance(exc, Refusal):
        # The intake's refusal, in the API's shape: its code, status, message and facts.
        exc = ApiError(exc.status, exc.code, exc.message, **exc.facts)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(max(1, int(exc.wait)))
    if isinstance(exc, ApiError):
        payload = body(exc.code, exc.message, **exc.extra)
    else:
        code = next((c for k, c in _CODES.items() if isinstance(exc, k)), "error")
        extra: dict[str, Any] = {}
        message = _message(exc.detail)
        if isinstance(exc, exceptions.ValidationError):
            extra["fields"] = exc.detail
        elif isinstance(exc, exceptions.Throttled):
            message = "Too many requests with this key. Try again after Retry-After seconds."
            extra["retry_after"] = int(headers.get("Retry-After", "1"))
        payload = body(code, message, **extra)
    if exc.status_code >= status.HTTP_500_INTERNAL_SERVER_ERROR:
        logger.error("API error %s: %s", exc.status_code, payload)
    # Imported here: DRF loads this module (through the permission class) while importing views.
    from rest_framework.views import set_rollback

    set_rollback()
    return Response(payload, status=exc.status_code, headers=headers)
