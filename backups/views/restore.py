"""Restore a backup to a new volume or into an existing one, then follow the volume."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from backups import domain
from backups.alerts import make_alert
from backups.api import ApiError, BadRequest, ByCloudClient, Conflict, NotFound, Unauthorized
from backups.forms import TARGET_EXISTING, RestoreForm, is_uuid
from backups.views.volumes import volume_context
from console.decorators import writable_session_required

RESTORE_VOLUME_LIMIT = 1000


@require_http_methods(["GET", "POST"])
@writable_session_required
def backup_restore(request: HttpRequest, backup_id: Any) -> HttpResponse:
    client = request.console.client()
    backup_id = str(backup_id)
    started = request.GET.get("volume", "")
    if request.method == "GET" and is_uuid(started):
        return _restore_started(request, client, backup_id, started)

    backup = client.get_backup(backup_id)  # 404 and friends: the middleware's error page
    context: dict[str, Any] = {"backup": backup, "poll_seconds": settings.BYCLOUD_POLL_SECONDS}
    context["refusal"] = domain.restore_blocker(backup)
    if context["refusal"]:
        return TemplateResponse(
            request,
            "backups/backup_restore.html",
            context,
            status=409 if request.method == "POST" else 200,
        )
    volumes = client.list_volumes(status="available", limit=RESTORE_VOLUME_LIMIT)
    eligible = domain.restore_targets(volumes.items, backup)
    form = RestoreForm(request.POST or None, eligible=eligible, backup_size=backup.size)
    context["form"] = form
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = client.restore_backup(backup_id, **form.api_arguments())
            except Unauthorized:
                raise
            except ApiError as error:
                context["alert"] = make_alert(request, error, "restore the backup")
                if form.cleaned_data["target"] == TARGET_EXISTING and about_target(error):
                    form.add_error("volume", error.message)
                status = error.console_status
            else:
                messages.success(request, f"Restore of {backup.display_name} started.")
                url = reverse("backup-restore", args=[backup_id])
                return HttpResponseRedirect(f"{url}?volume={result.volume_id}")
        else:
            status = 400
    return TemplateResponse(request, "backups/backup_restore.html", context, status=status)


def about_target(error: ApiError) -> bool:
    """Whether a restore error concerns the chosen existing volume (not the backup)."""
    if not isinstance(error, Conflict | BadRequest | NotFound):
        return False
    message = error.message.lower()
    return "volume" in message and not message.startswith("backup")


def _restore_started(
    request: HttpRequest, client: ByCloudClient, backup_id: str, volume_id: str
) -> HttpResponse:
    """After the POST: the target volume, followed until the restore is over."""
    context: dict[str, Any] = {
        "backup_id": backup_id,
        "volume_id": volume_id,
        "poll_seconds": settings.BYCLOUD_POLL_SECONDS,
    }
    try:
        # While it runs: polled; once over: the outcome and a link to the volume's backups.
        context.update(volume_context(client.get_volume(volume_id)))
    except Unauthorized:
        raise
    except ApiError as error:
        context["alert"] = make_alert(request, error, "look up the volume")
    return TemplateResponse(request, "backups/backup_restore_started.html", context)
