"""One search box for whatever a customer pastes (``backups.search_terms``): a backup or volume
ID or CRN goes straight to its page; a ByCloud request ID is found in the audit log entries this
session may see; anything else is a name prefix, answered with matching backups and volumes."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from audit import queries
from audit.models import AuditEntry, TargetKind
from backups.api import ByCloudClient, Forbidden, NotFound
from backups.search_terms import Kind, Term, parse
from backups.volume_names import cached_volume_directory
from console.decorators import signin_required

RESULT_LIMIT = 20
NOTHING_WITH_ID = "Nothing with this ID in your organisation."
#: Other credentials' entries with this request ID checked against ByCloud (one call each).
SHARED_CHECKS = 5


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


def _crn_region(crn: str) -> str:
    parts = crn.split(":")
    return parts[1].lower() if len(parts) > 2 else ""


def _lookup(client: ByCloudClient, kind: str, item_id: str) -> tuple[str, str] | None:
    """The page of ``item_id`` (a backup, a volume, or a snapshot's volume) and the CRN of what
    was found, or None when ByCloud knows nothing of it for this session."""
    kinds = [kind] if kind else ["backup", "volume"]
    for each in kinds:
        try:
            if each == "backup":
                backup = client.get_backup(item_id)
                return reverse("backup-detail", args=[backup.id]), backup.crn
            if each == "volume":
                volume = client.get_volume(item_id)
                return reverse("volume-detail", args=[volume.id]), volume.crn
            snapshot = client.get_snapshot(item_id)
            url = reverse("volume-detail", args=[snapshot.volume_id]) + "#snapshots-title"
            return url, snapshot.crn
        except (NotFound, Forbidden):
            continue
    return None


def _wrong_region(request: HttpRequest, region: str) -> dict[str, Any]:
    configured = settings.BYCLOUD_REGIONS.get(region)
    return {
        "wrong_region": configured["label"] if configured else region,
        "region_known": configured is not None,
        "session_region": request.console.region_label,
    }


def _exact(request: HttpRequest, term: Term) -> HttpResponse | dict[str, Any]:
    console = request.console
    other_region = term.kind is Kind.CRN and term.region != console.region
    if other_region and term.region in settings.BYCLOUD_REGIONS:  # one this console signs in to
        return _wrong_region(request, term.region)
    found = _lookup(console.client(), term.resource, term.id)
    if found is None:
        if other_region:
            return _wrong_region(request, term.region)
        return {"not_found": NOTHING_WITH_ID}
    url, crn = found
    if term.kind is Kind.CRN and _crn_region(crn) != term.region:
        return _wrong_region(request, term.region)
    return _go(request, url)


def find_request(request: HttpRequest, request_id: str) -> AuditEntry | None:
    """The newest audit entry with this request ID (ByCloud's or the console's) this session
    may see (``audit.queries``): its own, else another credential's on a target ByCloud lets
    this session read now. Never another organisation's."""
    console = request.console
    matching = AuditEntry.objects.filter(
        Q(bycloud_request_id=request_id) | Q(request_id=request_id)
    )
    mine = matching.filter(queries.own(console)).first()
    if mine is not None:
        return mine
    shared = matching.filter(target_confirmed=True, region=console.region).exclude(
        queries.own(console)
    )
    client = console.client()
    for entry in shared[:SHARED_CHECKS]:
        readable, _ = queries.can_read(client, console, entry.target_id)
        if readable == queries.TargetCheck.READABLE:
            return entry
    return None


def _request_id(request: HttpRequest, term: Term) -> dict[str, Any]:
    entry = find_request(request, term.text)
    if entry is None:
        return {"request_missing": True}
    target_url = ""
    if entry.target_id and entry.target_kind == TargetKind.BACKUP:
        target_url = reverse("backup-detail", args=[entry.target_id])
    elif entry.target_id and entry.target_kind == TargetKind.VOLUME:
        target_url = reverse("volume-detail", args=[entry.target_id])
    activity_url = f"{reverse('activity')}?{urlencode({'request_id': term.text})}"
    return {"entry": entry, "target_url": target_url, "activity_url": activity_url}


def _names(request: HttpRequest, term: Term) -> dict[str, Any]:
    prefix = term.text.rstrip("*")
    client = request.console.client()
    backups = client.list_backups(name=f"{prefix}*", limit=RESULT_LIMIT)
    volumes = client.list_volumes(name=f"{prefix}*", limit=RESULT_LIMIT)
    directory = cached_volume_directory(request)  # names only if known: no extra call
    return {
        "prefix": prefix,
        "backups": [(b, directory.label(b.volume_id)) for b in backups.items],
        "backups_total": backups.total,
        "volumes": volumes.items,
        "volumes_total": volumes.total,
        "all_backups_url": f"{reverse('backup-list')}?{urlencode({'name': prefix})}",
        "all_volumes_url": f"{reverse('volume-list')}?{urlencode({'name': prefix})}",
    }


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    term = parse(request.GET.get("q", ""))
    context: dict[str, Any] = {"term": term, "q": term.text}
    if term.is_exact:
        answer = _exact(request, term)
        if isinstance(answer, HttpResponse):
            return answer
        context.update(answer)
    elif term.kind is Kind.REQUEST_ID:
        context.update(_request_id(request, term))
    elif term.kind is Kind.NAME:
        context.update(_names(request, term))
    return TemplateResponse(request, "backups/search.html", context)
