#!/usr/bin/env bash
# `make run`: the emulator, the console and its worker together; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EMULATOR_PORT="${EMULATOR_PORT:-8001}"
PORT="${PORT:-8000}"
export EMULATOR_PORT PORT

$PY manage.py migrate --noinput >/dev/null
$PY manage.py createcachetable
$PY manage.py collectstatic --noinput >/dev/null

pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped the console and the emulator."
}
trap stop INT TERM EXIT

$PY -m emulator --host 127.0.0.1 --port "$EMULATOR_PORT" &
pids+=($!)
# Workers, threads and keep-alive: gunicorn.conf.py.
.venv/bin/gunicorn bycloud_ui.wsgi:application --bind "127.0.0.1:$PORT" --access-logfile - &
pids+=($!)
# The worker: bulk jobs and protection scans (docs/adr/0015-worker-django-tasks.md).
$PY manage.py worker --interval 0.25 --no-reload --verbosity 0 &
pids+=($!)

for _ in $(seq 50); do
  if $PY -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
      "http://127.0.0.1:$PORT/healthz" 2>/dev/null; then break; fi
  sleep 0.2
done
cat <<MSG

  ByCloud console:  http://127.0.0.1:$PORT/
  ByCloud API (emulator): http://127.0.0.1:$EMULATOR_PORT/

  Demo credentials (sign in with "Access token" or "API key"):
    access token  demo-token          demo organisation, read-write
    access token  demo-viewer-token   demo organisation, read-only
    API key       demo-key-id / demo-secret   demo organisation, read-write
    access token  other-token         a second organisation

  Press Ctrl-C to stop them all.
MSG
wait -n "${pids[@]}"
