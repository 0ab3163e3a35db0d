"""gunicorn's own refusals in the API's error shape.

gunicorn answers some requests before Django sees them (a request line over
``limit_request_line``, malformed headers, a bad chunk size …) with an HTML page. Every
reply must be JSON in the error shape (``{"error": {"code", "message", "details"}}``),
so ``json_errors()`` replaces gunicorn's writer of those pages. It is called from the
config files: ``gunicorn.conf.py`` at the top (production: web under gunicorn) and the
probe's ``soak/gunicorn_conf.py``.
"""

import json

CODES = {
    400: "bad_request",
    403: "forbidden",
    414: "uri_too_long",
    417: "expectation_failed",
    431: "headers_too_large",
    500: "server_error",
}


def error_reply(status: int, reason: str, message: str) -> bytes:
    """The whole HTTP reply gunicorn sends for a request it refused itself."""
    body = json.dumps(
        {
            "error": {
                "code": CODES.get(status, "bad_request"),
                "message": message or reason,
                "details": {},
            }
        }
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        "Cache-Control: no-store\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("latin-1")
    return head + body


def json_errors() -> None:
    from gunicorn import util

    def write_error(sock, status_int, reason, mesg):
        util.write_nonblock(sock, error_reply(int(status_int), reason, str(mesg)))

    util.write_error = write_error
