"""The bulk action forms: which volumes or backups were ticked, and the job's options."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings

from backups.forms import canonical_uuid, is_uuid

#: Targets one job may have (a page of the overview is far fewer; the API's page maximum).
MAX_SELECTED = 1000


def _split_volume(value: str, default_region: str) -> tuple[str, str]:
    region, sep, volume_id = value.strip().rpartition(":")
    return (region if sep else default_region), volume_id


class _Selection(forms.Form):
    token = forms.CharField(required=False, widget=forms.HiddenInput)
    start = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, field: str, **kwargs: Any) -> None:
        super().__init__(data, **kwargs)
        self.field = field
        self.values = [v for v in data.getlist(field) if v.strip()] if data else []

    def clean_token(self) -> str:
        token = self.cleaned_data.get("token") or ""
        return token if is_uuid(token) else str(uuid.uuid4())

    def _check_count(self, noun: str) -> None:
        if not self.values:
            raise forms.ValidationError(f"Select at least one {noun}.")
        if len(self.values) > MAX_SELECTED:
            raise forms.ValidationError(
                f"Select at most {MAX_SELECTED:,} {noun}s per job ({len(self.values):,} selected)."
            )


class BulkBackupForm(_Selection):
    full = forms.BooleanField(
        required=False,
        label="Full backups",
        help_text="Without it, a volume that has an available backup gets an incremental one.",
    )
    force_attached = forms.BooleanField(
        required=False,
        label="Force for attached volumes",
        help_text="Back up volumes attached to an instance while in use (crash-consistent); "
        "without it they are skipped.",
    )

    #: The options the plan on the page was made with ("full,force" as 0/1): "Start" with
    #: other options would run something the person did not see.
    shown = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, default_region: str, **kwargs: Any) -> None:
        super().__init__(data, field="volume", **kwargs)
        self.default_region = default_region

    @property
    def options_key(self) -> str:
        return ",".join(
            str(int(bool(self.cleaned_data.get(k)))) for k in ("full", "force_attached")
        )

    @property
    def options_changed(self) -> bool:
        """The options differ from those of the plan the page showed."""
        shown = self.cleaned_data.get("shown") or ""
        return bool(shown) and shown != self.options_key

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_count("volume")
        by_region: dict[str, list[str]] = {}
        bad: list[str] = []
        for value in self.values:
            region, volume_id = _split_volume(value, self.default_region)
            if region not in settings.BYCLOUD_REGIONS or not is_uuid(volume_id):
                bad.append(value)
                continue
            by_region.setdefault(region, []).append(canonical_uuid(volume_id))
        if bad:
            shown = ", ".join(v[:80] for v in bad[:3])
            raise forms.ValidationError(f"These selections name no volume of a region: {shown}.")
        cleaned["selection"] = {r: list(dict.fromkeys(ids)) for r, ids in by_region.items()}
        return cleaned


class BulkDeleteForm(_Selection):
    def __init__(self, data: Any, **kwargs: Any) -> None:
        super().__init__(data, field="backup", **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        self._check_count("backup")
        bad = [v for v in self.values if not is_uuid(v)]
        if bad:
            shown = ", ".join(v[:80] for v in bad[:3])
            raise forms.ValidationError(f"These selections are not backup IDs: {shown}.")
        cleaned["selection"] = list(dict.fromkeys(canonical_uuid(v) for v in self.values))
        return cleaned
