#!/usr/bin/env bash
# Install, then run the whole stack on one machine with the embedded defaults:
# Redis (append-only), the Django web server, the separation worker, the light worker, beat.
# Stop everything with Ctrl-C. RUN_SKIP_INSTALL=1 starts what is already installed (a dev
# checkout whose .venv also holds the test tools, which the plain install would remove).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${RUN_SKIP_INSTALL:-0}" == 1 ]]; then
  .venv/bin/python manage.py migrate --no-input -v0
else
  scripts/install.sh
fi

export DATA_DIR="${DATA_DIR:-$PWD/var}"
PORT="${PORT:-8000}"
REDIS_PORT="${REDIS_PORT:-6379}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}"
mkdir -p "$DATA_DIR/redis" "$DATA_DIR/log"

pids=()
cleanup() {
  trap - EXIT INT TERM
  echo "==> stopping"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  echo "==> using the Redis already answering on port $REDIS_PORT"
else
  echo "==> redis-server on 127.0.0.1:$REDIS_PORT (append-only, no eviction)"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$DATA_DIR/redis" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --logfile "$DATA_DIR/log/redis.log" &
  pids+=($!)
fi

echo "==> separation worker (queues separation_priority, separation)"
.venv/bin/celery -A core worker -Q separation_priority,separation -c 1 -n "separation@%h" \
  -l info >>"$DATA_DIR/log/worker-separation.log" 2>&1 &
pids+=($!)
echo "==> light worker (queues default, bot)"
.venv/bin/celery -A core worker -Q default,bot -c 2 -n "default@%h" \
  -l info >>"$DATA_DIR/log/worker-default.log" 2>&1 &
pids+=($!)
echo "==> celery beat"
.venv/bin/celery -A core beat -s "$DATA_DIR/celerybeat-schedule" \
  -l info >>"$DATA_DIR/log/beat.log" 2>&1 &
pids+=($!)

echo "==> web on http://localhost:$PORT/ (logs in $DATA_DIR/log/)"
.venv/bin/python manage.py runserver "0.0.0.0:$PORT" --noreload &
pids+=($!)
wait -n "${pids[@]}"
