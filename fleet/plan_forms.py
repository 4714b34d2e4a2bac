"""The plan form: name, region, which volumes, attached volumes, the metadata stamped on its
backups, and the service-account key it acts with (its rules: ``fleet.plan_rule_forms``).

Every rule a value must follow is checked here, with the sentence shown next to its field;
a schedule's own rules are ``fleet.schedule.Schedule.problems``, a metadata entry's are the
create form's (``backups.forms.MetadataRowForm``). The key's secret is a password field that is
never rendered back: after an error it must be typed again (the page says so).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from backups.api import Volume
from backups.forms import MAX_METADATA_ROWS, MetadataRowForm, canonical_uuid, is_uuid
from fleet.models import AttachedPolicy, Plan

#: Metadata keys the console keeps for itself (a plan's and a job's stamps).
RESERVED_PREFIX = "bycloud-ui:"
KEY_ID_MAX_LENGTH = 128
SECRET_MAX_LENGTH = 1024
SELECTION_REQUIRED = (
    "Choose which volumes the plan covers: tick volumes, enter metadata, or a name prefix "
    "(at least one)."
)
SECRET_NOT_KEPT = "The secret is never shown again: type it again."  # noqa: S105 (a sentence)


# --- key=value lines ------------------------------------------------------------------------


def pairs_text(pairs: Mapping[str, str]) -> str:
    """The text of a ``key=value`` lines field for these entries."""
    return "\n".join(f"{k}={v}" for k, v in pairs.items())


def parse_pairs(text: str, *, reserved_ok: bool = True) -> tuple[dict[str, str], list[str]]:
    """``key=value`` lines as a dict, with a sentence per line that breaks the create form's
    metadata rules (blank lines are ignored; spaces around ``=`` are not part of the entry)."""
    pairs: dict[str, str] = {}
    lines: dict[str, int] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        key, sep, value = raw.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            errors.append(f"Line {number}: write key=value, for example environment=production.")
            continue
        row = MetadataRowForm({"key": key, "value": value})
        if not row.is_valid():
            errors.extend(f"Line {number}: {m}" for ms in row.errors.values() for m in ms)
        elif not reserved_ok and key.startswith(RESERVED_PREFIX):
            errors.append(f"Line {number}: keys starting with {RESERVED_PREFIX} are the console's.")
        elif key in lines:
            errors.append(f"Line {number}: the key {key} is already on line {lines[key]}.")
        else:
            pairs[key], lines[key] = value, number
    if len(pairs) > MAX_METADATA_ROWS:
        errors.append(f"At most {MAX_METADATA_ROWS} entries ({len(pairs)} given).")
    return pairs, errors


class PairsField(forms.CharField):
    """A textarea of ``key=value`` lines; ``clean`` gives the dict."""

    def __init__(self, *, reserved_ok: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20_000)
        kwargs.setdefault(
            "widget",
            forms.Textarea(attrs={"rows": 3, "autocomplete": "off", "spellcheck": "false"}),
        )
        super().__init__(**kwargs)
        self.reserved_ok = reserved_ok

    def clean(self, value: Any) -> dict[str, str]:  # type: ignore[override]
        text = super().clean(value)
        pairs, errors = parse_pairs(text, reserved_ok=self.reserved_ok)
        if errors:
            raise forms.ValidationError(errors)
        return pairs


def _count_text(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'} {'is' if count == 1 else 'are'}"


# --- the plan -------------------------------------------------------------------------------


def region_choices() -> list[tuple[str, str]]:
    return [(k, str(v.get("label") or k)) for k, v in settings.BYCLOUD_REGIONS.items()]


def volume_choices(volumes: Iterable[Volume], chosen: Iterable[str]) -> list[tuple[str, str]]:
    """The region's volumes, then any chosen volume not among them (kept, named by its ID)."""
    choices = [(v.id, f"{v.display_name} ({v.status_raw or v.status.value})") for v in volumes]
    listed = {value for value, _ in choices}
    for volume_id in chosen:
        if is_uuid(volume_id) and canonical_uuid(volume_id) not in listed:
            choices.append((canonical_uuid(volume_id), f"{volume_id} (not listed)"))
            listed.add(canonical_uuid(volume_id))
    return choices


class PlanForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        error_messages={"required": "Enter a name for the plan (it is stamped on its backups)."},
    )
    region = forms.ChoiceField(label="Region")
    volume_ids = forms.MultipleChoiceField(
        label="Volumes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="These volumes, whatever their metadata or name.",
    )
    metadata_match = PairsField(
        label="Volumes whose metadata has",
        help_text="One key=value a line; a volume matches when it has every line, "
        "e.g. environment=production.",
    )
    name_prefix = forms.CharField(
        label="Volumes whose name starts with",
        required=False,
        max_length=255,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="e.g. web- (evaluated at each run, so new volumes join).",
    )
    attached = forms.ChoiceField(
        label="Volumes attached to an instance",
        choices=AttachedPolicy.choices,
        initial=AttachedPolicy.SKIP,
        widget=forms.RadioSelect,
        help_text="A backup of an attached volume needs force and is crash-consistent.",
    )
    stamp_metadata = PairsField(
        label="Extra metadata on each backup",
        reserved_ok=False,
        help_text="One key=value a line. Every backup the plan makes also gets the plan's ID "
        "(bycloud-ui:plan) and name (bycloud-ui:plan-name).",
    )
    key_id = forms.CharField(
        label="API key ID",
        max_length=KEY_ID_MAX_LENGTH,
        error_messages={"required": "Enter the API key ID."},
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    key_secret = forms.CharField(
        label="API key secret",
        required=False,
        max_length=SECRET_MAX_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    def __init__(
        self,
        *args: Any,
        volumes: Sequence[Volume] = (),
        complete: bool = False,
        plan: Plan | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("auto_id", "plan-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.plan = plan
        self.listed = {v.id for v in volumes}
        self.complete = complete
        self._choice_field("region").choices = region_choices()
        chosen = self.data.getlist("volume_ids") if self.is_bound else self.initial_volume_ids
        self._choice_field("volume_ids").choices = volume_choices(volumes, chosen)
        secret = self.fields["key_secret"]
        secret.required = plan is None
        secret.error_messages["required"] = "Enter the secret of the API key."
        if plan is None:
            secret.help_text = "Stored encrypted; used only by the worker, never shown again."
        else:
            secret.help_text = (
                "Leave blank to keep the stored secret; a new one replaces it. "
                "Stored encrypted, never shown again."
            )

    def _choice_field(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    @property
    def initial_volume_ids(self) -> list[str]:
        return list(self.initial.get("volume_ids") or [])

    @classmethod
    def initial_of(cls, plan: Plan) -> dict[str, Any]:
        return {
            "name": plan.name,
            "region": plan.region,
            "volume_ids": list(plan.volume_ids),
            "metadata_match": pairs_text(plan.metadata_match),
            "name_prefix": plan.name_prefix,
            "attached": plan.attached,
            "stamp_metadata": pairs_text(plan.stamp_metadata),
            "key_id": plan.key_id,
        }

    def clean_name(self) -> str:
        return str(self.cleaned_data.get("name") or "").strip()

    def clean_volume_ids(self) -> list[str]:
        chosen = list(self.cleaned_data.get("volume_ids") or [])
        missing = [v for v in chosen if v not in self.listed]
        if self.complete and missing:
            raise forms.ValidationError(
                f"{_count_text(len(missing), 'chosen volume')} not in this region "
                f"(deleted, or of another region): untick {'it' if len(missing) == 1 else 'them'}."
            )
        return chosen

    def clean_key_id(self) -> str:
        return str(self.cleaned_data.get("key_id") or "").strip()

    @sensitive_variables("cleaned")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        picked = ("volume_ids", "metadata_match", "name_prefix")
        if not any(k in self.errors for k in picked) and not any(cleaned.get(k) for k in picked):
            self.add_error("volume_ids", SELECTION_REQUIRED)
        plan, key_id = self.plan, cleaned.get("key_id")
        if plan is not None and key_id and key_id != plan.key_id and not cleaned.get("key_secret"):
            self.add_error("key_secret", "A new API key ID needs its secret: enter the secret too.")
        return cleaned

    def key_error(self, message: str) -> None:
        """An error about the key itself (refused, unreadable): the secret must be typed again."""
        self.add_error("key_secret", f"{message} {SECRET_NOT_KEPT}")
