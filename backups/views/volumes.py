"""A volume's status, followed while a restore into it (or its creation by one) runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING, trigger_client_event

from backups import domain
from backups.api import ApiError, Unauthorized, Volume
from backups.polls import API_ANSWERED_EVENT, poll_attempt
from backups.presenters import volume_backups_url
from backups.shared_reads import shared_read
from backups.views.polling import panel_poll_failed
from console.decorators import signin_required


def volume_context(volume: Volume) -> dict[str, Any]:
    """The volume's status box: followed while a restore runs, then its outcome and a link to
    the volume's backups (there is no volume page)."""
    return {
        "volume": volume,
        "watching": volume.status in domain.RESTORE_WATCHED,
        "restore_failed": volume.status.value in {"error_restoring", "error"},
        "volume_backups_url": volume_backups_url(volume.id),
        "poll_seconds": settings.BYCLOUD_POLL_SECONDS,
    }


@require_GET
@vary_on_headers("HX-Request")
@signin_required
def volume_status(request: HttpRequest, volume_id: Any) -> HttpResponse:
    """A volume's status; polled while a restore runs.

    htmx answers: 204 when the status shown (``?shown=``) has not changed, 286 (stop polling)
    once the volume is no longer restoring or being created (and the page's "Restore of X
    started" message goes), else the new fragment. A failed read answers 286 with
    ``HX-Reswap: none`` and a note carrying a later poll (``backups.polls.PollFailure``).
    """
    if not request.htmx:
        volume = request.console.client().get_volume(str(volume_id))
        return TemplateResponse(request, "backups/volume_status.html", volume_context(volume))
    try:
        read = shared_read(
            request,
            f"volume/{volume_id}",
            lambda: request.console.poll_client().get_volume(str(volume_id)),
        )
    except Unauthorized:
        raise  # back to sign-in (the middleware)
    except ApiError as error:
        return panel_poll_failed(request, error, target="#volume-status")
    context = volume_context(read.answer)
    watching = context["watching"]
    recovering = poll_attempt(request) > 0  # the note of the failed poll must go
    if watching and not recovering and request.GET.get("shown") == read.answer.status.value:
        return trigger_client_event(HttpResponse(status=204), API_ANSWERED_EVENT)
    context["final"] = not watching
    response = TemplateResponse(
        request,
        "backups/volume_status.html#volume-status",
        context,
        status=200 if watching else HTMX_STOP_POLLING,
    )
    return trigger_client_event(response, API_ANSWERED_EVENT)
