"""One backup: its page, and the poll that keeps its status panel live."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.contrib import messages
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING, trigger_client_event

from audit.queries import history_for
from backups import domain
from backups.api import ApiError, Backup, BackupStatus, NotFound, Unauthorized
from backups.polls import API_ANSWERED_EVENT, as_of_from, panel_fingerprint, poll_attempt, poll_ms
from backups.presenters import actions_for
from backups.shared_reads import shared_read
from backups.views.polling import panel_poll_failed
from backups.volume_names import VolumeDirectory, cached_volume_directory, call_with_volumes
from console.decorators import signin_required

#: One call for a volume's backups when working out a backup's chain.
CHAIN_FETCH_LIMIT = 1000
#: How long the panel's polls reuse the source snapshot's name the page read.
SNAPSHOT_NAME_SECONDS = 600


def _snapshot_key(request: HttpRequest, snapshot_id: str) -> str:
    return str(request.console.cache_key("snapshot-name", snapshot_id))


def read_snapshot_name(request: HttpRequest, backup: Backup) -> None:
    """The source snapshot's name (one call; a 404 is a deleted snapshot), kept for the
    panel's polls, which never call for it. Another failure leaves just its ID shown."""
    if not backup.snapshot_id:
        return
    try:
        snapshot = request.console.client().get_snapshot(backup.snapshot_id)
        found: dict[str, Any] = {"name": snapshot.display_name}
    except NotFound:
        found = {"missing": True}
    except Unauthorized:
        raise
    except (ApiError, ValueError):
        return
    cache.set(_snapshot_key(request, backup.snapshot_id), found, SNAPSHOT_NAME_SECONDS)


def _snapshot_facts(request: HttpRequest, backup: Backup) -> dict[str, Any]:
    if not backup.snapshot_id:
        return {}
    return cache.get(_snapshot_key(request, backup.snapshot_id)) or {}


def _panel_context(
    request: HttpRequest,
    backup: Backup,
    directory: VolumeDirectory,
    as_of: float,
    *,
    notice: bool = False,
) -> dict[str, Any]:
    """``notice``: the page shows a message about this backup ("is being created") that the
    final poll replaces with the final state (``notice=1`` in the poll URL)."""
    read_only = request.console.read_only
    poll_query = {"known": panel_fingerprint(backup), "as_of": f"{as_of:.3f}"}
    if notice:
        poll_query["notice"] = "1"
    return {
        "backup": backup,
        "volume_name": directory.label(backup.volume_id),
        "volume_known": backup.volume_id in directory,
        "volume_url": f"{reverse('backup-list')}?{urlencode({'volume': backup.volume_id})}",
        "metadata": sorted(backup.metadata.items()),
        "actions": actions_for(backup, read_only),
        "read_only": read_only,
        "polling": backup.is_transitional,
        "poll_ms": poll_ms(),
        "poll_url": f"{reverse('backup-status', args=[backup.id])}?{urlencode(poll_query)}",
        "snapshot": _snapshot_facts(request, backup),
    }


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_detail(request: HttpRequest, backup_id: UUID) -> HttpResponse:
    client = request.console.client()
    as_of = time.time()
    try:
        backup = client.get_backup(str(backup_id))
    except NotFound:
        return TemplateResponse(
            request,
            "backups/backup_detail_missing.html",
            {"backup_id": str(backup_id)},
            status=404,
        )
    needs_chain = domain.needs_chain(backup)
    read_snapshot_name(request, backup)

    def chain() -> Sequence[Backup]:
        if not needs_chain:
            return ()
        return client.list_backups(volume_id=backup.volume_id, limit=CHAIN_FETCH_LIMIT).items

    # The volume's name (cached, else one call) and the chain (one call) run in parallel.
    siblings, directory = call_with_volumes(request, client, chain, lambda _: [backup.volume_id])
    # A message shown above a backup in flight (``len`` does not consume it) is replaced with
    # the final state by the poll that sees it.
    notice = backup.is_transitional and len(messages.get_messages(request)) > 0
    context = _panel_context(request, backup, directory, as_of, notice=notice)
    dependants, dependants_exact = domain.incremental_dependants(backup, siblings)
    context.update(
        parent=domain.incremental_parent(backup, siblings),
        dependants=dependants,
        dependants_exact=dependants_exact,
        needs_chain=needs_chain,
    )
    context["history"] = history_for(request.console, backup.id)  # read just now: its own
    return TemplateResponse(request, "backups/backup_detail.html", context)


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_status(request: HttpRequest, backup_id: UUID) -> HttpResponse:
    """The detail panel's poll: 204 unchanged, 200 changed, 286 final (or gone)."""
    if not request.htmx:
        return HttpResponseRedirect(reverse("backup-detail", args=[backup_id]))
    template = "backups/backup_detail.html#backup-panel"
    notice = request.GET.get("notice") == "1"
    recovering = poll_attempt(request) > 0  # the note of the failed poll must go
    try:
        read = shared_read(
            request,
            f"backup/{backup_id}",
            lambda: request.console.poll_client().get_backup(str(backup_id)),
            not_before=as_of_from(request),
        )
    except NotFound:
        context = {"gone": True, "backup_id": str(backup_id), "announce": "Backup deleted."}
        if notice:
            context["final_notice"] = ("info", "This backup no longer exists: it was deleted.")
        response = TemplateResponse(request, template, context, status=HTMX_STOP_POLLING)
        return trigger_client_event(response, API_ANSWERED_EVENT)
    except Unauthorized:
        raise  # back to sign-in (the middleware)
    except ApiError as error:
        return panel_poll_failed(request, error, target="#backup-panel")
    backup = read.answer
    changed = request.GET.get("known", "") != panel_fingerprint(backup)
    if backup.is_transitional and not changed and not recovering:
        return trigger_client_event(HttpResponse(status=204), API_ANSWERED_EVENT)
    context = _panel_context(
        request, backup, cached_volume_directory(request), read.as_of, notice=notice
    )
    if changed:
        context["announce"] = f"Status: {backup.status.label}."
    if notice and not backup.is_transitional:
        context["final_notice"] = final_notice(backup)
    status = 200 if backup.is_transitional else HTMX_STOP_POLLING
    response = TemplateResponse(request, template, context, status=status)
    return trigger_client_event(response, API_ANSWERED_EVENT)


def final_notice(backup: Backup) -> tuple[str, str]:
    """What replaces "Backup X is being created" once the backup is no longer in flight:
    the alert's level and its sentence."""
    name, reason = backup.display_name, backup.fail_reason or "ByCloud gave no reason."
    if backup.status is BackupStatus.AVAILABLE:
        return "success", f"Backup {name} is available."
    if backup.status is BackupStatus.ERROR:
        return "error", f"Backup {name} failed: {reason}"
    if backup.status is BackupStatus.ERROR_DELETING:
        return "error", f"Backup {name} could not be deleted: {reason}"
    return "info", f"Backup {name} is now {backup.status.label.lower()}."
