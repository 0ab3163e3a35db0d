"""Sign-in throttling and its audit, for the dashboard's and the admin's sign-in alike.

Both sign-in pages call ``authenticate()``; ``ThrottledModelBackend`` wraps Django's
``ModelBackend`` there, so no sign-in path escapes it. Failed attempts are counted in the
cache (Redis in production, shared by every web process) in one-minute buckets summed over
``OMS_SIGNIN_THROTTLE["window_seconds"]``, in three scopes:

- the account at this address (``per_account_address``): a guesser at one address is
  locked out of that account, while the member signing in elsewhere is not;
- the address, whatever the account (``per_address``): one address trying many accounts;
- the account, whatever the address (``per_account``): many addresses trying one account.
  It does not lock addresses where that account signed in during the last 30 days, so an
  attacker cannot lock a member out of the place they work from.

While a limit is reached every attempt in that scope is refused, the right password too,
until the failures age out of the window; refused attempts are not counted, so waiting
always ends the lock-out. The refusal says so without revealing whether the account exists
(names that do not exist are counted the same way). Each attempt writes a
``SignInAttempt`` row: user name, user, address, outcome, page, browser.

The address is ``oms.core.net.client_ip``: ``X-Forwarded-For`` only from
``OMS_TRUSTED_PROXIES``.
"""

import contextlib
import hashlib
import logging
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext_lazy as _

from oms.core.net import client_ip
from orders.models import SignInAttempt

logger = logging.getLogger(__name__)

BUCKET_SECONDS = 60
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600
SCOPES = ("per_account_address", "per_address", "per_account")


def _config() -> dict[str, int]:
    return settings.OMS_SIGNIN_THROTTLE


def lockout_minutes() -> int:
    return max(1, _config()["window_seconds"] // 60)


def printable(value: str, length: int) -> str:
    """Text safe for a database column and a log line: no NULs, no lone surrogates."""
    value = (value or "").replace("\x00", "")
    value = value.encode("utf-8", "replace").decode("utf-8")
    return value.strip()[:length]


def _digest(*parts: str) -> str:
    joined = "\x1f".join(parts).encode("utf-8", "replace")
    return hashlib.sha256(joined).hexdigest()[:32]


class SignInThrottle:
    """The failure counters of one (user name, address) pair."""

    def __init__(self, username: str, address: str) -> None:
        account = printable(username, 150).casefold()
        self.keys = {
            "per_account_address": f"oms:signin:aa:{_digest(account, address)}",
            "per_address": f"oms:signin:a:{_digest(address)}",
            "per_account": f"oms:signin:u:{_digest(account)}",
        }
        self.known_key = f"oms:signin:known:{_digest(account, address)}"
        self._counted: list[str] = []

    def _buckets(self, scope: str, now: float) -> list[str]:
        current = int(now // BUCKET_SECONDS)
        count = max(1, _config()["window_seconds"] // BUCKET_SECONDS)
        return [
            f"{self.keys[scope]}:{b}" for b in range(current - count + 1, current + 1)
        ]

    def _over(self, totals: dict[str, int], *, strictly: bool) -> bool:
        config = _config()
        known = None
        for scope in SCOPES:
            limit = config[scope]
            if totals[scope] > limit or (not strictly and totals[scope] == limit):
                if scope == "per_account":
                    if known is None:
                        known = bool(cache.get(self.known_key))
                    if known:
                        continue
                return True
        return False

    def begin(self) -> bool:
        """Count this attempt before the password is checked (so parallel guesses cannot
        all slip under a limit); False, and nothing counted, while a limit is reached."""
        now = time.time()
        buckets = {scope: self._buckets(scope, now) for scope in SCOPES}
        stored = cache.get_many([key for keys in buckets.values() for key in keys])
        older = {
            scope: sum(int(stored.get(key) or 0) for key in keys[:-1])
            for scope, keys in buckets.items()
        }
        current = {
            scope: int(stored.get(keys[-1]) or 0) for scope, keys in buckets.items()
        }
        if self._over({s: older[s] + current[s] for s in SCOPES}, strictly=False):
            return False
        timeout = _config()["window_seconds"] + 2 * BUCKET_SECONDS
        totals = {}
        for scope, keys in buckets.items():
            key = keys[-1]
            cache.add(key, 0, timeout=timeout)
            try:
                totals[scope] = older[scope] + cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=timeout)
                totals[scope] = older[scope] + 1
            self._counted.append(key)
        return not self._over(totals, strictly=True)

    def succeeded(self) -> None:
        """The password was right: this attempt was no failure; the address is known."""
        for key in self._counted:
            with contextlib.suppress(ValueError):  # the bucket expired meanwhile
                cache.decr(key)
        self._counted = []
        cache.delete_many(self._buckets("per_account_address", time.time()))
        cache.set(self.known_key, 1, timeout=KNOWN_ADDRESS_SECONDS)


def audit(request, username: str, outcome: str, user=None) -> None:
    attempt = SignInAttempt.objects.create(
        username=printable(username, 150),
        user=user,
        address=client_ip(request) or None,
        outcome=outcome,
        path=printable(request.path, 200),
        user_agent=printable(request.META.get("HTTP_USER_AGENT", ""), 300),
    )
    if outcome != SignInAttempt.Outcome.SUCCEEDED:
        # %r: a user name with CR/LF cannot forge log lines.
        logger.warning(
            "sign-in %s: user %r from %s on %s",
            outcome,
            attempt.username,
            attempt.address,
            attempt.path,
        )


class ThrottledModelBackend(ModelBackend):
    """Django's user name and password check, behind the throttle, with the audit."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:  # not a sign-in page (shell, test client login)
            return super().authenticate(request, username, password, **kwargs)
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        username = username if isinstance(username, str) else ""
        throttle = SignInThrottle(username, client_ip(request))
        if not throttle.begin():
            request.oms_signin_locked_out = True
            audit(request, username, SignInAttempt.Outcome.LOCKED_OUT)
            raise PermissionDenied  # stops every backend; the form says why
        user = super().authenticate(request, username, password, **kwargs)
        if user is None:
            audit(request, username, SignInAttempt.Outcome.FAILED)
            return None
        throttle.succeeded()
        audit(request, username, SignInAttempt.Outcome.SUCCEEDED, user)
        return user


class ThrottledFormMixin:
    """Shows the lock-out (rather than "wrong password") and records refused input."""

    @property
    def locked_out(self) -> bool:
        return bool(getattr(self.request, "oms_signin_locked_out", False))

    def get_invalid_login_error(self):
        if self.locked_out:
            return ValidationError(
                _(
                    "Too many failed sign-in attempts. Wait %(minutes)d minutes, "
                    "then try again."
                ),
                code="locked_out",
                params={"minutes": lockout_minutes()},
            )
        return super().get_invalid_login_error()

    def clean(self):
        raw = self.data.get("username", "")
        if self.request is not None and raw and "username" in self.errors:
            # Refused before any password check (a NUL, too long): still a failure.
            username = raw if isinstance(raw, str) else ""
            throttle = SignInThrottle(username, client_ip(self.request))
            if throttle.begin():
                audit(self.request, username, SignInAttempt.Outcome.FAILED)
            else:
                audit(self.request, username, SignInAttempt.Outcome.LOCKED_OUT)
        return super().clean()


class SignInForm(ThrottledFormMixin, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledFormMixin, AdminAuthenticationForm):
    pass
