"""An API error shown at the top of a form, worded for the action that failed."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

from backups.api import ApiError, Forbidden
from console.session import mark_read_only


@dataclass
class Alert:
    title: str
    error: ApiError
    hint: str = ""


def make_alert(request: HttpRequest, error: ApiError, action: str) -> Alert:
    """``action`` completes "ByCloud refused to …", e.g. "create the backup"."""
    if isinstance(error, Forbidden):
        mark_read_only(request)
    return Alert(title=error.action_title(action), error=error, hint=error.retry_hint)
