"""Where to send a user after sign-in, and only ever to this site."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect


def current_location(request: HttpRequest) -> str:
    """The page the user is looking at: for htmx, the page's URL rather than the fragment's."""
    if request.htmx and request.htmx.current_url:
        parts = urlsplit(request.htmx.current_url)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()


def signin_url_returning_to(request: HttpRequest) -> str:
    location = current_location(request)
    if request.method != "GET" and not request.htmx:
        location = resolve_url(settings.LOGIN_REDIRECT_URL)
    return f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': location})}"


def redirect_to_signin(request: HttpRequest) -> HttpResponse:
    """To sign-in and back here afterwards; for htmx an HX-Redirect of the whole page, never a
    sign-in form swapped into a fragment."""
    target = signin_url_returning_to(request)
    if request.htmx:
        return HttpResponseClientRedirect(target)
    return HttpResponseRedirect(target)


def safe_next_url(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)
