"""API authentication and the request's organisation context.

ERPs send ``Authorization: Bearer oms_<id>_<secret>``; the dashboard's own session works
too (with CSRF, through DRF's SessionAuthentication). Either way the view gets an
``ApiContext`` (``settings.OMS_API_CONTEXT`` names ``api_context`` for the API kit,
``oms.core.api.base``): the organisation, the shops it may reach, and the ``Actor`` for services.
"""

import hmac
from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from integrations.models import ApiKey, hash_key
from orders.models import Membership, Organisation
from orders.permissions import VIEW_ORDERS, role_allows
from orders.services import Actor


class ApiKeyPrincipal:
    """``request.user`` for a request authenticated by an API key."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, key: ApiKey) -> None:
        self.key = key
        self.pk = None
        self.username = f"api-key:{key.name}"

    def __str__(self) -> str:
        return self.username


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(
            errors="replace"
        )
        if not header.startswith(f"{self.keyword} "):
            return None
        raw = header[len(self.keyword) + 1 :].strip()
        parts = raw.split("_", 2)
        if len(parts) != 3 or parts[0] != "oms":
            raise exceptions.AuthenticationFailed("Malformed API key.")
        key = (
            ApiKey.objects.select_related("organisation")
            .filter(key_id=parts[1])
            .first()
        )
        if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw)):
            raise exceptions.AuthenticationFailed("Unknown API key.")
        if not key.is_active:
            raise exceptions.AuthenticationFailed("This API key was revoked.")
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            # At most one write a minute per key, not one per request.
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "integrations.api.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organisation's API key: `Authorization: Bearer oms_<id>_<secret>`.",
        }


@dataclass(frozen=True)
class ApiContext:
    organisation: Organisation
    actor: Actor
    shop_ids: frozenset[int] | None  # None: every shop of the organisation
    api_key: ApiKey | None
    membership: Membership | None

    @property
    def client_id(self) -> str:
        """Who is calling, for idempotency keys and rate limits."""
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        return f"user:{self.membership.user_id}"

    def has_scope(self, scope: str) -> bool:
        return self.api_key is None or scope in self.api_key.scopes

    # What the API kit (oms.core.api.base) asks of a context besides the above.
    @property
    def has_role(self) -> bool:
        """A signed-in member's role is checked; an API key has scopes instead."""
        return self.membership is not None

    def allows(self, permission: str) -> bool:
        return self.membership is None or role_allows(self.membership.role, permission)

    @property
    def rate_limit_per_minute(self) -> int | None:
        """The key's own limit; None for a person (the kit's session rate)."""
        return self.api_key.rate_limit_per_minute if self.api_key else None


def api_context(request) -> ApiContext:
    """The caller's organisation and actor; 403 for a signed-in person with no membership."""
    if isinstance(request.auth, ApiKey):
        key = request.auth
        shop_ids = frozenset(key.shops.values_list("pk", flat=True)) or None
        return ApiContext(
            organisation=key.organisation,
            actor=Actor.api_client(
                key.name, organisation_id=key.organisation_id, shop_ids=shop_ids
            ),
            shop_ids=shop_ids,
            api_key=key,
            membership=None,
        )
    memberships = Membership.objects.select_related("organisation", "user").filter(
        user=request.user
    )
    wanted = request.headers.get("X-OMS-Organisation") or request.session.get(
        "organisation"
    )
    if wanted:
        memberships = memberships.filter(organisation__slug=wanted)
    membership = memberships.order_by("organisation__name").first()
    if membership is None or not role_allows(membership.role, VIEW_ORDERS):
        raise exceptions.PermissionDenied("You are not a member of this organisation.")
    allowed = membership.allowed_shop_ids()
    return ApiContext(
        organisation=membership.organisation,
        actor=Actor.member(membership),
        shop_ids=frozenset(allowed) if allowed is not None else None,
        api_key=None,
        membership=membership,
    )
