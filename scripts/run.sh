#!/usr/bin/env bash
# `make run`: the emulator, the console and its worker together; Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EMULATOR_PORT="${EMULATOR_PORT:-8001}"
PORT="${PORT:-8000}"
export EMULATOR_PORT PORT
source scripts/emulator_regions.sh
# With BYCLOUD_REGIONS set for the emulator, settings.py asks for a real DJANGO_SECRET_KEY: unless
# one is given, the key its embedded default keeps in var/secret_key (made once, owner-only), so
# sessions and stored credentials outlive a restart as before.
if [ "$start_emulator" = 1 ] && [ -z "${DJANGO_SECRET_KEY:-}" ]; then
  key_file="${BYCLOUD_VAR_DIR:-var}/secret_key"
  if [ ! -s "$key_file" ]; then
    mkdir -p "$(dirname "$key_file")"
    (umask 077 && $PY -c 'import secrets; print(secrets.token_urlsafe(50))' >"$key_file")
  fi
  DJANGO_SECRET_KEY="$(cat "$key_file")"
  export DJANGO_SECRET_KEY
fi

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

if [ "$start_emulator" = 1 ]; then
  $PY -m emulator --host 127.0.0.1 --port "$EMULATOR_PORT" --regions spo1,spo2 &
  pids+=($!)
fi
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
  $api

  Demo credentials (sign in with "Access token" or "API key"):
    access token  demo-token          demo organisation, read-write
    access token  demo-viewer-token   demo organisation, read-only
    API key       demo-key-id / demo-secret   demo organisation, read-write
    access token  other-token         a second organisation

  Press Ctrl-C to stop them all.
MSG
wait -n "${pids[@]}"
