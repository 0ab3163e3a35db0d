"""HTTP to the stack under test (loopback only), as members (sessions) or API keys."""

import json as jsonlib
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from soak.stack import HTTP_TIMEOUT

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}


class Api:
    def __init__(self, base_url: str) -> None:
        host = urlsplit(base_url).hostname
        if host not in LOOPBACK_HOSTS:  # the probe never talks to anything else
            raise ValueError(f"refusing a non-loopback target: {base_url}")
        self.base_url = base_url.rstrip("/")

    def request(self, method, path, *, headers=None, json=None, data=None,
                timeout=HTTP_TIMEOUT) -> requests.Response:  # fmt: skip
        headers = dict(headers or {})
        if json is not None:
            data = jsonlib.dumps(json, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json")
        return requests.request(
            method, self.base_url + path, headers=headers, data=data,
            timeout=timeout, allow_redirects=False,
        )  # fmt: skip


@dataclass
class Principal:
    """Who calls: a member (session cookie + CSRF) or an API key."""

    api: Api
    name: str
    kind: str  # "member" or "key"
    role: str = ""
    scopes: list[str] = field(default_factory=list)
    shops: list[int] = field(default_factory=list)  # empty: every shop of the org
    headers: dict = field(default_factory=dict)
    user: object = None

    @classmethod
    def member(cls, api, name, user, role, *, shops=()):
        return cls(api, name, "member", role=role, shops=list(shops),
                   headers=session_headers(user), user=user)  # fmt: skip

    @classmethod
    def key(cls, api, name, raw, scopes, *, shops=()):
        return cls(api, name, "key", scopes=list(scopes), shops=list(shops),
                   headers={"Authorization": f"Bearer {raw}"})  # fmt: skip

    @property
    def limited(self) -> bool:
        return bool(self.shops)

    def request(self, method, path, **kwargs) -> requests.Response:
        headers = {**self.headers, **(kwargs.pop("headers", None) or {})}
        return self.api.request(method, path, headers=headers, **kwargs)


def session_headers(user) -> dict:
    """A signed-in session made in the database, as the login view would make it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.middleware.csrf import _get_new_csrf_string

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    csrf = _get_new_csrf_string()
    return {
        "Cookie": f"{settings.SESSION_COOKIE_NAME}={session.session_key}; "
        f"{settings.CSRF_COOKIE_NAME}={csrf}",
        "X-CSRFToken": csrf,
    }


def error_shape_problem(response: requests.Response) -> str | None:
    """None when ``response`` is JSON ``{"error": {"code", "message", "details"}}``."""
    content_type = header(response, "Content-Type")
    if "json" not in content_type:
        return f"not JSON ({content_type or 'no Content-Type'})"
    try:
        body = jsonlib.loads(response.content)
    except ValueError:
        return "invalid JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not {"code", "message", "details"} <= set(error):
        return f"not the error shape: {response.text[:120]!r}"
    return None


def header(response, name: str) -> str:
    """A header of a requests or a schemathesis response (whose values are lists)."""
    for key, value in response.headers.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return ""
