#!/usr/bin/env bash
# `make serve`: one production instance of the console. Configured only by environment variables
# (README "Production", .env.example); no emulator. Migrations are a separate step
# (`make migrate`), run once per release before the new instances start.
#
# Refuses to start with an insecure configuration: DEBUG on, or a missing, short or published
# DJANGO_SECRET_KEY (it encrypts every stored credential and signs every session).
# Then collects the static files (compressed, manifest) and execs gunicorn with
# gunicorn.conf.py, bound to BIND (default 127.0.0.1:$PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PORT="${PORT:-8000}"
BIND="${BIND:-127.0.0.1:$PORT}"
# Production logs are one JSON object per line unless asked otherwise.
export BYCLOUD_LOG_FORMAT="${BYCLOUD_LOG_FORMAT:-json}"

refuse() {
  echo "serve: refusing to start: $*" >&2
  exit 2
}

case "${DJANGO_DEBUG:-}" in
  1 | [Tt][Rr][Uu][Ee] | [Yy][Ee][Ss] | [Oo][Nn])
    refuse "DJANGO_DEBUG=${DJANGO_DEBUG} (debug pages show settings and tracebacks to anyone). Unset it." ;;
esac
export DJANGO_DEBUG=false

# Importing the settings raises ImproperlyConfigured naming the variable (e.g. a placeholder key
# with a real region); serve also wants a real DJANGO_SECRET_KEY with the emulator region.
if ! problem=$($PY - 2>&1 <<'PY'
import os
import sys

try:
    from bycloud_ui import settings
except Exception as error:  # ImproperlyConfigured, a bad URL...
    print(f"{type(error).__name__}: {error}")
    sys.exit(1)
problem = settings.secret_key_problem(os.environ.get("DJANGO_SECRET_KEY", ""))
if problem:
    print(
        f"DJANGO_SECRET_KEY {problem}. Set it to a random value of at least "
        f"{settings.MIN_SECRET_KEY_LENGTH} characters shared by every instance, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`."
    )
    sys.exit(1)
PY
); then
  refuse "$(printf '%s\n' "$problem" | tail -n 1)"
fi

# Django's own checks (including --deploy); warnings are printed, errors stop here.
if ! output=$($PY manage.py check --deploy --fail-level ERROR 2>&1); then
  printf '%s\n' "$output" >&2
  refuse "manage.py check --deploy failed (above)."
fi
if ! output=$($PY manage.py migrate --check 2>&1); then
  printf '%s\n' "$output" | tail -n 5 >&2
  refuse "the database has unapplied migrations (or cannot be reached): run \`make migrate\` first."
fi

$PY manage.py collectstatic --noinput >/dev/null
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
  # Multiprocess metrics: the directory must start empty (values of an earlier run would add up).
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR" && find "$PROMETHEUS_MULTIPROC_DIR" -name '*.db' -delete
fi
echo "serve: ${BYCLOUD_INSTANCE_NAME:-console} on http://$BIND/ (gunicorn.conf.py)" >&2
# Workers, threads and keep-alive: gunicorn.conf.py. exec: signals reach gunicorn directly.
exec .venv/bin/gunicorn bycloud_ui.wsgi:application --config gunicorn.conf.py --bind "$BIND" \
  --access-logfile "${GUNICORN_ACCESS_LOG:--}"
