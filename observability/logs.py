"""Logging configuration: JSON lines (python-json-logger) or plain text, with the request ID.

``python-json-logger`` is only a ``logging.Formatter``: every module keeps logging through the
standard library (the API client stays free of Django and of any logging framework), and the
fields a line carries are the record's ``extra``. ``BYCLOUD_LOG_FORMAT=json`` turns it on
(``make serve`` does); plain text otherwise.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS

from observability import context

#: Record attributes never written out: Django's ``request`` object (``django.request`` passes
#: it in ``extra``) carries headers and cookies.
_NOT_LOGGED = ["request", "color_message"]


class RequestContextFilter(logging.Filter):
    """Puts the console's ``request_id`` on every record (None outside a request), and notes
    each ByCloud ``request_id`` a record carries on the current request, for its request line."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = context.current()
        if not hasattr(record, "request_id"):
            record.request_id = ctx.request_id if ctx else None
        bycloud_id = getattr(record, "bycloud_request_id", None)
        if ctx and bycloud_id and bycloud_id not in ctx.bycloud_request_ids:
            ctx.bycloud_request_ids.append(str(bycloud_id))
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        reserved_attrs=[*RESERVED_ATTRS, *_NOT_LOGGED],
        json_ensure_ascii=False,
    )


def logging_config(fmt: str = "plain", level: str = "INFO") -> dict[str, Any]:
    """The ``LOGGING`` dict of settings.py: one stream handler on the root logger."""
    formatters: dict[str, Any] = {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "observability.logs.json_formatter"},
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_context": {"()": "observability.logs.RequestContextFilter"}},
        "formatters": formatters,
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if fmt.strip().lower() == "json" else "plain",
                "filters": ["request_context"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.request": {"level": "ERROR"}},
    }
