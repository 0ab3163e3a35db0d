"""The API's error shape outside DRF's views: Django's own refusals under ``/api/``.

DRF's exception handler (``exception_handler.py``) shapes what a view raises. Some replies
never reach a view: a CSRF failure (``CsrfViewMiddleware``), a path no route matches, a
bad ``Host`` header, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, an unhandled exception
(Django's 500 handler). Under ``/api/`` each answers ``{"error": {"code", "message",
"details"}}`` in JSON; the rest of the site keeps Django's HTML pages.

Three layers, so nothing slips through:

- ``ApiErrorMiddleware`` refuses an over-long body by its ``Content-Length`` before any
  view reads it (DRF's parser streams the body and would not apply Django's limit), and
  turns any non-JSON error reply under ``/api/`` into the shape;
- the ``handler400``/``403``/``404``/``500`` views and ``CSRF_FAILURE_VIEW`` branch on the
  path and give the precise code (``csrf_failed``, ``payload_too_large``, …);
- DRF's exception handler, for everything raised inside API views.
"""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

# Status → (code, message) for replies that carry no detail of their own.
GENERIC = {
    400: ("bad_request", "The request could not be understood."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You may not do this."),
    404: ("not_found", "No such API endpoint."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is too large."),
    500: ("server_error", "Something went wrong on our side; the error was logged."),
}
# Headers a client needs to act on the refusal; the rest of an HTML reply is dropped.
KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After", "Vary")


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def api_error(
    code: str, message: str, status: int, details: dict | None = None
) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status=status,
    )


def generic_error(status: int) -> JsonResponse:
    code, message = GENERIC.get(
        status, ("error", "The request could not be completed.")
    )
    return api_error(code, message, status)


def too_large() -> JsonResponse:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return api_error(
        "payload_too_large",
        f"The request body is larger than {limit} bytes.",
        413,
        {"max_bytes": limit},
    )


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.split(";")[0].strip() in {
        "application/json",
        "application/problem+json",
    }


class ApiErrorMiddleware:
    """Under ``/api/``: refuse an over-long body up front; every error reply is JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_api(request):
            return self.get_response(request)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return api_error(
                    "bad_request", "The Content-Length header is not a number.", 400
                )
            if length > limit:
                return too_large()
        response = self.get_response(request)
        if response.status_code >= 400 and not _is_json(response):
            shaped = generic_error(response.status_code)
            for header in KEPT_HEADERS:
                if header in response:
                    shaped[header] = response[header]
            return shaped
        return response


# --- Django's error views, branching on the path ------------------------------------------


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return too_large()
    return generic_error(400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return generic_error(403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return generic_error(404)


def server_error(request: HttpRequest) -> HttpResponse:
    if not is_api(request):
        return defaults.server_error(request)
    return generic_error(500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the API explains the refusal in its own shape."""
    if not is_api(request):
        return django_csrf_failure(request, reason)
    return api_error(
        "csrf_failed",
        "CSRF verification failed: send the X-CSRFToken header with a session, "
        "or use an API key.",
        403,
        {"reason": reason},
    )
