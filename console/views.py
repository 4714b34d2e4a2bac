"""Sign in, sign out, and switch the session to another region."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from audit import record as audit
from backups.api import ApiError, ApiUnavailable, Unauthorized
from backups.api.factory import client_for
from console import throttle
from console.decorators import signin_required
from console.forms import SignInForm
from console.navigation import safe_next_url
from console.regions import check_credential_in, problem
from console.session import end_session, region_label, start_session, switch_region
from observability.metrics import SIGNIN_FAILURES

SIGNED_OUT_NOTICE = "You are signed out."
#: Sent with the sign-out answer: the browser drops what it kept of the signed-in pages.
CLEAR_SITE_DATA = '"cache", "cookies", "storage"'


class Verdict(enum.Enum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # ByCloud answered 401: a failed attempt
    UNJUDGED = "unjudged"  # an outage, a timeout, a 5xx...: says nothing about the credential


@dataclass(frozen=True)
class Check:
    """What one credential check said: the verdict, the form's message, the API error if any."""

    verdict: Verdict
    message: str = ""
    error: ApiError | None = None

    @property
    def status(self) -> int:
        """400 for a refused credential; the error's own status (503, 504, 429...) otherwise."""
        return self.error.console_status if self.error is not None else 400


def _credential_noun(kind: str) -> str:
    return kind if kind.startswith("API") else kind.lower()


@sensitive_variables("credential")
def _check_credential(form: SignInForm) -> Check:
    """One API call proves the credential."""
    region = settings.BYCLOUD_REGIONS[form.cleaned_data["region"]]
    credential = form.credential()
    client = client_for(region["url"], credential)
    try:
        client.list_volumes(limit=1)
    except Unauthorized:
        noun = _credential_noun(credential.kind)
        return Check(
            Verdict.REJECTED, f"ByCloud did not accept this {noun}. Check it and try again."
        )
    except ApiUnavailable as error:
        message = f"The region {region['label']} cannot be reached right now ({error.message})."
        return Check(Verdict.UNJUDGED, message, error)
    except ApiError as error:
        suffix = f" (request ID {error.request_id})" if error.request_id else ""
        message = f"ByCloud could not check the credential: {error.message}{suffix}"
        return Check(Verdict.UNJUDGED, message, error)
    return Check(Verdict.ACCEPTED)


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


@sensitive_post_parameters("access_token", "api_key_secret")
@sensitive_variables("credential")
@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    next_url = safe_next_url(request, request.POST.get("next") or request.GET.get("next"))
    if request.method == "GET" and request.console:
        return HttpResponseRedirect(next_url)
    if request.method == "GET" and request.GET.get("signed_out"):
        messages.info(request, SIGNED_OUT_NOTICE)  # shown and consumed by this very page
    form = SignInForm(request.POST or None)
    status = 200
    retry_after = 0
    if request.method == "POST":
        status = 400
        if form.is_valid():
            credential = form.credential()
            attempt = throttle.reserve(request, credential)
            if attempt.refused:
                retry_after = attempt.retry_after
                form.add_error(
                    None,
                    f"Too many failed sign-in attempts. Try again in {_wait_text(retry_after)}.",
                )
                status = 429
                audit.record(
                    request,
                    audit.SIGNIN,
                    audit.REFUSED,
                    credential=credential,
                    region=form.cleaned_data["region"],
                    reason="Too many failed sign-in attempts.",
                )
            else:
                try:
                    check = _check_credential(form)
                except BaseException:
                    attempt.release()
                    raise
                if check.verdict is Verdict.ACCEPTED:
                    attempt.succeeded()
                    start_session(
                        request,
                        region=form.cleaned_data["region"],
                        credential=credential,
                        read_only=form.cleaned_data["read_only"],
                    )
                    audit.record(
                        request,
                        audit.SIGNIN,
                        audit.SUCCEEDED,
                        params={"read_only": form.cleaned_data["read_only"]},
                    )
                    return HttpResponseRedirect(next_url)
                if check.verdict is Verdict.REJECTED:
                    attempt.failed()
                    SIGNIN_FAILURES.inc()
                else:
                    attempt.release()
                form.add_error(None, check.message)
                audit.record(
                    request,
                    audit.SIGNIN,
                    audit.FAILED,
                    credential=credential,
                    region=form.cleaned_data["region"],
                    error=check.error,
                    reason=check.message,
                )
                status = check.status
                if check.error is not None and check.error.retry_after:
                    retry_after = math.ceil(check.error.retry_after)
    context = {"form": form, "next": next_url}
    response = TemplateResponse(request, "console/signin.html", context, status=status)
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    """Sign out. The notice travels in the URL, not the session: a visitor who was not signed in
    gets no session row, and the browser clears its cookies on this answer anyway."""
    audit.record(request, audit.SIGNOUT, audit.SUCCEEDED)
    end_session(request)
    response = HttpResponseRedirect(f"{reverse('signin')}?signed_out=1")
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


def _switch_refused_message(target: str, current: str, error: ApiError) -> str:
    request_id = f" (request ID {error.request_id})" if error.request_id else ""
    return (
        f"Could not switch to {target}: {problem(error)}{request_id}. You are still in {current}."
    )


@require_POST
@signin_required
def region_switch(request: HttpRequest) -> HttpResponse:
    """Move the session to another region once one read there proves the credential, then to
    ``next`` (the section's list: a backup of one region is not in another); refused or
    unreachable, the session stays and ``back`` (the page it came from) says why. Read-only
    sessions may switch: it changes nothing at ByCloud."""
    console = request.console  # type: ignore[attr-defined]
    region = request.POST.get("region", "")
    if region not in settings.BYCLOUD_REGIONS:
        context = {"region": region[:64]}
        return TemplateResponse(request, "console/region_unknown.html", context, status=400)
    next_url = safe_next_url(request, request.POST.get("next"))
    if region == console.region:
        return HttpResponseRedirect(next_url)
    previous = console.region
    params = {"from_region": previous}
    error = check_credential_in(console, region)
    if error is not None:
        message = _switch_refused_message(region_label(region), console.region_label, error)
        messages.error(request, message)
        outcome = audit.outcome_of(error)
        audit.record(
            request,
            audit.SWITCH_REGION,
            outcome,
            region=region,
            params=params,
            error=error,
            reason=message,
        )
        return HttpResponseRedirect(safe_next_url(request, request.POST.get("back") or next_url))
    switch_region(request, region)
    audit.record(request, audit.SWITCH_REGION, audit.SUCCEEDED, params=params)
    messages.success(request, f"You are now in region {region_label(region)}.")
    return HttpResponseRedirect(next_url)
