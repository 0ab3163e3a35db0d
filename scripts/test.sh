#!/usr/bin/env bash
# Full test gate: lint, import contracts, Django system checks, missing-migration check, pytest, then the
# short security and integrity probe (soak/; SOAK=0 skips it). Extra arguments are
# passed to pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p var

export DJANGO_SETTINGS_MODULE=oms.settings.test
PY=.venv/bin/python

echo "==> ruff check"
.venv/bin/ruff check .

echo "==> lint-imports (the import contracts in pyproject.toml)"
.venv/bin/lint-imports --no-logo --no-cache

echo "==> manage.py check"
"$PY" manage.py check

echo "==> makemigrations --check --dry-run"
"$PY" manage.py makemigrations --check --dry-run

echo "==> browser for the dashboard tests, PDF tools for the printing tests"
if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1 \
    || ! command -v zbarimg >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing Debian's chromium, fonts-wqy-zenhei (Chinese glyphs), poppler-utils and zbar-tools ..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei poppler-utils zbar-tools >/dev/null) \
            || echo "!! could not install chromium fonts-wqy-zenhei poppler-utils zbar-tools" >&2
    fi
fi
if command -v chromium >/dev/null 2>&1; then
    echo "chromium: $(command -v chromium)"
elif [ "${CI:-}" = "true" ]; then
    echo "!! CI=true and Chromium is missing: the browser tests cannot run" >&2
    exit 1
else
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!! Chromium is not installed: the browser tests will be SKIPPED        !!" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
fi

echo "==> pytest"
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    echo "!! pytest collected NO tests (exit 5). Treating as FAILURE. !!" >&2
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
    exit 1
fi
if [ "$rc" -ne 0 ]; then
    echo "pytest failed (exit $rc)" >&2
    exit "$rc"
fi

if [ "${SOAK:-1}" != "0" ]; then
    # The probe's short version: its own loopback stack (gunicorn, Celery, database
    # oms_soak_short, Redis db 6), every area with small sizes. SOAK=0 skips it.
    echo "==> soak (short)"
    "$PY" -m soak --short
fi

if [ -d artifacts/screenshots ]; then
    echo "screenshots: $(ls artifacts/screenshots | tr '\n' ' ')"
fi
echo "==> all checks passed"
