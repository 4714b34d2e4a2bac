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
    """An alert about a change that failed; ``action`` completes "ByCloud refused to …",
    e.g. "create the backup"."""
    if isinstance(error, Forbidden):
        mark_read_only(request)
    return Alert(title=error.action_title(action), error=error, hint=error.retry_hint)


def read_alert(error: ApiError) -> Alert:
    """An alert about a read that failed inside a form (nothing was changed, so nothing may
    or may not have happened): the page's own title and when to try again."""
    return Alert(title=error.title, error=error, hint=error.wait_hint)
