"""Domain errors. Each has a stable machine-readable ``code`` and one HTTP status.

Interfaces (API, dashboard, admin, jobs) render them; services raise them. The API turns
any ``OmsError`` into ``{"error": {"code", "message", "details"}}``.
"""

from typing import Any


class OmsError(Exception):
    code = "error"
    http_status = 400
    message = "The request could not be completed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.message
        self.details = details
        super().__init__(self.message)

    @property
    def reason_text(self) -> str:
        """The message and the machine reason, for one line of a per-order result."""
        return f"{self.message} {self.details.get('reason') or ''}".strip()

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(OmsError):
    code = "invalid_input"
    http_status = 400
    message = "The input is not valid."


class NotFound(OmsError):
    code = "not_found"
    http_status = 404
    message = "Not found."


class PermissionDenied(OmsError):
    code = "permission_denied"
    http_status = 403
    message = "You may not do this."


class InvalidTransition(OmsError):
    """The order's state machine does not allow this event now."""

    code = "invalid_transition"
    http_status = 409
    message = "This action is not allowed in the order's current status."


class VersionConflict(OmsError):
    """The caller's copy of the order is stale (optimistic concurrency)."""

    code = "version_conflict"
    http_status = 412
    message = "The order changed since you loaded it; reload and try again."


class UnknownNativeStatus(OmsError):
    code = "unknown_native_status"
    http_status = 400
    message = "The platform sent a status code this system does not know."


class PlatformErrorResponse(OmsError):
    """A platform API response that is an error envelope, not data."""

    code = "platform_error_response"
    http_status = 400
    message = "The payload is a platform error response, not an order."


class CurrencyRequired(OmsError):
    """An amount whose currency is not stated, on an order that has another one."""

    code = "currency_required"
    http_status = 400
    message = "An amount has no currency; the order's currency cannot be assumed."
