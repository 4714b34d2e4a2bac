"""Plain, frozen data returned by the API client.

Each model is built by ``from_api(dict)``, which reads only the fields documented in
shared/bycloud-api/openapi.yaml, ignores any other field and tolerates missing optional ones.
A missing required field or a wrongly typed value raises ``KeyError``/``TypeError``/
``ValueError``; the client turns those into :class:`~backups.api.errors.UnexpectedResponse`.
Models hold no reference to the client and load nothing lazily.

Long because it holds one tolerant status enum and one frozen dataclass per resource of the
contract, with the parsing helpers they share; each is short, and together they are the API's
whole vocabulary in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Generic, TypeVar, overload

__all__ = [
    "Attachment",
    "Backup",
    "BackupStatus",
    "Page",
    "RateLimit",
    "RestoreResult",
    "Snapshot",
    "SnapshotStatus",
    "Volume",
    "VolumeStatus",
    "parse_datetime",
]

T = TypeVar("T")

_EMPTY: Mapping[str, str] = MappingProxyType({})

# --- caps: what one resource may cost in memory, whatever a tenant stores ------------------
# The contract bounds neither the number of metadata entries nor their size, and a resource
# is kept in shared poll answers and caches; the console keeps at most this much of it.
#: Metadata entries kept per resource (the first ones, in the API's order).
METADATA_MAX_ENTRIES = 100
#: UTF-8 bytes of metadata (keys + values) kept per resource.
METADATA_MAX_BYTES = 16 * 1024
#: Characters kept of a name (the contract says ≤ 255), a description and other short texts.
NAME_MAX_CHARS = 255
TEXT_MAX_CHARS = 1024
#: Attachments kept per volume (a multi-attach volume has a few; the contract sets no bound).
ATTACHMENTS_MAX = 16
ELLIPSIS = "…"


class _TolerantStatus(StrEnum):
    """A status enum whose unknown values become ``UNKNOWN`` instead of raising."""

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            for member in cls:
                if member.value == lowered:
                    return member
        return cls("unknown")

    @classmethod
    def parse(cls, value: object) -> Any:
        return cls(value) if isinstance(value, str) else cls("unknown")

    @property
    def label(self) -> str:
        """Label: ``backing-up`` -> ``Backing up``, ``error_deleting`` -> ``Error deleting``."""
        text = self.value.replace("-", " ").replace("_", " ")
        return text[:1].upper() + text[1:]


class BackupStatus(_TolerantStatus):
    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    ERROR = "error"
    RESTORING = "restoring"
    ERROR_DELETING = "error_deleting"
    UNKNOWN = "unknown"

    @property
    def is_terminal(self) -> bool:
        return self in _BACKUP_TERMINAL

    @property
    def is_transitional(self) -> bool:
        return self in _BACKUP_TRANSITIONAL


_BACKUP_TERMINAL = frozenset(
    {BackupStatus.AVAILABLE, BackupStatus.ERROR, BackupStatus.ERROR_DELETING}
)
_BACKUP_TRANSITIONAL = frozenset(
    {BackupStatus.CREATING, BackupStatus.DELETING, BackupStatus.RESTORING}
)


class VolumeStatus(_TolerantStatus):
    CREATING = "creating"
    AVAILABLE = "available"
    IN_USE = "in-use"
    BACKING_UP = "backing-up"
    RESTORING_BACKUP = "restoring-backup"
    DELETING = "deleting"
    ERROR = "error"
    ERROR_RESTORING = "error_restoring"
    UNKNOWN = "unknown"

    @property
    def is_transitional(self) -> bool:
        return self in _VOLUME_TRANSITIONAL


_VOLUME_TRANSITIONAL = frozenset(
    {
        VolumeStatus.CREATING,
        VolumeStatus.BACKING_UP,
        VolumeStatus.RESTORING_BACKUP,
        VolumeStatus.DELETING,
    }
)


class SnapshotStatus(_TolerantStatus):
    CREATING = "creating"
    AVAILABLE = "available"
    BACKING_UP = "backing-up"
    DELETING = "deleting"
    ERROR = "error"
    UNKNOWN = "unknown"

    @property
    def is_transitional(self) -> bool:
        return self in _SNAPSHOT_TRANSITIONAL


_SNAPSHOT_TRANSITIONAL = frozenset(
    {SnapshotStatus.CREATING, SnapshotStatus.BACKING_UP, SnapshotStatus.DELETING}
)


# --- field readers -------------------------------------------------------------------------


def parse_datetime(value: object) -> datetime:
    """An ISO 8601 string (``Z`` accepted) as an aware UTC datetime; naive means UTC."""
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 string, got {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _opt_datetime(data: Mapping[str, Any], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        return None  # an optional timestamp we cannot read is not worth failing a page for


def _str(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key}: expected a string")
    return value


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{key}: expected a string or null")
    return value


@overload
def _capped(value: str, limit: int) -> str: ...
@overload
def _capped(value: None, limit: int) -> None: ...
@overload
def _capped(value: str | None, limit: int) -> str | None: ...
def _capped(value: str | None, limit: int) -> str | None:
    """``value`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + ELLIPSIS


def _int(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key}: expected an integer")
    return value


def _bool(data: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TypeError(f"{key}: expected a boolean")
    return value


def _metadata(data: Mapping[str, Any]) -> tuple[Mapping[str, str], int]:
    """The first entries within ``METADATA_MAX_ENTRIES`` and ``METADATA_MAX_BYTES``, and how
    many entries were left out (0 when all were kept)."""
    value = data.get("metadata")
    if value is None:
        return _EMPTY, 0
    if not isinstance(value, Mapping):
        raise TypeError("metadata: expected an object")
    kept: dict[str, str] = {}
    budget = METADATA_MAX_BYTES
    for k, v in value.items():
        if len(kept) >= METADATA_MAX_ENTRIES:
            break
        key, text = str(k), "" if v is None else str(v)
        cost = len(key.encode()) + len(text.encode())
        if cost > budget:
            break  # the first entries only: never a later, smaller one instead
        budget -= cost
        kept[key] = text
    return MappingProxyType(kept), len(value) - len(kept)


def _freeze_metadata(value: Mapping[str, str] | None) -> Mapping[str, str]:
    if value is None:
        return _EMPTY
    if isinstance(value, MappingProxyType):
        return value
    return MappingProxyType(dict(value))


# --- models --------------------------------------------------------------------------------


class _Resource:
    """What volumes, snapshots and backups have in common."""

    __slots__ = ()
    id: str
    name: str | None
    status: StrEnum
    status_raw: str
    metadata: Mapping[str, str]
    metadata_truncated: int

    @property
    def display_name(self) -> str:
        return self.name or self.id

    @property
    def metadata_total(self) -> int:
        """How many metadata entries the API sent (``metadata`` holds the first ones)."""
        return len(self.metadata) + self.metadata_truncated

    def __reduce__(self) -> tuple[Any, ...]:
        """Picklable (for a shared cache) although ``metadata`` is a read-only mapping."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]
        values["metadata"] = dict(self.metadata)
        return (_rebuild, (type(self), values))

    def _normalise(self) -> None:
        object.__setattr__(self, "metadata", _freeze_metadata(self.metadata))
        if not self.status_raw:
            object.__setattr__(self, "status_raw", str(self.status))


def _rebuild(cls: type[T], values: dict[str, Any]) -> T:
    return cls(**values)


def _resource_fields(data: Mapping[str, Any], status_type: Any) -> dict[str, Any]:
    """The fields every resource object of the API carries, parsed (texts capped)."""
    metadata, truncated = _metadata(data)
    return {
        "id": _capped(_str(data, "id"), NAME_MAX_CHARS),
        "crn": _capped(_str(data, "crn"), TEXT_MAX_CHARS),
        "name": _capped(_opt_str(data, "name"), NAME_MAX_CHARS),
        "description": _capped(_opt_str(data, "description"), TEXT_MAX_CHARS),
        "status": status_type.parse(data.get("status")),
        "status_raw": _capped(str(data.get("status") or ""), 64),
        "metadata": metadata,
        "metadata_truncated": truncated,
        "created_at": parse_datetime(data["created_at"]),
        "updated_at": parse_datetime(data["updated_at"]),
    }


@dataclass(frozen=True, slots=True)
class Attachment:
    id: str
    instance_id: str
    device: str | None = None
    attached_at: datetime | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Attachment:
        return cls(
            id=_capped(_str(data, "id"), NAME_MAX_CHARS),
            instance_id=_capped(_str(data, "instance_id"), NAME_MAX_CHARS),
            device=_capped(_opt_str(data, "device"), NAME_MAX_CHARS),
            attached_at=_opt_datetime(data, "attached_at"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume(_Resource):
    id: str
    crn: str
    status: VolumeStatus
    size: int
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    description: str | None = None
    volume_type: str | None = None
    bootable: bool = False
    encrypted: bool = False
    multiattach: bool = False
    source_volume_id: str | None = None
    snapshot_id: str | None = None
    image_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    #: How many metadata entries beyond the caps were left out (see ``METADATA_MAX_*``).
    metadata_truncated: int = 0
    #: The status string exactly as the API sent it (useful when ``status`` is UNKNOWN).
    status_raw: str = ""

    def __post_init__(self) -> None:
        self._normalise()
        object.__setattr__(self, "attachments", tuple(self.attachments))

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Volume:
        attachments = data.get("attachments") or ()
        if not isinstance(attachments, list | tuple):
            raise TypeError("attachments: expected an array")
        return cls(
            **_resource_fields(data, VolumeStatus),
            size=_int(data, "size"),
            volume_type=_capped(_opt_str(data, "volume_type"), NAME_MAX_CHARS),
            bootable=_bool(data, "bootable"),
            encrypted=_bool(data, "encrypted"),
            multiattach=_bool(data, "multiattach"),
            source_volume_id=_opt_str(data, "source_volume_id"),
            snapshot_id=_opt_str(data, "snapshot_id"),
            image_id=_opt_str(data, "image_id"),
            attachments=tuple(Attachment.from_api(a) for a in attachments[:ATTACHMENTS_MAX]),
        )

    @property
    def is_in_use(self) -> bool:
        return self.status is VolumeStatus.IN_USE or bool(self.attachments)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snapshot(_Resource):
    id: str
    crn: str
    status: SnapshotStatus
    volume_id: str
    size: int
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    description: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    #: How many metadata entries beyond the caps were left out (see ``METADATA_MAX_*``).
    metadata_truncated: int = 0
    status_raw: str = ""

    def __post_init__(self) -> None:
        self._normalise()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Snapshot:
        return cls(
            **_resource_fields(data, SnapshotStatus),
            volume_id=_str(data, "volume_id"),
            size=_int(data, "size"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Backup(_Resource):
    id: str
    crn: str
    status: BackupStatus
    volume_id: str
    size: int
    created_at: datetime
    updated_at: datetime
    name: str | None = None
    description: str | None = None
    container: str | None = None
    is_incremental: bool = False
    has_dependent_backups: bool = False
    snapshot_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY, hash=False)
    #: How many metadata entries beyond the caps were left out (see ``METADATA_MAX_*``).
    metadata_truncated: int = 0
    fail_reason: str | None = None
    status_raw: str = ""

    def __post_init__(self) -> None:
        self._normalise()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Backup:
        return cls(
            **_resource_fields(data, BackupStatus),
            volume_id=_str(data, "volume_id"),
            size=_int(data, "size"),
            container=_capped(_opt_str(data, "container"), NAME_MAX_CHARS),
            is_incremental=_bool(data, "is_incremental"),
            has_dependent_backups=_bool(data, "has_dependent_backups"),
            snapshot_id=_opt_str(data, "snapshot_id"),
            fail_reason=_capped(_opt_str(data, "fail_reason"), TEXT_MAX_CHARS),
        )

    def row_view(self) -> Backup:
        """Only what a list row shows and its rules read (id, name, status, volume, size,
        mode, dependants, container, times): no metadata, description, failure or CRN. What the
        list's shared poll answers keep, so they weigh ~1 KiB a row whatever a tenant stores."""
        return replace(
            self,
            crn="",
            description=None,
            metadata=_EMPTY,
            metadata_truncated=0,
            fail_reason=None,
            snapshot_id=None,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def is_transitional(self) -> bool:
        return self.status.is_transitional


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list. ``next_marker`` is the ``marker`` to ask for the next page."""

    items: tuple[T, ...]
    total: int
    limit: int
    next_marker: str | None = None
    has_more: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    @classmethod
    def from_api(
        cls, data: Mapping[str, Any], key: str, parse_item: Callable[[Mapping[str, Any]], T]
    ) -> Page[T]:
        raw_items = data[key]
        if not isinstance(raw_items, list):
            raise TypeError(f"{key}: expected an array")
        meta = data["meta"]
        if not isinstance(meta, Mapping):
            raise TypeError("meta: expected an object")
        items = tuple(parse_item(item) for item in raw_items)
        next_marker = _opt_str(meta, "marker")
        return cls(
            items=items,
            total=_int(meta, "total"),
            limit=_int(meta, "limit") if meta.get("limit") is not None else len(items),
            next_marker=next_marker,
            has_more=_bool(meta, "has_more", default=next_marker is not None),
        )

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class RestoreResult:
    volume_id: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> RestoreResult:
        return cls(volume_id=_str(data, "volume_id"))


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The ``X-RateLimit-*`` headers of the last answer; ``reset`` is a Unix time."""

    limit: int
    remaining: int
    reset: int

    @property
    def reset_at(self) -> datetime:
        return datetime.fromtimestamp(self.reset, tz=UTC)

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimit | None:
        try:
            return cls(
                limit=int(headers["X-RateLimit-Limit"]),
                remaining=int(headers["X-RateLimit-Remaining"]),
                reset=int(float(headers["X-RateLimit-Reset"])),
            )
        except (KeyError, TypeError, ValueError):
            return None
