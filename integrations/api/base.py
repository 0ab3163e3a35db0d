"""The base of every API view: authentication, scopes, rate limits and idempotency."""

import hashlib
import time
from datetime import timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone, translation
from rest_framework import exceptions, permissions
from rest_framework.authentication import SessionAuthentication
from rest_framework.views import APIView

from integrations.api.auth import ApiContext, ApiKeyAuthentication, api_context
from integrations.models import IdempotentRequest
from oms.core.api.exception_handler import error_response

IDEMPOTENCY_WINDOW = timedelta(hours=24)
SESSION_RATE_PER_MINUTE = 1200


class _Replay(Exception):
    def __init__(self, response) -> None:
        self.response = response


class OmsApiView(APIView):
    """Subclasses set ``scope`` (or ``scopes`` by HTTP method) and use ``self.ctx``."""

    authentication_classes = [ApiKeyAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    scope: str | None = None
    scopes: dict[str, str] = {}
    ctx: ApiContext

    # --- request lifecycle ----------------------------------------------------------

    def initial(self, request, *args, **kwargs):
        if "Accept-Language" not in request.headers:
            translation.activate("en")  # integrations get English unless they ask
            request.LANGUAGE_CODE = "en"
        self._idempotent: IdempotentRequest | None = None
        self._rate: tuple[int, int, int] | None = None
        super().initial(request, *args, **kwargs)
        self.ctx = api_context(request)
        needed = self.scopes.get(request.method, self.scope)
        if needed and not self.ctx.has_scope(needed):
            raise exceptions.PermissionDenied(
                f"This API key lacks the '{needed}' scope.", code="missing_scope"
            )
        self._check_rate(request)
        if request.method == "POST" and request.headers.get("Idempotency-Key"):
            self._claim(request)

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
        key = self.ctx.api_key
        limit = key.rate_limit_per_minute if key else SESSION_RATE_PER_MINUTE
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

    def _claim(self, request) -> None:
        key = request.headers["Idempotency-Key"][:255]
        digest = hashlib.sha256(
            request.method.encode() + request.path.encode() + b"\n" + request.body
        ).hexdigest()
        client = self.ctx.client_id
        IdempotentRequest.objects.filter(
            client=client, key=key, created_at__lt=timezone.now() - IDEMPOTENCY_WINDOW
        ).delete()
        try:
            with transaction.atomic():
                self._idempotent = IdempotentRequest.objects.create(
                    client=client,
                    key=key,
                    request_hash=digest,
                    method=request.method,
                    path=request.path,
                )
            return
        except IntegrityError:
            pass
        first = IdempotentRequest.objects.get(client=client, key=key)
        if first.request_hash != digest:
            raise _Replay(
                self._error(
                    "idempotency_key_reused",
                    "This Idempotency-Key was used for a different request.",
                    422,
                )
            )
        if not first.completed:
            raise _Replay(
                self._error(
                    "idempotency_in_progress",
                    "A request with this Idempotency-Key is still running.",
                    409,
                )
            )
        replay = HttpResponse(
            bytes(first.response_body or b""),
            status=first.response_status,
            content_type="application/json",
        )
        replay["Idempotent-Replayed"] = "true"
        raise _Replay(replay)

    def _error(self, code: str, message: str, status: int):
        response = error_response(code, message, status)
        return response

    def _store(self, response) -> None:
        record, self._idempotent = self._idempotent, None
        if response.status_code >= 500:
            record.delete()  # let the client retry a server failure
            return
        response.render()
        record.completed = True
        record.response_status = response.status_code
        record.response_body = response.content
        record.save(update_fields=["completed", "response_status", "response_body"])
