# The README's two commands are `make run` and `make test`; each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EMULATOR_PORT ?= 8001
PORT ?= 8000
export EMULATOR_PORT PORT

.PHONY: run test worker emulator lint format bench bench-smoke chromium haproxy serve migrate cluster clearsessions prune-audit clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,bench,emulator]'
	touch $(STAMP)

run: $(STAMP)
	bash scripts/run.sh

# One production instance, configured only by the environment (README, Production).
serve: $(STAMP)
	bash scripts/serve.sh

# Once per release, before new instances start: migrations are additive only, so the old
# instances keep serving while (and after) it runs.
migrate: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py createcachetable

# The production shape on one machine: emulator, two instances, HAProxy (PostgreSQL and Redis).
cluster: $(STAMP) haproxy
	bash scripts/cluster.sh

# The background worker of one production instance (bulk jobs, scans); run one or more.
worker: $(STAMP)
	$(PY) manage.py worker --no-reload

emulator: $(STAMP)
	$(PY) -m emulator --port $(EMULATOR_PORT) $(ARGS)

# Debian's Chromium for the browser tests (no browser download from Playwright).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: install Debian's chromium package (browser tests will be skipped)"; fi; \
	fi

# Debian's HAProxy for `make cluster` and its smoke test.
haproxy:
	@if ! command -v haproxy >/dev/null 2>&1 && [ ! -x /usr/sbin/haproxy ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; \
	  else echo "haproxy missing: install Debian's haproxy package (the cluster smoke test will be skipped)"; fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: $(STAMP) chromium haproxy lint
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

bench-smoke: $(STAMP)
	$(PY) -m bench --smoke

# Expired console sessions are deleted only by this (run it daily, e.g. from cron).
clearsessions: $(STAMP)
	$(PY) manage.py clearsessions

# Audit entries older than BYCLOUD_AUDIT_DAYS (default 400) are deleted only by this (daily).
prune-audit: $(STAMP)
	$(PY) manage.py prune_audit

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache .mypy_cache
