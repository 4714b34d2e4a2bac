"""One search box for whatever a customer pastes (``backups.search_terms``), across every
configured region with the session's credential (``console.regions``): a backup or volume ID
goes straight to its page when it is in the session's region, else it is looked up in the other
regions, and a CRN in the region it names; what is found in another region opens through the
region switch. A ByCloud request ID is found in the audit log entries this session may see;
anything else is a name prefix, answered with matching backups and volumes of every region. A
region that refuses the credential or fails is a note, never the failure of the whole search;
the session's own region fails the page as any page does."""

from __future__ import annotations

from dataclasses import dataclass
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
from backups.api import Backup, ByCloudClient, Forbidden, NotFound, Page, Volume
from backups.search_terms import Kind, Term, parse
from backups.volume_names import VolumeDirectory, VolumeInfo, cached_volume_directory
from console.decorators import signin_required
from console.regions import RegionAnswer, ask_regions, is_multi_region

RESULT_LIMIT = 20
NOTHING_WITH_ID = "Nothing with this ID in your organisation."
#: Other credentials' entries with this request ID checked against ByCloud (one call each).
SHARED_CHECKS = 5


def _go(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else HttpResponseRedirect(url)


def _crn_region(crn: str) -> str:
    parts = crn.split(":")
    return parts[1].lower() if len(parts) > 2 else ""


@dataclass(frozen=True)
class Found:
    """What an ID names: its page, its CRN, and what a person reads of it."""

    url: str
    crn: str
    kind: str
    name: str


def _lookup(client: ByCloudClient, kind: str, item_id: str) -> Found | None:
    """What ``item_id`` is (a backup, a volume or a snapshot) and its page (a snapshot's is its
    volume's), or None when ByCloud knows nothing of it for this session in this region."""
    kinds = [kind] if kind else ["backup", "volume"]
    for each in kinds:
        try:
            if each == "backup":
                backup = client.get_backup(item_id)
                url = reverse("backup-detail", args=[backup.id])
                return Found(url, backup.crn, "Backup", backup.display_name)
            if each == "volume":
                volume = client.get_volume(item_id)
                url = reverse("volume-detail", args=[volume.id])
                return Found(url, volume.crn, "Volume", volume.display_name)
            snapshot = client.get_snapshot(item_id)
            url = reverse("volume-detail", args=[snapshot.volume_id]) + "#snapshots-title"
            return Found(url, snapshot.crn, "Snapshot", snapshot.display_name)
        except (NotFound, Forbidden):
            continue
    return None


def _other_regions(request: HttpRequest) -> list[str]:
    return [name for name in settings.BYCLOUD_REGIONS if name != request.console.region]


def _wrong_region(request: HttpRequest, region: str) -> dict[str, Any]:
    configured = settings.BYCLOUD_REGIONS.get(region)
    return {
        "wrong_region": configured["label"] if configured else region,
        "region_known": configured is not None,
        "session_region": request.console.region_label,
    }


def _elsewhere(
    request: HttpRequest, term: Term, regions: list[str], searched: list[str]
) -> dict[str, Any]:
    """An ID looked up in ``regions`` (the other regions, or the one its CRN names) after the
    regions ``searched`` (labels) had nothing: what was found opens through the region switch;
    a region that refused or failed is a note."""
    answers = ask_regions(
        request.console, regions, lambda client: _lookup(client, term.resource, term.id)
    )
    found = [answer for answer in answers if answer.value is not None]
    notes = [answer for answer in answers if answer.error is not None]
    if found:
        return {"found_elsewhere": found, "region_notes": notes}
    searched = [*searched, *(answer.label for answer in answers if answer.error is None)]
    return {"not_found": NOTHING_WITH_ID, "searched": searched, "region_notes": notes}


def _exact(request: HttpRequest, term: Term) -> HttpResponse | dict[str, Any]:
    console = request.console
    other_region = term.kind is Kind.CRN and term.region != console.region
    if other_region and term.region in settings.BYCLOUD_REGIONS:  # one this console signs in to
        return _elsewhere(request, term, [term.region], [])
    found = _lookup(console.client(), term.resource, term.id)
    if found is None:
        if other_region:
            return _wrong_region(request, term.region)
        others = _other_regions(request) if term.kind is Kind.ID else []
        return _elsewhere(request, term, others, [console.region_label])
    if term.kind is Kind.CRN and _crn_region(found.crn) != term.region:
        return _wrong_region(request, term.region)
    return _go(request, found.url)


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


Matches = tuple[Page[Backup], Page[Volume]]


@dataclass(frozen=True)
class Hit:
    """A backup or volume whose name matched, and the region that has it: a link in the
    session's region (``here``), a button through the region switch in another."""

    item: Backup | Volume
    url: str
    region: str
    region_label: str
    here: bool
    volume_name: str = ""  # a backup's volume


@dataclass(frozen=True)
class Elsewhere:
    """How many backups and volumes match in another region (its list opens there)."""

    region: str
    label: str
    backups_total: int
    volumes_total: int


def _matches(client: ByCloudClient, prefix: str) -> Matches:
    backups = client.list_backups(name=f"{prefix}*", limit=RESULT_LIMIT)
    volumes = client.list_volumes(name=f"{prefix}*", limit=RESULT_LIMIT)
    return backups, volumes


def _hits(
    answer: RegionAnswer[Matches], here: bool, directory: VolumeDirectory
) -> tuple[list[Hit], list[Hit]]:
    """The backups and volumes of one region's answer; a backup's volume named from
    ``directory`` (the session's cached one), or elsewhere from the volumes that matched."""
    assert answer.value is not None
    backups, volumes = answer.value
    if not here:
        directory = VolumeDirectory({v.id: VolumeInfo(v.id, v.name) for v in volumes.items})
    where = (answer.region, answer.label, here)
    backup_hits = [
        Hit(b, reverse("backup-detail", args=[b.id]), *where, directory.label(b.volume_id))
        for b in backups.items
    ]
    volume_hits = [Hit(v, reverse("volume-detail", args=[v.id]), *where) for v in volumes.items]
    return backup_hits, volume_hits


def _names(request: HttpRequest, term: Term) -> dict[str, Any]:
    prefix = term.text.rstrip("*")
    console = request.console
    regions = [console.region, *_other_regions(request)]
    mine, *others = ask_regions(console, regions, lambda client: _matches(client, prefix))
    if mine.error is not None:
        raise mine.error  # the session's own region: an error page, or sign-in again (401)
    assert mine.value is not None
    directory = cached_volume_directory(request)  # names only if known: no extra call
    backups, volumes = _hits(mine, True, directory)
    elsewhere = []
    for answer in others:
        if answer.value is not None:
            more_backups, more_volumes = _hits(answer, False, directory)
            backups += more_backups
            volumes += more_volumes
            totals = (answer.value[0].total, answer.value[1].total)
            elsewhere.append(Elsewhere(answer.region, answer.label, *totals))
    return {
        "prefix": prefix,
        "backups": backups,
        "backups_total": mine.value[0].total,
        "volumes": volumes,
        "volumes_total": mine.value[1].total,
        "all_backups_url": f"{reverse('backup-list')}?{urlencode({'name': prefix})}",
        "all_volumes_url": f"{reverse('volume-list')}?{urlencode({'name': prefix})}",
        "elsewhere": elsewhere,
        "region_notes": [answer for answer in others if answer.error is not None],
    }


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def search(request: HttpRequest) -> HttpResponse:
    term = parse(request.GET.get("q", ""))
    context: dict[str, Any] = {"term": term, "q": term.text, "multi_region": is_multi_region()}
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
