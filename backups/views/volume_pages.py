"""Volumes: the list (filters, marker pages, each volume's newest available backup) and one
volume's page (its fields, snapshots, backups as chains, and what can be done with it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.timesince import timesince
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from backups import domain
from backups.api import Backup, NotFound, Volume
from backups.forms_volumes import VolumeQuery
from backups.presenters import Action, volume_backups_url
from console.decorators import signin_required

#: The contract's largest ``limit``: one call for a volume's backups, snapshots, or the
#: organisation's available backups (the volumes list's ages).
API_MAX_LIMIT = 1000
NO_BACKUP_TO_RESTORE = "This volume has no available backup to restore."


def age_text(age: timedelta) -> str:
    """'3 days', '2 hours, 5 minutes' (Django's timesince, two units)."""
    now = datetime.now(UTC)
    return timesince(now - age, now, depth=2)


def _unless_read_only(read_only: bool, blocker: str | None) -> str:
    return domain.READ_ONLY_REASON if read_only else blocker or ""


def volume_actions(volume: Volume, newest: Backup | None, read_only: bool) -> list[Action]:
    """ "Back up now" (the create form with this volume chosen) and "Restore into this
    volume" (its backups below, each with its Restore link), with the reason when not possible."""
    create_url = f"{reverse('backup-create')}?{urlencode({'volume': volume.id})}"
    restore_blocker = (
        domain.restore_target_blocker(volume, newest) if newest else NO_BACKUP_TO_RESTORE
    )
    return [
        Action(
            "backup",
            "Back up now",
            create_url,
            _unless_read_only(read_only, domain.backup_blocker(volume)),
        ),
        Action(
            "restore-into",
            "Restore into this volume",
            "#volume-backups-title",
            _unless_read_only(read_only, restore_blocker),
        ),
    ]


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def volume_detail(request: HttpRequest, volume_id: Any) -> HttpResponse:
    client = request.console.client()
    try:
        volume = client.get_volume(str(volume_id))
    except NotFound:
        return TemplateResponse(
            request,
            "backups/volume_detail_missing.html",
            {"volume_id": str(volume_id)},
            status=404,
        )
    backups_page = client.list_backups(volume_id=volume.id, limit=API_MAX_LIMIT)
    snapshots = client.list_snapshots(volume_id=volume.id, limit=API_MAX_LIMIT).items
    backups = backups_page.items
    newest = domain.newest_available(backups)
    read_only = request.console.read_only
    context = {
        "volume": volume,
        "metadata": sorted(volume.metadata.items()),
        "snapshots": sorted(snapshots, key=lambda s: s.created_at, reverse=True),
        "chains": domain.backup_chains(backups),
        "backups_truncated": backups_page.next_marker is not None,
        "backups_limit": API_MAX_LIMIT,
        "newest": newest,
        "newest_age": age_text(domain.backup_age(newest, datetime.now(UTC))) if newest else "",
        "actions": volume_actions(volume, newest, read_only),
        "can_restore": not read_only,
        "read_only": read_only,
        "volume_backups_url": volume_backups_url(volume.id),
    }
    return TemplateResponse(request, "backups/volume_detail.html", context)


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def volume_list(request: HttpRequest) -> HttpResponse:
    """Volumes, filtered and in marker pages: one ``list_volumes`` call for the page and one
    ``list_backups(status="available")`` for the whole organisation (newest first) that gives
    every row its newest available backup, never one call per row. Beyond that call's
    ``API_MAX_LIMIT`` backups a volume whose newest available backup is older shows "older than
    the newest N backups" instead of an age."""
    query = VolumeQuery.from_request(request.GET)
    client = request.console.client()
    page = client.list_volumes(**query.api_params())
    available = client.list_backups(status="available", limit=API_MAX_LIMIT)
    newest = domain.newest_available_by_volume(available.items)
    now = datetime.now(UTC)
    rows = [
        {
            "volume": volume,
            "newest": newest.get(volume.id),
            "age": age_text(domain.backup_age(newest[volume.id], now))
            if volume.id in newest
            else "",
            "backups_url": volume_backups_url(volume.id),
        }
        for volume in page.items
    ]
    context = {
        "query": query,
        "rows": rows,
        "total": page.total,
        "first": query.offset + 1 if rows else 0,
        "last": query.offset + len(rows),
        "next_url": query.next_url(page.next_marker),
        "previous_url": query.previous_url(),
        "first_page_url": query.url(page=False),
        "ages_complete": available.next_marker is None,
        "ages_limit": API_MAX_LIMIT,
    }
    if request.htmx and not request.htmx.history_restore_request:
        response = TemplateResponse(request, "backups/volume_list.html#volume-table", context)
        return push_url(response, query.url())
    context["filters"] = query.filter_form()
    return TemplateResponse(request, "backups/volume_list.html", context)
