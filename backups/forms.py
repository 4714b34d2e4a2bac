"""Forms: the list's filters, create a backup (with its metadata formset) and restore one.

The create form's choices depend on the chosen volume (its snapshots, whether it has an
available backup, whether it is in use); the view loads that once into a
:class:`VolumeContext` and hands it to the form, which then validates against it. When the
context could not be loaded (the API is down), the form keeps whatever was submitted so that
nothing typed is ever lost, and leaves the final word to the API.

Long because it is the app's one forms module (Django's convention): the list's filters, the
create form and its metadata formset, and restore, each in its own section.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from django import forms
from django.core.validators import RegexValidator
from django.http import QueryDict

from backups import domain
from backups.api import ApiError, BadRequest, Conflict, NotFound, Snapshot, SnapshotStatus, Volume
from backups.volume_names import VolumeDirectory, short_id

# --- ids ------------------------------------------------------------------------------------


def canonical_uuid(value: object) -> str:
    """The canonical spelling (lower case, hyphenated) of a UUID in any spelling Python
    accepts (braces, no hyphens, upper case), or "" when ``value`` is not a UUID."""
    if not isinstance(value, str):
        return ""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return ""


def is_uuid(value: object) -> bool:
    """True only for a UUID already in its canonical 36-character spelling (any case).

    Stricter than ``bool(canonical_uuid(value))`` on purpose: callers put the value itself,
    not its normalised spelling, into the API's paths and the page's ids, so another spelling
    is refused rather than silently rewritten.
    """
    canonical = canonical_uuid(value)
    return bool(canonical) and isinstance(value, str) and canonical == value.lower()


# --- the list's filters ---------------------------------------------------------------------

NAME_MAX_LENGTH = 255
NAME_FILTER_HELP = "Matches names that start with this text."


class _SearchTextField(forms.CharField):
    """Stripped and cut to ``max_length`` (what a search box always did), never refused."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        return text[: self.max_length] if self.max_length else text


class _StatusField(forms.ChoiceField):
    """A status in any case (the API's are lower case)."""

    def to_python(self, value: Any) -> str:
        return super().to_python(value).strip().lower()


class _VolumeField(forms.ChoiceField):
    """Any volume id, in any spelling of a UUID. The choices only label the volumes of the
    directory: a volume it does not know (yet) is still a valid filter."""

    def to_python(self, value: Any) -> str:
        text = super().to_python(value)
        if text and not canonical_uuid(text):
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": text}
            )
        return canonical_uuid(text)

    def valid_value(self, value: Any) -> bool:
        return True  # to_python lets only volume ids through


class BackupFilterForm(forms.Form):
    """The list's filters. Bound to the URL to read them (:meth:`applied`); built from the
    applied values (``initial``) with the volume directory to show them."""

    name = _SearchTextField(
        label="Name starts with",
        required=False,
        max_length=NAME_MAX_LENGTH,
        help_text=NAME_FILTER_HELP,
        widget=forms.SearchInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    status = _StatusField(
        label="Status",
        required=False,
        choices=[("", "Any status")] + [(s.value, s.label) for s in domain.FILTERABLE_STATUSES],
    )
    volume = _VolumeField(label="Volume", required=False, choices=[("", "All volumes")])

    def __init__(self, *args: Any, volumes: VolumeDirectory | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "filter-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        if volumes is not None:
            self.fields["volume"].choices = [("", "All volumes"), *self._volume_choices(volumes)]

    def _volume_choices(self, directory: VolumeDirectory) -> list[tuple[str, str]]:
        choices = [(v.id, v.label) for v in directory.choices()]
        selected = self["volume"].value() or ""
        if selected and selected not in directory:
            choices.insert(0, (selected, f"{short_id(selected)} (unknown volume)"))
        return choices

    def applied(self) -> dict[str, str]:
        """The filters to apply: the cleaned values, a value that does not validate ignored
        (an unknown status, a volume that is not a UUID): never an error page."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}


# --- the chosen volume ----------------------------------------------------------------------


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

#: The characters of a key (its length is the field's ``max_length``).
METADATA_KEY_CHARS = re.compile(r"^[A-Za-z0-9 _:./-]+\Z")
#: The same rule for the browser (HTML pattern attributes are compiled with the ``v`` flag,
#: where ``/`` and ``-`` inside a class must be escaped).
METADATA_KEY_PATTERN = r"[A-Za-z0-9 _:.\/\-]{1,255}"
METADATA_MAX_LENGTH = 255
MAX_METADATA_ROWS = 50
#: Rows beyond this are not even read from a request (a bound on the work a POST can cause).
_PARSE_LIMIT = 500
_ROW_FIELD = re.compile(r"^metadata-(\d{1,4})-(key|value)$")
METADATA_PREFIX = "metadata"


class MetadataRowForm(forms.Form):
    """One key-value row. An entirely blank row is kept on screen but not sent."""

    key = forms.CharField(
        required=False,
        strip=False,
        max_length=METADATA_MAX_LENGTH,
        validators=[
            RegexValidator(
                METADATA_KEY_CHARS, "Use only letters, digits, spaces and - _ : . / in a key."
            )
        ],
        error_messages={
            "max_length": "The key is %(show_value)d characters long; at most %(limit_value)d."
        },
        widget=forms.TextInput(
            attrs={
                "required": True,
                "pattern": METADATA_KEY_PATTERN,
                "title": "1 to 255 letters, digits, spaces and - _ : . /",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )
    value = forms.CharField(
        required=False,
        strip=False,
        max_length=METADATA_MAX_LENGTH,
        error_messages={
            "max_length": "The value is %(show_value)d characters long; at most %(limit_value)d."
        },
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def __init__(self, *args: Any, number: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.number = number
        if number is not None:
            self.fields["key"].widget.attrs["aria-label"] = f"Key {number}"
            self.fields["value"].widget.attrs["aria-label"] = f"Value {number}"

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "key" not in self.errors and not cleaned.get("key") and self["value"].value():
            self.add_error("key", "Enter a key for this value, or remove the row.")
        return cleaned


class BaseMetadataFormSet(forms.BaseFormSet):
    """Rows posted as ``metadata-<n>-key`` / ``metadata-<n>-value``.

    Adding or removing a row (with or without JavaScript) re-renders every row as typed,
    renumbered from 0 and unchecked (:meth:`edited`), so removing one never loses or shuffles
    the others. A POST without the management form (an older page, a script) still works: see
    :meth:`from_post`.
    """

    @classmethod
    def get_default_prefix(cls) -> str:
        return METADATA_PREFIX

    @classmethod
    def from_post(cls, data: QueryDict | dict[str, Any]) -> BaseMetadataFormSet:
        """The formset of a POST; missing management data is derived from the rows present
        (TOTAL_FORMS from the highest row index, bounded like ``absolute_max``)."""
        total, initial = f"{METADATA_PREFIX}-TOTAL_FORMS", f"{METADATA_PREFIX}-INITIAL_FORMS"
        if total not in data or initial not in data:
            indices = [int(m.group(1)) for name in data if (m := _ROW_FIELD.match(name))]
            data = data.copy()
            if total not in data:
                data[total] = str(min(max(indices, default=-1) + 1, _PARSE_LIMIT))
            if initial not in data:
                data[initial] = "0"
        return cls(data)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"number": None if index is None else index + 1}

    @property
    def max_rows(self) -> int:
        return self.max_num

    @property
    def can_add(self) -> bool:
        return self.total_form_count() < self.max_num

    def typed_rows(self) -> list[dict[str, str]]:
        """Every row as typed, blank ones too, in order."""
        return [
            {"key": form["key"].value() or "", "value": form["value"].value() or ""}
            for form in self.forms
        ]

    def edited(self, *, add: bool = False, remove: int | None = None) -> BaseMetadataFormSet:
        """The rows as typed, unchecked, with one added or the one at ``remove`` left out."""
        rows = self.typed_rows()
        if remove is not None and 0 <= remove < len(rows):
            del rows[remove]
        too_many = add and len(rows) >= self.max_num
        if add and not too_many:
            rows.append({"key": "", "value": ""})
        edited = type(self)(initial=rows)
        if too_many:
            edited.add_non_form_error(f"At most {self.max_num} metadata entries are allowed.")
        return edited

    def full_clean(self) -> None:
        excess = self.total_form_count() - self.max_num
        self.error_messages: dict[str, str] = {
            **self.error_messages,
            "too_many_forms": (
                f"At most %(num)d metadata entries are allowed; remove {max(excess, 0)}."
            ),
        }
        super().full_clean()

    def clean(self) -> None:
        """A key used twice: an error on the later row, naming the earlier one."""
        seen: dict[str, int] = {}
        for number, form in enumerate(self.forms, start=1):
            key = getattr(form, "cleaned_data", {}).get("key")
            if not key:
                continue
            if key in seen:
                form.add_error("key", f"The key {key!r} is already used in row {seen[key]}.")
            else:
                seen[key] = number

    def add_non_form_error(self, message: str) -> None:
        """An error about the metadata as a whole (the API's, or too many rows)."""
        self.non_form_errors().append(message)

    def as_dict(self) -> dict[str, str]:
        """The rows to send (after validation): every row but the blank ones."""
        return {
            form.cleaned_data["key"]: form.cleaned_data["value"]
            for form in self.forms
            if getattr(form, "cleaned_data", {}).get("key")
        }


MetadataFormSet = forms.formset_factory(
    MetadataRowForm,
    formset=BaseMetadataFormSet,
    extra=0,
    max_num=MAX_METADATA_ROWS,
    validate_max=True,
    absolute_max=_PARSE_LIMIT,
)


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
    #: The one-time token of this form (``backups.idempotency``): checked by the view.
    token = forms.CharField(widget=forms.HiddenInput, required=False)
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
