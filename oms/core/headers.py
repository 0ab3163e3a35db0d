"""Response headers every reply gets: a Content-Security-Policy, and ``no-store`` where a
reply may carry buyers' personal data.

The policy allows scripts and styles from the app itself only (``'self'``: htmx and our
scripts are served by the app, no CDN); no inline script, event handler attribute or
inline style is allowed, so the templates keep none (data travels in ``data-``
attributes, behaviour in ``static/js``). A view may set its own policy (the header is only
added when absent). ``OMS_CONTENT_SECURITY_POLICY`` replaces the default.

``Cache-Control: private, no-store`` goes on every reply to a signed-in person and on
every API reply: order pages and lists, buyer pages, print PDFs, API replies all carry
names, phones and addresses that no shared cache or browser history should keep. Static
files are served before this middleware (WhiteNoise) and stay cacheable.
"""

from django.conf import settings

DEFAULT_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def content_security_policy() -> str:
    policy = getattr(settings, "OMS_CONTENT_SECURITY_POLICY", None) or DEFAULT_POLICY
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def _signed_in(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.policy = content_security_policy()

    def __call__(self, request):
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = self.policy
        if request.path_info.startswith("/api/") or _signed_in(request):
            response["Cache-Control"] = "private, no-store"
            response.headers.pop("Expires", None)
        return response
