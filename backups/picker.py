"""The create form's volume picker and what its options depend on (the chosen volume)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, QueryDict
from django.utils import timezone

from backups import domain
from backups.alerts import Alert, read_alert
from backups.api import ApiError, BackupStatus, ByCloudClient, NotFound, Unauthorized, Volume
from backups.forms import VolumeContext, is_uuid, suggested_name

PICKER_PAGE_SIZE = 10
SNAPSHOT_LIMIT = 100


@dataclass
class VolumeChoice:
    id: str
    volume: Volume | None = None

    @property
    def reason(self) -> str | None:
        return domain.backup_blocker(self.volume) if self.volume is not None else None

    @property
    def disabled(self) -> bool:
        return self.reason is not None


@dataclass
class Picker:
    search: str = ""
    selected: str = ""
    choices: list[VolumeChoice] = field(default_factory=list)
    next_marker: str | None = None
    total: int | None = None
    error: Alert | None = None
    appended: bool = False

    def more_query(self) -> str:
        query = QueryDict(mutable=True)
        query["volume_search"] = self.search
        query["marker"] = self.next_marker or ""
        if self.selected:
            query["volume"] = self.selected
        return query.urlencode()


def name_filter(search: str) -> str | None:
    search = search.strip()
    return f"{search}*" if search else None


def load_picker(
    request: HttpRequest,
    client: ByCloudClient,
    *,
    search: str,
    selected: str,
    selected_volume: Volume | None = None,
    marker: str | None = None,
    append: bool = False,
) -> Picker:
    """One page of volumes whose name starts with ``search``.

    A full list shows the selected volume on top even when another page or search hides it;
    an ``append``-ed page (htmx "More volumes") leaves it out, as it is already on screen.
    """
    picker = Picker(search=search, selected=selected, appended=append)
    try:
        page = client.list_volumes(limit=PICKER_PAGE_SIZE, marker=marker, name=name_filter(search))
    except Unauthorized:
        raise
    except ApiError as error:
        picker.error = read_alert(error)
        page = None
    if page is not None:
        picker.choices = [VolumeChoice(v.id, v) for v in page.items]
        picker.next_marker = page.next_marker if page.has_more else None
        picker.total = page.total
    listed = {choice.id for choice in picker.choices}
    if append:
        picker.choices = [c for c in picker.choices if c.id != selected]
    elif selected and selected not in listed and is_uuid(selected):
        picker.choices.insert(0, VolumeChoice(selected, selected_volume))
    return picker


def load_context(client: ByCloudClient, volume_id: str) -> VolumeContext:
    """The chosen volume, its available snapshots and whether it has an available backup.

    Raises ApiError (other than a 404 for the volume) for the caller to show.
    """
    if not is_uuid(volume_id):
        return VolumeContext(volume_id=volume_id)
    try:
        volume = client.get_volume(volume_id)
    except NotFound:
        return VolumeContext(volume_id=volume_id, missing=True)
    snapshots = client.list_snapshots(volume_id=volume_id, status="available", limit=SNAPSHOT_LIMIT)
    backups = client.list_backups(volume_id=volume_id, status="available", limit=1)
    return VolumeContext(
        volume_id=volume_id,
        volume=volume,
        snapshots=tuple(s for s in snapshots.items if s.volume_id == volume_id),
        has_available_backup=any(b.status is BackupStatus.AVAILABLE for b in backups.items),
        loaded=True,
    )


def load_context_or_alert(
    request: HttpRequest, client: ByCloudClient, volume_id: str
) -> tuple[VolumeContext, Alert | None]:
    try:
        return load_context(client, volume_id), None
    except Unauthorized:
        raise
    except ApiError as error:
        return VolumeContext(volume_id=volume_id), read_alert(error)


def with_suggested_name(data: QueryDict, context: VolumeContext) -> QueryDict:
    """Suggest ``<volume>-<date>`` as the name, unless the user typed one of their own."""
    if context.volume is None:
        return data
    suggestion = suggested_name(context.volume, timezone.now().date())
    name = data.get("name", "")
    if name == "" or name == data.get("name_suggested", ""):
        data = data.copy()
        data["name"] = suggestion
        data["name_suggested"] = suggestion
    return data
