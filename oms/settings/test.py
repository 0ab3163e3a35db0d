"""Test settings: real PostgreSQL and Redis when reachable, and required when CI=true.

Without them the suite falls back to SQLite and an in-memory broker and says so loudly
(see ``tests/conftest.py``): SQLite cannot prove locking, concurrency or the job runner.
"""

import os
import socket

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DEBUG", "true")

from oms.settings.base import *  # noqa: F403
from oms.settings.base import env_bool

IN_CI = env_bool("CI", False)
TEST_PG_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/oms"
)
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


import dj_database_url  # noqa: E402

PG_REACHABLE = (
    _reachable("127.0.0.1", 5432) if "TEST_DATABASE_URL" not in os.environ else True
)
REDIS_REACHABLE = (
    _reachable("127.0.0.1", 6379) if "TEST_REDIS_URL" not in os.environ else True
)
if IN_CI and not PG_REACHABLE:
    raise ImproperlyConfigured(
        "CI=true but PostgreSQL is not reachable on 127.0.0.1:5432"
    )
if IN_CI and not REDIS_REACHABLE:
    raise ImproperlyConfigured("CI=true but Redis is not reachable on 127.0.0.1:6379")

if PG_REACHABLE and not os.environ.get("OMS_TEST_SQLITE"):
    DATABASES = {"default": dj_database_url.parse(TEST_PG_URL)}
else:
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    }

CELERY_BROKER_URL = TEST_REDIS_URL if REDIS_REACHABLE else "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Results are ignored in production; the worker tests read them back through Redis.
CELERY_RESULT_BACKEND = TEST_REDIS_URL if REDIS_REACHABLE else None
# Tasks are never run eagerly: tests call services directly, or a real worker consumes
# the broker, so the serialisation boundary stays honest.
CELERY_TASK_ALWAYS_EAGER = False

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
# The webhook tests deliver to a receiver on 127.0.0.1 (and only there).
OMS_WEBHOOK_ALLOW_LOOPBACK = True
