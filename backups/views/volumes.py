"""A volume's status, followed while a restore into it (or its creation by one) runs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from backups import domain
from console.decorators import signin_required


@require_GET
@vary_on_headers("HX-Request")
@signin_required
def volume_status(request: HttpRequest, volume_id: Any) -> HttpResponse:
    """A volume's status; polled while a restore runs.

    htmx answers: 204 when the status shown (``?shown=``) has not changed, 286 (stop polling)
    once the volume is no longer restoring or being created, else the new fragment.
    """
    volume = request.console.client().get_volume(str(volume_id))
    watching = volume.status in domain.RESTORE_WATCHED
    context = {
        "volume": volume,
        "watching": watching,
        "poll_seconds": settings.BYCLOUD_POLL_SECONDS,
    }
    if not request.htmx:
        return TemplateResponse(request, "backups/volume_status.html", context)
    if watching and request.GET.get("shown") == volume.status.value:
        return HttpResponse(status=204)
    return TemplateResponse(
        request,
        "backups/volume_status.html#volume-status",
        context,
        status=200 if watching else HTMX_STOP_POLLING,
    )
