"""One error shape for the whole API: ``{"error": {"code", "message", "details"}}``."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from oms.core.errors import OmsError

CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_request",
    exceptions.Throttled: "rate_limited",
    exceptions.ValidationError: "invalid_input",
}


def error_response(
    code: str, message: str, status: int, details: dict | None = None, headers=None
) -> Response:
    return Response(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status=status,
        headers=headers,
    )


def exception_handler(exc, context):
    if isinstance(exc, OmsError):
        return error_response(exc.code, exc.message, exc.http_status, exc.details)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500 handling and logging take over
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        details = {
            "fields": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail}
        }
        message = "The request is not valid; see details.fields."
    else:
        details = {}
        message = str(exc.detail) if hasattr(exc, "detail") else str(exc)
        if (
            getattr(exc, "get_codes", None)
            and isinstance(exc.get_codes(), str)
            and exc.get_codes() not in ("error",)
        ):
            details["reason"] = exc.get_codes()
    response.data = {"error": {"code": code, "message": message, "details": details}}
    return response
