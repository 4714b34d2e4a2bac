"""Access checks for views: signed in, and allowed to change things."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from console.navigation import redirect_to_signin

View = Callable[..., HttpResponse]


def signin_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.console:  # type: ignore[attr-defined]
            return redirect_to_signin(request)
        return view(request, *args, **kwargs)

    return wrapper


def writable_session_required(view: View) -> View:
    """Refuse any change from a read-only session, whatever the template showed."""

    @wraps(view)
    @signin_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.console.read_only:  # type: ignore[attr-defined]
            return TemplateResponse(request, "errors/read_only.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
