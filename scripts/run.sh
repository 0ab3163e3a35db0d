#!/usr/bin/env bash
# Local dev stack: migrate, seed demo data, then run Celery (worker + embedded
# beat) and the Django dev server. Ctrl-C stops both; if either dies, the
# other is stopped too.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p var

PY=.venv/bin/python
CELERY=.venv/bin/celery
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

"$PY" manage.py migrate --noinput
"$PY" manage.py seed_demo --if-empty

# Job control gives each background job its own process group, so the trap
# can kill the whole group (celery's pool children, runserver's children).
set -m
pids=()

cleanup() {
    local rc=$?
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    # Give them a moment, then force.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ "$alive" -eq 0 ] && break
        sleep 0.5
    done
    for pid in "${pids[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    exit "$rc"
}
trap cleanup INT TERM EXIT

"$CELERY" -A oms worker -B --loglevel=INFO --concurrency=2 \
    --schedule var/celerybeat-schedule &
pids+=($!)

"$PY" manage.py runserver "$HOST:$PORT" --noreload &
pids+=($!)

echo
echo "OMS is starting at http://$HOST:$PORT/"
echo "Demo logins: users owner/operator/service/warehouse, password demo"
echo "Press Ctrl-C to stop."
echo

# Return as soon as either process exits; the EXIT trap stops the other.
set +e
wait -n "${pids[@]}"
rc=$?
set -e
echo "A process exited (status $rc); stopping the rest." >&2
exit "$rc"
