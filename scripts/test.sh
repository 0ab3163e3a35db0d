#!/usr/bin/env bash
# Full test gate: lint, Django system checks, missing-migration check, pytest.
# Extra arguments are passed to pytest.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p var

export DJANGO_SETTINGS_MODULE=oms.settings.test
PY=.venv/bin/python

echo "==> ruff check"
.venv/bin/ruff check .

echo "==> manage.py check"
"$PY" manage.py check

echo "==> makemigrations --check --dry-run"
"$PY" manage.py makemigrations --check --dry-run

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

# TODO: browser tests (headless Chromium) step goes here.

echo "==> all checks passed"
