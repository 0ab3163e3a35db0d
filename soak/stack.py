"""A production-shaped stack on loopback: PostgreSQL database, gunicorn, Celery, receiver.

Every process is started in its own session (its own process group), so stopping it
(``killpg``) reaches its children too: gunicorn's and Celery's workers. ``Stack.stop``
runs on normal exit, on failure, on SIGTERM/SIGINT/SIGHUP and on the overall timeout.
Nothing here connects anywhere but 127.0.0.1.
"""

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
PG_BASE = os.environ.get("SOAK_PG_URL", "postgres://postgres@127.0.0.1:5432")
REDIS_DB = int(os.environ.get("SOAK_REDIS_DB", "6"))
HTTP_TIMEOUT = 30
DEAD_PROXY = f"http://{LOOPBACK}:9"  # the discard port: nothing listens there
NO_PROXY = "127.0.0.1,localhost,::1,[::1]"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def stack_env(database: str, var_dir: str, *, allow_loopback: bool = True) -> dict:
    """The environment of the stack's processes and of the probe itself."""
    return {
        "DJANGO_SETTINGS_MODULE": "oms.settings.base",
        "DATABASE_URL": f"{PG_BASE}/{database}",
        "REDIS_URL": f"redis://{LOOPBACK}:6379/{REDIS_DB}",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": f"{LOOPBACK},localhost",
        "SECURE_SSL_REDIRECT": "false",  # TLS ends at a proxy in front; probes speak http
        "OMS_WEBHOOK_ALLOW_LOOPBACK": "true" if allow_loopback else "false",
        "OMS_VAR_DIR": var_dir,
        "LOG_LEVEL": "WARNING",
        "DATABASE_CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
        # A safety net: anything that would leave the machine goes to a closed port on
        # loopback instead (urllib and requests honour these); loopback goes direct.
        **dict.fromkeys(
            (
                "http_proxy",
                "https_proxy",
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "all_proxy",
                "ALL_PROXY",
            ),
            DEAD_PROXY,
        ),
        "no_proxy": NO_PROXY,
        "NO_PROXY": NO_PROXY,
    }


def _admin_connection():
    import psycopg2

    connection = psycopg2.connect(f"{PG_BASE}/postgres", connect_timeout=10)
    connection.autocommit = True
    return connection


def create_database(name: str) -> None:
    drop_database(name)
    with contextlib.closing(_admin_connection()) as connection:
        connection.cursor().execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    with contextlib.closing(_admin_connection()) as connection:
        connection.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the receiver of outbound webhooks ----------------------------------------------


class Receiver:
    """An http.server on 127.0.0.1 that records every POST it gets (optionally slowly)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[dict] = []
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, 10_000_000))
                if receiver.delay:
                    time.sleep(receiver.delay)
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = None
                with receiver.lock:
                    receiver.received.append(
                        {"headers": dict(self.headers), "payload": payload}
                    )
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a sender killed mid-request (the crash area) is expected

        self.server = Server((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def event_ids(self) -> list[str]:
        with self.lock:
            return [
                r["payload"].get("id")
                for r in self.received
                if isinstance(r["payload"], dict)
            ]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- processes ------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _die_with_parent() -> None:
    """Linux: the child gets SIGKILL if the probe itself dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(
            1, signal.SIGKILL
        )  # PR_SET_PDEATHSIG


class Process:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        handle = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.popen = subprocess.Popen(  # noqa: S603 - fixed argv from this module
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killpg reaches children
            preexec_fn=_die_with_parent,
        )
        handle.close()

    def signal(self, signum: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signum)

    def kill9(self) -> None:
        """``kill -9`` the whole process group, at once, and reap the leader."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def stop(self, grace: float = 8.0) -> None:
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        # The group may outlive its leader (orphaned pool children): always SIGKILL it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Stack:
    """The probe's server: ``start`` boots it, ``stop`` ends every process it started."""

    def __init__(self, database: str, *, web_workers: int = 3, log=print) -> None:
        self.database = database
        self.own_env = stack_env(database, tempfile.mkdtemp(prefix="oms-soak-"))
        self.env = {**os.environ, **self.own_env}
        self.env.pop("TEST_DATABASE_URL", None)
        self.logdir = Path(self.env["OMS_VAR_DIR"])
        self.port = free_port()
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.log = log
        self.receiver: Receiver | None = None
        self.web = Process(
            "gunicorn",
            [
                str(VENV_BIN / "gunicorn"),
                "oms.wsgi:application",
                "--bind", f"{LOOPBACK}:{self.port}",
                "--workers", str(web_workers),
                "--timeout", "60",
                "--graceful-timeout", "5",
                "--log-level", "warning",
                "--config", "python:soak.gunicorn_conf",
            ],
            self.env,
            self.logdir / "gunicorn.log",
        )  # fmt: skip
        self.worker_count = 0
        self.worker = self._new_worker()
        self.stopped = False

    def _new_worker(self) -> Process:
        self.worker_count += 1
        return Process(
            "celery",
            [
                str(VENV_BIN / "celery"), "-A", "oms", "worker",
                "--concurrency", "2",
                "--loglevel", "INFO",
                "--hostname", f"soak{self.worker_count}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            self.env,
            self.logdir / f"celery-{self.worker_count}.log",
        )  # fmt: skip

    # --- lifecycle ----------------------------------------------------------------

    def prepare_database(self) -> None:
        """Fresh database, migrated, static files collected; Redis db emptied."""
        import redis

        create_database(self.database)
        redis.Redis.from_url(self.env["REDIS_URL"], socket_timeout=10).flushdb()
        os.environ.update(self.own_env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False)

    def start(self) -> None:
        self.receiver = Receiver()
        self.web.start()
        self.start_worker()
        self.wait_for_web()

    def start_worker(self, timeout: float = 60) -> None:
        self.worker.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready." in self.worker.tail(200):
                return
            if self.worker.popen.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"celery worker did not start:\n{self.worker.tail()}")

    def restart_worker(self) -> None:
        self.worker.stop()
        self.worker = self._new_worker()
        self.start_worker()

    def kill9_worker(self) -> None:
        """``kill -9`` the whole worker (master and pool); ``start_worker`` starts anew."""
        self.worker.kill9()
        self.worker = self._new_worker()

    def kill9_worker_children(self) -> int:
        """``kill -9`` only the worker's pool processes; the master starts new ones."""
        leader = self.worker.popen.pid
        killed = 0
        for pid in _children(leader):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed += 1
        return killed

    def wait_for_web(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.web.popen.poll() is not None:
                break
            with contextlib.suppress(requests.RequestException):
                if (
                    requests.get(self.base_url + "/healthz/", timeout=2).status_code
                    == 200
                ):
                    return
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer:\n{self.web.tail()}")

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        for process in (self.worker, self.web):
            with contextlib.suppress(Exception):
                process.stop()
        if self.receiver is not None:
            with contextlib.suppress(Exception):
                self.receiver.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        try:
            drop_database(self.database)
        except Exception as exc:
            self.log(f"!! could not drop database {self.database}: {exc!r}")
