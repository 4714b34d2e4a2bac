"""Sign in and sign out."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from backups.api import ApiError, ApiUnavailable, Unauthorized
from backups.api.factory import client_for
from console.forms import SignInForm
from console.navigation import safe_next_url
from console.session import end_session, start_session


def _throttle_key(request: HttpRequest) -> str:
    return f"signin-failures:{request.META.get('REMOTE_ADDR', 'unknown')}"


def _too_many_attempts(request: HttpRequest) -> bool:
    return cache.get(_throttle_key(request), 0) >= settings.BYCLOUD_SIGNIN_ATTEMPTS


def _count_failure(request: HttpRequest) -> None:
    key = _throttle_key(request)
    if cache.add(key, 1, timeout=settings.BYCLOUD_SIGNIN_WINDOW_SECONDS):
        return
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=settings.BYCLOUD_SIGNIN_WINDOW_SECONDS)


def _check_credential(form: SignInForm) -> str | None:
    """One API call proves the credential; returns an error message for the form, or None."""
    region = settings.BYCLOUD_REGIONS[form.cleaned_data["region"]]
    client = client_for(region["url"], form.credential())
    try:
        client.list_volumes(limit=1)
    except Unauthorized:
        return (
            f"ByCloud did not accept this {form.credential().kind.lower()}. Check it and try again."
        )
    except ApiUnavailable as error:
        return f"The region {region['label']} cannot be reached right now ({error.message})."
    except ApiError as error:
        suffix = f" (request ID {error.request_id})" if error.request_id else ""
        return f"ByCloud could not check the credential: {error.message}{suffix}"
    return None


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "GET" and request.console:
        return HttpResponseRedirect(next_url)
    form = SignInForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if _too_many_attempts(request):
            form.add_error(None, "Too many failed sign-in attempts. Wait a few minutes and retry.")
            status = 429
        elif form.is_valid():
            error = _check_credential(form)
            if error is None:
                start_session(
                    request,
                    region=form.cleaned_data["region"],
                    credential=form.credential(),
                    read_only=form.cleaned_data["read_only"],
                )
                return HttpResponseRedirect(next_url)
            _count_failure(request)
            form.add_error(None, error)
            status = 400
        else:
            status = 400
    context = {"form": form, "next": next_url}
    return TemplateResponse(request, "console/signin.html", context, status=status)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    end_session(request)
    messages.info(request, "You are signed out.")
    return HttpResponseRedirect(reverse("signin"))
