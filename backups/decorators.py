"""Access checks for views: signed in, and allowed to change things."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from backups.session import current_session
from bycloud_ui.navigation import redirect_to_signin

View = Callable[..., HttpResponse]


def signin_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if current_session(request) is None:
            return redirect_to_signin(request)
        return view(request, *args, **kwargs)

    return wrapper


def writable_session_required(view: View) -> View:
    """Refuse any change from a read-only session, whatever the template showed."""

    @wraps(view)
    @signin_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        console = current_session(request)
        if console is not None and console.read_only:
            return TemplateResponse(request, "errors/read_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
