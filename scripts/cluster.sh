#!/usr/bin/env bash
# `make cluster`: the production shape on one machine. The emulator (regions spo1 on EMULATOR_PORT
# and spo2 on EMULATOR_PORT+1, unless BYCLOUD_REGIONS or BYCLOUD_API_URL is set), two console
# instances (scripts/serve.sh) on PORT+1 and PORT+2 and two workers sharing DATABASE_URL (PostgreSQL) and
# REDIS_URL, and HAProxy on PORT spreading requests over both (round robin, health checks on
# /healthz, X-Forwarded-For set; the answer's X-Served-By header names the instance).
# Ctrl-C or SIGTERM stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EMULATOR_PORT="${EMULATOR_PORT:-8001}"
PORT="${PORT:-8000}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bycloud_cluster}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/1}"
HAPROXY="${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}"
[ -x "$HAPROXY" ] || { echo "cluster: haproxy is missing (make cluster installs it as root: apt-get install haproxy)" >&2; exit 2; }

workdir=$(mktemp -d -t bycloud-cluster.XXXXXX)
pids=()
stop() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$workdir"
  echo "cluster: stopped the load balancer, both consoles and the emulator." >&2
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# One key for the run, shared by both instances (sessions and stored credentials use it).
DJANGO_SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')"
export DATABASE_URL REDIS_URL DJANGO_SECRET_KEY EMULATOR_PORT
export BYCLOUD_TRUSTED_PROXIES="127.0.0.1/32"   # HAProxy's X-Forwarded-For names the client
export DJANGO_ALLOWED_HOSTS="${DJANGO_ALLOWED_HOSTS:-127.0.0.1,localhost}"
export GUNICORN_ACCESS_LOG="${GUNICORN_ACCESS_LOG:-/dev/null}"
source scripts/emulator_regions.sh  # two emulator regions, as in `make run`

# The database, if missing (psql on the server's maintenance database).
read -r db_name admin_url < <($PY - "$DATABASE_URL" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
print(parts.path.lstrip("/"), urlunsplit(parts._replace(path="/postgres")))
PY
)
if [ "$(psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'")" != 1 ]; then
  psql "$admin_url" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$db_name\"" >/dev/null
  echo "cluster: created database $db_name" >&2
fi
$PY manage.py migrate --noinput >/dev/null
$PY manage.py createcachetable

if [ "$start_emulator" = 1 ]; then
  $PY -m emulator --host 127.0.0.1 --port "$EMULATOR_PORT" --regions spo1,spo2 \
    --db "$workdir/emulator.sqlite3" --reset --quiet &
  pids+=($!)
fi
for n in 1 2; do
  BYCLOUD_INSTANCE_NAME="console-$n" PORT=$((PORT + n)) STATIC_ROOT="$workdir/static-$n" \
    BYCLOUD_VAR_DIR="$workdir/var-$n" bash scripts/serve.sh &
  pids+=($!)
done

up() { $PY -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null; }
wait_up() {
  for _ in $(seq 150); do
    up "$1" && return 0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "cluster: a process exited early" >&2; exit 1; }; done
    sleep 0.2
  done
  echo "cluster: $1 did not answer" >&2
  exit 1
}
wait_up "http://127.0.0.1:$((PORT + 1))/healthz"
wait_up "http://127.0.0.1:$((PORT + 2))/healthz"
# Two workers on the same database: each job runs once (its lease), either resumes the other's.
for n in 1 2; do
  BYCLOUD_INSTANCE_NAME="worker-$n" BYCLOUD_VAR_DIR="$workdir/var-$n" \
    $PY manage.py worker --interval 0.25 --no-reload --verbosity 0 --worker-id "worker-$n" &
  pids+=($!)
done

cat >"$workdir/haproxy.cfg" <<CFG
global
  maxconn 1024
defaults
  mode http
  timeout connect 2s
  timeout client 65s
  timeout server 65s
  timeout http-keep-alive 5s
frontend console
  bind 127.0.0.1:$PORT
  default_backend consoles
backend consoles
  balance roundrobin
  option httpchk
  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost
  http-check expect status 200
  http-request set-header X-Forwarded-For %[src]
  http-request set-header X-Forwarded-Proto http
  http-response set-header X-Served-By %[srv_name]
  default-server check inter 1s fall 2 rise 1
  server console-1 127.0.0.1:$((PORT + 1))
  server console-2 127.0.0.1:$((PORT + 2))
CFG
"$HAPROXY" -c -q -f "$workdir/haproxy.cfg"
"$HAPROXY" -db -f "$workdir/haproxy.cfg" &
pids+=($!)

wait_up "http://127.0.0.1:$PORT/healthz"

cat <<MSG

  ByCloud console (HAProxy, round robin): http://127.0.0.1:$PORT/
    instance console-1: http://127.0.0.1:$((PORT + 1))/
    instance console-2: http://127.0.0.1:$((PORT + 2))/
  $api
  Shared: $DATABASE_URL and $REDIS_URL

  Demo credentials (sign in with "Access token" or "API key"):
    access token  demo-token          demo organisation, read-write
    access token  demo-viewer-token   demo organisation, read-only
    API key       demo-key-id / demo-secret   demo organisation, read-write
    access token  other-token         a second organisation

  Which instance answered: the X-Served-By header (curl -sI http://127.0.0.1:$PORT/healthz).
  Press Ctrl-C to stop everything.
MSG
set +e
wait -n "${pids[@]}"
echo "cluster: a process exited; stopping the rest." >&2
exit 1
