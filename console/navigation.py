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


#: The attribute that marks a form's view (``backups.form_stash.keeps_form``): a callable
#: ``(request) -> URL`` that keeps what a POST typed and answers where to bring it back.
FORM_KEEPER = "keep_form_on_signout"


def kept_form_location(request: HttpRequest) -> str | None:
    """For a POST to a view that keeps its form: the form's URL with the kept values' id."""
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    keeper = getattr(view, FORM_KEEPER, None)
    if request.method != "POST" or keeper is None:
        return None
    return keeper(request)


def came_from_this_site(request: HttpRequest) -> bool:
    """The browser says the request comes from a page of this site (``Sec-Fetch-Site``, or an
    ``Origin`` of this very host): not a form another site made the browser post."""
    if request.headers.get("Sec-Fetch-Site") == "same-origin":
        return True
    origin = request.headers.get("Origin")
    return bool(origin) and origin == f"{request.scheme}://{request.get_host()}"


def signin_keeping_form(request: HttpRequest) -> HttpResponse | None:
    """For the CSRF failure view: a form posted from this site after its session ended (another
    tab signed out, so the page's CSRF token is stale) goes to sign-in with what was typed kept,
    like a POST that finds no session. None otherwise (the page says the form expired)."""
    view = getattr(getattr(request, "resolver_match", None), "func", None)
    signed_in = bool(getattr(request, "console", None))
    if signed_in or not hasattr(view, FORM_KEEPER) or not came_from_this_site(request):
        return None
    return redirect_to_signin(request)


def signin_url_returning_to(request: HttpRequest) -> str:
    location = current_location(request)
    if request.method != "GET":
        kept = kept_form_location(request)
        if kept is not None:
            location = kept
        elif not request.htmx:
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
