"""Suite-wide set-up: say loudly which database and broker the run used."""

import os

import pytest
from django.conf import settings
from django.db import connection
from hypothesis import settings as hypothesis_settings

# CI explores the same examples on every run (a red build is about the change, never
# about the dice); local runs keep exploring new ones. HYPOTHESIS_PROFILE overrides.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
hypothesis_settings.register_profile("dev", print_blob=True)
hypothesis_settings.load_profile(
    os.environ.get(
        "HYPOTHESIS_PROFILE",
        "ci" if os.environ.get("CI", "").lower() == "true" else "dev",
    )
)


def _backends() -> tuple[str, str]:
    db = settings.DATABASES["default"]
    database = f"{connection.vendor} ({db.get('HOST') or db['NAME']})"
    return database, settings.CELERY_BROKER_URL


def pytest_report_header(config):
    database, broker = _backends()
    lines = [f"OMS test database: {database}", f"OMS test broker: {broker}"]
    if connection.vendor != "postgresql":
        lines.append(
            "!!! WARNING: PostgreSQL unreachable, falling back to SQLite: locking, "
            "concurrency and SKIP LOCKED tests are SKIPPED !!!"
        )
    if not settings.REDIS_REACHABLE:
        lines.append(
            "!!! WARNING: Redis unreachable: the Celery worker tests are SKIPPED !!!"
        )
    return lines


def pytest_terminal_summary(terminalreporter):
    database, broker = _backends()
    terminalreporter.write_sep("=", f"ran on database {database}, broker {broker}")
    if connection.vendor != "postgresql":
        terminalreporter.write_line(
            "WARNING: this run used SQLite; it proves nothing about locking or concurrency.",
            red=True,
        )


requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL (row locks, SKIP LOCKED)",
)
requires_redis = pytest.mark.skipif(
    not settings.REDIS_REACHABLE, reason="needs a real Redis broker"
)
