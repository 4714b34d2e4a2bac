"""gunicorn settings for the console (loaded from the working directory by `gunicorn`).

Most of a request's time is spent waiting for the ByCloud API, not computing, so each worker
runs several threads; polls arrive every 2 s, so idle connections are kept a little longer than
that (with gunicorn's default of 2 s, a poll could race the server closing its connection).
"""

import os

# Drops a dead worker's values from the multiprocess metrics (PROMETHEUS_MULTIPROC_DIR).
from observability.metrics import child_exit  # noqa: F401

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
worker_class = "gthread"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
