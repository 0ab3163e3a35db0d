"""Settings for every environment, driven by environment variables.

Defaults let the app run on a bare machine: a SQLite file and an embedded Celery broker
that needs no server. Production sets ``DATABASE_URL``, ``REDIS_URL``, ``SECRET_KEY``,
``DEBUG=false`` and ``ALLOWED_HOSTS``.
"""

import ipaddress
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("OMS_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_list(name: str, default: str) -> list[str]:
    return [
        part.strip()
        for part in os.environ.get(name, default).split(",")
        if part.strip()
    ]


# --- Core ---------------------------------------------------------------------------

DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
# Published values (this repository's examples and defaults): never a production key.
PUBLISHED_SECRET_KEYS = {
    DEV_SECRET_KEY,
    "change-me",
    "changeme",
    "change-me-compose-insecure-secret-key",
    "secret",
    "secret-key",
}


def secret_key_weakness(key: str) -> str | None:
    """Why ``key`` may not sign production sessions, or None. Django's rule (``check
    --deploy``, security.W009: 50+ characters, 5+ distinct, no ``django-insecure-``
    prefix) plus the values published in this repository."""
    if not key:
        return "is not set"
    if key.strip().lower() in PUBLISHED_SECRET_KEYS:
        return "is a published example value"
    if key.startswith("django-insecure"):
        return "starts with 'django-insecure' (a generated development key)"
    if len(key) < 50:
        return "is shorter than 50 characters"
    if len(set(key)) < 5:
        return "has fewer than 5 distinct characters"
    return None


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not DEBUG and (weakness := secret_key_weakness(SECRET_KEY)):
    raise ImproperlyConfigured(
        f"SECRET_KEY {weakness}. With DEBUG off it must be at least 50 random "
        "characters, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
if not SECRET_KEY:
    SECRET_KEY = DEV_SECRET_KEY
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "orders",
    "logistics",
    "aftersales",
    "analytics",
    "integrations",
    "oms",  # project-level commands (seed_demo), above every app
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "oms.core.api.outer.ApiErrorMiddleware",  # /api/: JSON errors, body size
    "oms.core.headers.SecurityHeadersMiddleware",  # CSP; no-store with personal data
    "django.contrib.sessions.middleware.SessionMiddleware",
    "oms.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "oms.core.input.CleanInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "oms.urls"
CSRF_FAILURE_VIEW = "oms.core.api.outer.csrf_failure"  # JSON under /api/
WSGI_APPLICATION = "oms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
# DATABASE_URL, e.g. postgres://user:pass@host:5432/oms; default: a SQLite file in var/.
# https://github.com/jazzband/dj-database-url

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file under `make run`.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ATOMIC_REQUESTS stays off: services own their transactions.

# --- Auth ---------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sign-in (dashboard and admin) goes through the throttle and its audit (orders/signin.py).
AUTHENTICATION_BACKENDS = ["orders.signin.ThrottledModelBackend"]
# Failed sign-ins allowed per window: for one account at one address, for one address,
# for one account from anywhere (not counted against addresses it signed in from).
OMS_SIGNIN_THROTTLE = {
    "window_seconds": int(os.environ.get("OMS_SIGNIN_WINDOW_SECONDS", "900")),
    "per_account_address": int(os.environ.get("OMS_SIGNIN_PER_ACCOUNT_ADDRESS", "5")),
    "per_address": int(os.environ.get("OMS_SIGNIN_PER_ADDRESS", "20")),
    "per_account": int(os.environ.get("OMS_SIGNIN_PER_ACCOUNT", "20")),
}
# Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR ranges, comma-
# separated); none by default: the client's address is then the peer's (oms/core/net.py).
OMS_TRUSTED_PROXIES = env_list("OMS_TRUSTED_PROXIES", "")
for _proxy in OMS_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(f"OMS_TRUSTED_PROXIES: {_exc}") from _exc
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/orders/"
LOGOUT_REDIRECT_URL = "/login/"

# --- Internationalisation and time --------------------------------------------------
# Everything is stored in UTC; pages show each shop's own time zone.

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------
# WhiteNoise serves them in every environment: no CDN at run time.

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# --- Security (production) ----------------------------------------------------------

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Celery -------------------------------------------------------------------------
# Broker: CELERY_BROKER_URL, else REDIS_URL, else an embedded filesystem broker that
# carries tasks between processes on one machine with no server (make run).
# https://docs.celeryq.dev/en/stable/userguide/configuration.html

REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL) or "filesystem://"
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True  # every task is idempotent; a crashed worker's task reruns
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 300
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The one beat schedule, declared here (not in the database). Times are UTC.
CELERY_BEAT_SCHEDULE = {
    "deadlines": {
        "task": "orders.run_job",
        "schedule": float(os.environ.get("OMS_DEADLINE_SWEEP_SECONDS", "60")),
        "args": ("deadlines",),
        "options": {"expires": 55},  # a run that could not start in time is dropped
    },
    "outbox": {
        "task": "orders.relay_outbox",
        # Effects (webhooks) a worker killed after its commit left in the outbox.
        "schedule": float(os.environ.get("OMS_OUTBOX_RELAY_SECONDS", "5")),
        "options": {"expires": 4},
    },
    "webhooks": {
        "task": "orders.run_job",
        "schedule": 60.0,
        "args": ("webhooks",),
        "options": {"expires": 55},  # retries of due outbound webhook deliveries
    },
    "inbound": {
        "task": "orders.run_job",
        "schedule": 60.0,
        "args": ("inbound",),
        "options": {"expires": 55},  # platform pushes a crashed worker left unprocessed
    },
    "tracking_pools": {
        "task": "orders.run_job",
        "schedule": crontab(hour=17, minute=0),  # 01:00 Beijing time
        "args": ("tracking_pools",),
    },
    "aftersales": {
        "task": "orders.run_job",
        "schedule": 60.0,
        "args": ("aftersales",),
        "options": {
            "expires": 55
        },  # unanswered requests, returns not sent or confirmed
    },
    "tracking": {
        "task": "orders.run_job",
        "schedule": crontab(minute=15),  # hourly: stalled packages, redelivery windows
        "args": ("tracking",),
    },
    "background_jobs": {
        "task": "orders.run_job",
        "schedule": 60.0,
        "args": ("background_jobs",),
        "options": {"expires": 55},  # background jobs whose worker died: resumed
    },
}

# --- Cache ------------------------------------------------------------------------
# Rate-limit counters must be shared by every web process: Redis when configured.

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# --- REST API -----------------------------------------------------------------------
# https://www.django-rest-framework.org/api-guide/settings/ ; https://drf-spectacular.readthedocs.io

# The API kit (oms.core.api.base): who is calling, and where idempotent answers are kept.
OMS_API_CONTEXT = "integrations.api.auth.api_context"
OMS_IDEMPOTENCY_MODEL = "integrations.IdempotentRequest"
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "integrations.api.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["oms.core.input.StrictJSONParser"],
    "EXCEPTION_HANDLER": "oms.core.api.exception_handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "COERCE_DECIMAL_TO_STRING": True,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": (
        "Orders from Taobao, AliExpress and TikTok Shop in one unified shape, for ERPs. "
        'Every error is `{"error": {"code", "message", "details"}}`. '
        "Every POST accepts an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # assets served by the app itself, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# --- Logging ------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Email --------------------------------------------------------------------------

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "oms@localhost")

# --- OMS ----------------------------------------------------------------------------

# Per-platform policy overrides, e.g. {"tiktok": {"pay_window": "24h"}}. A shop's own
# overrides (Shop.policy_overrides) win over these; these win over each platform's table.
# The installed marketplaces: one package each (see platforms/__init__.py).
OMS_PLATFORMS = ["platforms.taobao", "platforms.aliexpress", "platforms.tiktok"]
# The zone of each platform's local time strings, by platform code, overriding the zone
# its package declares (Taobao Asia/Shanghai, AliExpress America/Los_Angeles: see
# connectors.md §2; TikTok sends Unix seconds). E.g. {"aliexpress": "Asia/Shanghai"}.
OMS_PLATFORM_TIMEZONES: dict[str, str] = {}
OMS_PLATFORM_POLICY_OVERRIDES: dict[str, dict[str, str]] = {}
OMS_SYNC_SETTLE_SECONDS = float(os.environ.get("OMS_SYNC_SETTLE_SECONDS", "2"))
OMS_JOB_RUN_RETENTION_DAYS = int(os.environ.get("OMS_JOB_RUN_RETENTION_DAYS", "30"))
# A dashboard batch over a filter acts at once up to this many orders; beyond, it runs
# as a background job (orders.background) in chunks, a few chunks per Celery task.
OMS_BATCH_SYNC_LIMIT = int(os.environ.get("OMS_BATCH_SYNC_LIMIT", "500"))
OMS_BACKGROUND_JOB_CHUNK = int(os.environ.get("OMS_BACKGROUND_JOB_CHUNK", "200"))
OMS_BACKGROUND_JOB_CHUNKS_PER_TASK = 20
OMS_BACKGROUND_JOB_STALL_SECONDS = 300  # no progress for this long: enqueued again
# Outbound webhooks may go to loopback (127.0.0.0/8, ::1, localhost) only when this is
# on: for development and the tests' local receiver. Private, link-local, CGNAT and
# metadata addresses are refused whatever it says (integrations/webhooks.py).
OMS_WEBHOOK_ALLOW_LOOPBACK = env_bool("OMS_WEBHOOK_ALLOW_LOOPBACK", False)
# A job run still "running" this long after it started is marked abandoned (its worker
# died): longer than Celery's hard time limit, so a live run is never marked.
OMS_JOB_RUN_LEASE_SECONDS = int(os.environ.get("OMS_JOB_RUN_LEASE_SECONDS", "900"))
