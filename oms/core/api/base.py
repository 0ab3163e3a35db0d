"""The base of every API view: authentication, permissions, scopes, rate limits and
idempotency.

The kit names no app: the credentials are DRF's ``DEFAULT_AUTHENTICATION_CLASSES``, the
caller's context comes from ``settings.OMS_API_CONTEXT`` (a dotted path to
``context(request)``, which answers ``has_scope``, ``allows``, ``client_id`` and
``rate_limit_per_minute``) and the idempotency records are the model named by
``settings.OMS_IDEMPOTENCY_MODEL`` (as ``AUTH_USER_MODEL`` names the user model).

Every view declares the role permission a signed-in member needs (``permission``, or
``permissions`` by HTTP method) and the scope an API key needs (``scope`` / ``scopes``):
the same names the dashboard pages check (``orders.permissions``), so a page and its API
answer alike. Both are published in the OpenAPI schema as ``x-oms-permission`` and
``x-oms-scope``; a view without them fails the system check ``oms.E001``.
"""

import hashlib
import time
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, permissions
from rest_framework.views import APIView

from oms.core.api.exception_handler import error_response

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# How long a claimed key may stay without an answer before another request may take it
# over: a process killed mid-request never releases its claim.
IDEMPOTENCY_LEASE = timedelta(minutes=5)
SESSION_RATE_PER_MINUTE = 1200


def api_context(request):
    """The caller's context (organisation, actor, scopes), built by the project's
    ``settings.OMS_API_CONTEXT``."""
    return import_string(settings.OMS_API_CONTEXT)(request)


def idempotency_model():
    """The model keeping the first answer to each ``Idempotency-Key``
    (``settings.OMS_IDEMPOTENCY_MODEL``, "app_label.ModelName")."""
    return apps.get_model(settings.OMS_IDEMPOTENCY_MODEL)


class _Replay(Exception):
    def __init__(self, response) -> None:
        self.response = response


class OmsAutoSchema(AutoSchema):
    """Publishes each operation's role permission and key scope (vendor extensions)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and isinstance(self.view, OmsApiView):
            permission = self.view.permission_for(self.method)
            scope = self.view.scope_for(self.method)
            if permission:
                operation["x-oms-permission"] = str(permission)
            if scope:
                operation["x-oms-scope"] = str(scope)
        return operation


class OmsApiView(APIView):
    """Subclasses set ``permission`` and ``scope`` (or ``permissions`` and ``scopes``
    by HTTP method) and use ``self.ctx``."""

    # authentication_classes: REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]
    permission_classes = [permissions.IsAuthenticated]
    schema = OmsAutoSchema()
    # The role permission (orders.permissions) a signed-in member needs.
    permission: str | None = None
    permissions: dict[str, str] = {}
    # The scope an API key needs.
    scope: str | None = None
    scopes: dict[str, str] = {}
    ctx: object  # what settings.OMS_API_CONTEXT returns

    @classmethod
    def permission_for(cls, method: str) -> str | None:
        method = "GET" if method.upper() == "HEAD" else method.upper()
        return cls.permissions.get(method, cls.permission)

    @classmethod
    def scope_for(cls, method: str) -> str | None:
        method = "GET" if method.upper() == "HEAD" else method.upper()
        return cls.scopes.get(method, cls.scope)

    # --- request lifecycle ----------------------------------------------------------

    def initial(self, request, *args, **kwargs):
        if "Accept-Language" not in request.headers:
            translation.activate("en")  # integrations get English unless they ask
            request.LANGUAGE_CODE = "en"
        self._idempotent = None
        self._rate: tuple[int, int, int] | None = None
        super().initial(request, *args, **kwargs)
        self.ctx = api_context(request)
        self.check_role(request)
        needed = self.scope_for(request.method)
        if needed and not self.ctx.has_scope(needed):
            raise exceptions.PermissionDenied(
                f"This API key lacks the '{needed}' scope.", code="missing_scope"
            )
        self._check_rate(request)
        if request.method == "POST" and request.headers.get("Idempotency-Key"):
            self._claim(request)

    def check_role(self, request) -> None:
        """A signed-in member's role must hold the view's permission (as on the page)."""
        if not self.ctx.has_role or request.method == "OPTIONS":
            return  # an API key has scopes instead
        needed = self.permission_for(request.method)
        if needed is None:  # fail closed; the system check oms.E001 names the view
            raise ImproperlyConfigured(
                f"{type(self).__name__} declares no permission for {request.method}."
            )
        if not self.ctx.allows(needed):
            raise exceptions.PermissionDenied(
                _("Your role may not do this."), code="permission_denied"
            )

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if getattr(self, "_rate", None):
            limit, remaining, reset = self._rate
            response["X-RateLimit-Limit"] = str(limit)
            response["X-RateLimit-Remaining"] = str(max(remaining, 0))
            response["X-RateLimit-Reset"] = str(reset)
        if getattr(self, "_idempotent", None) is not None:
            self._store(response)
        return response

    # --- rate limits ----------------------------------------------------------------

    def _check_rate(self, request) -> None:
        """A fixed one-minute window per API key (or signed-in person)."""
        limit = self.ctx.rate_limit_per_minute or SESSION_RATE_PER_MINUTE
        window = int(time.time() // 60)
        reset = (window + 1) * 60
        counter = f"oms:rate:{self.ctx.client_id}:{window}"
        cache.add(counter, 0, timeout=70)
        try:
            used = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.set(counter, 1, timeout=70)
            used = 1
        self._rate = (limit, limit - used, reset)
        if used > limit:
            raise exceptions.Throttled(wait=max(reset - time.time(), 1))

    # --- idempotency ----------------------------------------------------------------

    def raise_uncaught_exception(self, exc):
        # An unhandled failure never reaches finalize_response: release the key here,
        # so the client's retry with the same key runs the request again.
        self._release()
        super().raise_uncaught_exception(exc)

    def _release(self) -> None:
        record, self._idempotent = getattr(self, "_idempotent", None), None
        if record is not None:
            idempotency_model().objects.filter(pk=record.pk, completed=False).delete()

    def _claim(self, request) -> None:
        key = request.headers["Idempotency-Key"]
        if not (len(key) <= 255 and key.isascii() and key.isprintable()):
            raise _Replay(
                self._error(
                    "invalid_input",
                    "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                    400,
                )
            )
        digest = hashlib.sha256(
            request.method.encode() + request.path.encode() + b"\n" + request.body
        ).hexdigest()
        client = self.ctx.client_id
        now = timezone.now()
        idempotency_model().objects.filter(
            client=client, key=key, created_at__lt=now - IDEMPOTENCY_WINDOW
        ).delete()
        first = None
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    self._idempotent = idempotency_model().objects.create(
                        client=client,
                        key=key,
                        request_hash=digest,
                        method=request.method,
                        path=request.path,
                        created_at=now,
                    )
                return
            except IntegrityError:
                pass
            first = idempotency_model().objects.filter(client=client, key=key).first()
            if first is None:
                continue  # released a moment ago: claim it
            abandoned = (
                not first.completed
                and first.request_hash == digest
                and first.created_at < now - IDEMPOTENCY_LEASE
            )
            if not abandoned:
                break
            # Its process died without answering: take the key over, once.
            idempotency_model().objects.filter(
                pk=first.pk, completed=False, created_at=first.created_at
            ).delete()
        if first is None:  # released and claimed again by others in between
            raise _Replay(self._in_progress())
        if first.request_hash != digest:
            raise _Replay(
                self._error(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used for a different request.",
                    422,
                )
            )
        if not first.completed:
            raise _Replay(self._in_progress())
        replay = HttpResponse(
            bytes(first.response_body or b""),
            status=first.response_status,
            content_type="application/json",
        )
        replay["Idempotent-Replayed"] = "true"
        raise _Replay(replay)

    def _in_progress(self):
        return self._error(
            "idempotency_in_progress",
            "A request with this Idempotency-Key is still running.",
            409,
        )

    def _error(self, code: str, message: str, status: int):
        response = error_response(code, message, status)
        return response

    def _store(self, response) -> None:
        record, self._idempotent = self._idempotent, None
        if response.status_code >= 500:
            record.delete()  # let the client retry a server failure
            return
        response.render()
        # By pk and still incomplete: a claim taken over after its lease is not ours.
        idempotency_model().objects.filter(pk=record.pk, completed=False).update(
            completed=True,
            response_status=response.status_code,
            response_body=response.content,
        )
