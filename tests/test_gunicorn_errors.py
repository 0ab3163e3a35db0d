"""gunicorn's own refusals are JSON in the error shape (issue 11, failure 11).

A request line over gunicorn's limit never reaches Django: gunicorn answered it with an
HTML page until ``gunicorn.conf.py`` replaced its writer (the probe found a 5,000-character
cursor answered in HTML). The server here is a real gunicorn on loopback.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def gunicorn():
    port = free_port()
    env = {**os.environ, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "oms.settings.test"}
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "oms.wsgi:application",
            "--config", "gunicorn.conf.py",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "1",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(150):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start")
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def raw(port: int, request: bytes) -> tuple[str, dict, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return status, headers, body


def test_a_request_line_over_the_limit_is_refused_in_the_error_shape(gunicorn):
    cursor = "A" * 5000
    status, headers, body = raw(
        gunicorn,
        f"GET /api/v1/orders/?cursor={cursor} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(),
    )
    assert status.split(" ", 2)[1] == "414"
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "uri_too_long"
    assert set(error) == {"code", "message", "details"}


def test_a_malformed_request_line_is_refused_in_the_error_shape(gunicorn):
    status, headers, body = raw(gunicorn, b"GET\x00 / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status.split(" ", 2)[1] == "400"
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "bad_request"
