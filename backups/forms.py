"""Forms of the actions: create a backup (with its metadata editor) and restore one.

The create form's choices depend on the chosen volume (its snapshots, whether it has an
available backup, whether it is in use); the view loads that once into a
:class:`VolumeContext` and hands it to the form, which then validates against it. When the
context could not be loaded (the API is down), the form keeps whatever was submitted so that
nothing typed is ever lost, and leaves the final word to the API.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from django import forms

from backups import domain
from backups.api import ApiError, BadRequest, Conflict, NotFound, Snapshot, SnapshotStatus, Volume

# --- the chosen volume ----------------------------------------------------------------------


def is_uuid(value: object) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def suggested_name(volume: Volume, today: date) -> str:
    return f"{volume.display_name}-{today.isoformat()}"[:255]


@dataclass(frozen=True)
class VolumeContext:
    """What the options of the create form depend on, for one volume.

    ``loaded`` is False when no volume is chosen or the API could not be asked; then nothing
    is disabled and the API has the final word.
    """

    volume_id: str = ""
    volume: Volume | None = None
    snapshots: tuple[Snapshot, ...] = ()
    has_available_backup: bool = False
    loaded: bool = False
    missing: bool = False  # the API answered 404 for this volume

    @property
    def in_use(self) -> bool:
        return self.volume is not None and domain.needs_force(self.volume)


# --- the metadata editor --------------------------------------------------------------------

METADATA_KEY_RE = re.compile(r"^[A-Za-z0-9 _:./-]{1,255}$")
#: The same rule for the browser (HTML pattern attributes are compiled with the ``v`` flag,
#: where ``/`` and ``-`` inside a class must be escaped).
METADATA_KEY_PATTERN = r"[A-Za-z0-9 _:.\/\-]{1,255}"
METADATA_MAX_LENGTH = 255
MAX_METADATA_ROWS = 50
#: Rows beyond this are not even read from a request (a bound on the work a POST can cause).
_PARSE_LIMIT = 500
_ROW_FIELD = re.compile(r"^metadata-(\d{1,4})-(key|value)$")


@dataclass
class MetadataRow:
    key: str = ""
    value: str = ""
    key_errors: list[str] = field(default_factory=list)
    value_errors: list[str] = field(default_factory=list)
    index: int = 0

    @property
    def number(self) -> int:
        return self.index + 1

    @property
    def is_blank(self) -> bool:
        return self.key == "" and self.value == ""

    @property
    def has_errors(self) -> bool:
        return bool(self.key_errors or self.value_errors)


class MetadataEditor:
    """Key-value rows posted as ``metadata-<n>-key`` / ``metadata-<n>-value``.

    Rows are read in index order and renumbered from 0 on every render, so removing one never
    loses or shuffles the others. Entirely blank rows are kept on screen but not sent.
    """

    key_pattern = METADATA_KEY_PATTERN
    max_length = METADATA_MAX_LENGTH
    max_rows = MAX_METADATA_ROWS

    def __init__(self, rows: list[MetadataRow] | None = None) -> None:
        self.rows: list[MetadataRow] = rows or []
        self.errors: list[str] = []
        self._renumber()

    @classmethod
    def from_data(cls, data: Mapping[str, object]) -> MetadataEditor:
        indices: set[int] = set()
        for name in data:
            match = _ROW_FIELD.match(name)
            if match:
                indices.add(int(match.group(1)))
        rows = []
        for index in sorted(indices)[:_PARSE_LIMIT]:
            key = data.get(f"metadata-{index}-key", "")
            value = data.get(f"metadata-{index}-value", "")
            rows.append(MetadataRow(key=str(key or ""), value=str(value or "")))
        return cls(rows)

    def _renumber(self) -> None:
        for index, row in enumerate(self.rows):
            row.index = index

    @property
    def can_add(self) -> bool:
        return len(self.rows) < self.max_rows

    def add_row(self) -> None:
        if self.can_add:
            self.rows.append(MetadataRow())
            self._renumber()
        else:
            self.errors.append(f"At most {self.max_rows} metadata entries are allowed.")

    def remove_row(self, index: int) -> None:
        if 0 <= index < len(self.rows):
            del self.rows[index]
            self._renumber()

    def is_valid(self) -> bool:
        self.errors = []
        seen: dict[str, int] = {}
        for row in self.rows:
            row.key_errors, row.value_errors = [], []
            if row.is_blank:
                continue
            if row.key == "":
                row.key_errors.append("Enter a key for this value, or remove the row.")
            elif len(row.key) > self.max_length:
                row.key_errors.append(
                    f"The key is {len(row.key)} characters long; at most {self.max_length}."
                )
            elif not METADATA_KEY_RE.match(row.key):
                row.key_errors.append("Use only letters, digits, spaces and - _ : . / in a key.")
            elif row.key in seen:
                row.key_errors.append(
                    f"The key {row.key!r} is already used in row {seen[row.key]}."
                )
            else:
                seen[row.key] = row.number
            if len(row.value) > self.max_length:
                row.value_errors.append(
                    f"The value is {len(row.value)} characters long; at most {self.max_length}."
                )
        if len(self.rows) > self.max_rows:
            self.errors.append(
                f"At most {self.max_rows} metadata entries are allowed; remove "
                f"{len(self.rows) - self.max_rows}."
            )
        return not self.errors and not any(row.has_errors for row in self.rows)

    def as_dict(self) -> dict[str, str]:
        return {row.key: row.value for row in self.rows if not row.is_blank}

    def add_api_error(self, message: str) -> None:
        self.errors.append(message)


# --- create a backup ------------------------------------------------------------------------

NO_SNAPSHOT_LABEL = "None — back up the volume itself"
#: The create request's fields as the contract names them, and the form's field for each.
API_FIELDS = {
    "volume_id": "volume",
    "snapshot_id": "snapshot",
    "name": "name",
    "description": "description",
    "container": "container",
    "incremental": "incremental",
    "force": "force",
    "metadata": "metadata",
}
_FIELD_IN_ERROR = re.compile(r"\bField '([a-z_]+)'")


class BackupCreateForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, required=False)
    volume = forms.CharField(label="Volume", required=False)
    volume_search = forms.CharField(
        label="Search volumes by name", required=False, max_length=255, strip=False
    )
    snapshot = forms.ChoiceField(
        label="Snapshot",
        required=False,
        choices=[("", NO_SNAPSHOT_LABEL)],
        help_text="Back up one of the volume's available snapshots instead of the volume.",
        error_messages={"invalid_choice": "Choose one of this volume's available snapshots."},
    )
    incremental = forms.BooleanField(label="Incremental", required=False)
    force = forms.BooleanField(label="Force", required=False)
    name = forms.CharField(label="Name", required=False, max_length=255)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": 255}),
    )
    container = forms.CharField(
        label="Container",
        required=False,
        max_length=255,
        help_text="The object-storage container to keep the backup in; ByCloud's default if empty.",
    )
    name_suggested = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: object, context: VolumeContext, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.context = context
        self._configure_options()
        # console.js replaces the name with a new suggestion only if it still is the old one.
        self.fields["name"].widget.attrs["data-suggested"] = self["name_suggested"].value() or ""

    def _configure_options(self) -> None:
        ctx = self.context
        snapshot = self.fields["snapshot"]
        incremental = self.fields["incremental"]
        force = self.fields["force"]
        if ctx.loaded:
            newest_first = sorted(ctx.snapshots, key=lambda s: (s.created_at, s.id), reverse=True)
            snapshot.choices = [("", NO_SNAPSHOT_LABEL)] + [
                (s.id, f"{s.display_name} — {s.size:,} GB, {s.created_at:%Y-%m-%d %H:%M} UTC")
                for s in newest_first
                if s.status is SnapshotStatus.AVAILABLE
            ]
            if len(snapshot.choices) == 1:
                snapshot.help_text = "This volume has no available snapshot."
            if ctx.has_available_backup:
                incremental.help_text = (
                    "Only the changes since the newest available backup of this volume are "
                    "saved; that backup becomes its parent."
                )
            else:
                incremental.disabled = True
                incremental.help_text = domain.FIRST_BACKUP_IS_FULL
            if ctx.in_use:
                force.help_text = (
                    "This volume is attached to an instance. Tick Force to take a "
                    "crash-consistent backup while it is in use: data still in flight may be "
                    "lost. Not needed when backing up a snapshot."
                )
            else:
                force.disabled = True
                force.help_text = (
                    "Not needed: Force is only for a volume that is attached (in use)."
                )
        else:
            # Unknown volume state: keep what was submitted and let the API decide.
            submitted = self.data.get("snapshot") if self.is_bound else None
            if submitted:
                snapshot.choices = [("", NO_SNAPSHOT_LABEL), (submitted, submitted)]
            if not ctx.volume_id:
                snapshot.disabled = incremental.disabled = force.disabled = True
                snapshot.help_text = "Choose a volume first."
                incremental.help_text = "Choose a volume first."
                force.help_text = "Choose a volume first."
            else:
                incremental.help_text = (
                    "Saves only the changes since the newest available backup of the volume."
                )
                force.help_text = (
                    "Needed to back up a volume that is attached (in use); data in flight "
                    "may be lost."
                )

    def clean_volume(self) -> str:
        value = (self.cleaned_data.get("volume") or "").strip()
        if not value:
            raise forms.ValidationError("Choose the volume to back up.")
        if not is_uuid(value):
            raise forms.ValidationError("Choose one of the listed volumes.")
        ctx = self.context
        if ctx.missing:
            raise forms.ValidationError(
                "This volume no longer exists (or belongs to another organisation)."
            )
        return value

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        ctx = self.context
        if not ctx.loaded or ctx.volume is None or "volume" not in cleaned:
            return cleaned
        snapshot_id = cleaned.get("snapshot") or ""
        reason = domain.backup_blocker(ctx.volume)
        if reason and not snapshot_id:
            self.add_error("volume", reason)
        if ctx.in_use and not snapshot_id and not cleaned.get("force"):
            self.add_error(
                "force",
                "This volume is in use: tick Force to back it up anyway, or choose a snapshot.",
            )
        return cleaned

    def field_for_api_error(self, error: ApiError) -> str | None:
        """The field a refused create is about: the one the error's details name (the
        contract's "Field '<name>'"), else the one the contract's create rules point at."""
        named = _FIELD_IN_ERROR.search(f"{error.details or ''} {error.message}")
        if named:
            return API_FIELDS.get(named.group(1))
        data = self.cleaned_data
        from_snapshot = bool(data.get("snapshot"))
        if isinstance(error, NotFound | Conflict | BadRequest) and from_snapshot:
            return "snapshot"  # exists (404), is available (409), is of this volume (400)
        if isinstance(error, NotFound):
            return "volume"
        if isinstance(error, Conflict):
            return "force" if self.context.in_use or data.get("force") else "volume"
        if isinstance(error, BadRequest) and data.get("incremental"):
            return "incremental"  # the rule that needs an available backup of the volume
        return None

    def api_arguments(self, metadata: dict[str, str]) -> dict[str, object]:
        """Exactly the documented fields, empty optionals left out."""
        data = self.cleaned_data
        arguments: dict[str, object] = {"volume_id": data["volume"]}
        for name in ("name", "description", "container"):
            if data.get(name):
                arguments[name] = data[name]
        if data.get("incremental"):
            arguments["incremental"] = True
        if data.get("force"):  # disabled (so False) unless the volume is in use or unknown
            arguments["force"] = True
        if data.get("snapshot"):
            arguments["snapshot_id"] = data["snapshot"]
        if metadata:
            arguments["metadata"] = metadata
        return arguments


# --- restore a backup -----------------------------------------------------------------------

TARGET_NEW = "new"
TARGET_EXISTING = "existing"


class RestoreForm(forms.Form):
    target = forms.ChoiceField(
        label="Restore to",
        choices=[(TARGET_NEW, "A new volume"), (TARGET_EXISTING, "An existing volume")],
        initial=TARGET_NEW,
        widget=forms.RadioSelect,
    )
    new_name = forms.CharField(
        label="Name of the new volume",
        required=False,
        max_length=255,
        help_text="ByCloud names it restore-<backup id> if you leave this empty.",
    )
    volume = forms.ChoiceField(
        label="Existing volume",
        required=False,
        choices=[],
        error_messages={
            "invalid_choice": "Choose one of the listed volumes: available and large enough."
        },
    )

    def __init__(self, *args: object, eligible: list[Volume], backup_size: int, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.eligible = eligible
        self.fields["volume"].choices = [("", "Choose a volume…")] + [
            (v.id, f"{v.display_name} — {v.size:,} GB") for v in eligible
        ]
        if eligible:
            self.fields["volume"].help_text = (
                f"Only available volumes of at least {backup_size:,} GB are listed. "
                "Restoring to an existing volume overwrites all of its data."
            )
        else:
            self.fields[
                "volume"
            ].help_text = (
                f"No available volume of at least {backup_size:,} GB: restore to a new volume."
            )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        wants_existing = cleaned.get("target") == TARGET_EXISTING
        if wants_existing and not cleaned.get("volume") and "volume" not in self.errors:
            self.add_error("volume", "Choose the volume to restore to.")
        return cleaned

    def api_arguments(self) -> dict[str, str]:
        data = self.cleaned_data
        if data["target"] == TARGET_EXISTING:
            return {"volume_id": data["volume"]}
        return {"name": data["new_name"]} if data.get("new_name") else {}
