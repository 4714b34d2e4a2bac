"""The volumes list's filters (name prefix, status) and its page, read from the URL.

Apart from ``backups.forms`` (the app's forms module, already long) so neither passes 400 lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.urls import reverse

from backups.api import VolumeStatus
from backups.forms import NAME_FILTER_HELP, NAME_MAX_LENGTH, canonical_uuid

VOLUME_PAGE_SIZE = 20
MAX_PREV_MARKERS = 50
FILTERABLE_VOLUME_STATUSES = tuple(s for s in VolumeStatus if s is not VolumeStatus.UNKNOWN)


class _StatusField(forms.ChoiceField):
    """A status in any case (the API's are lower case)."""

    def to_python(self, value: Any) -> str:
        return super().to_python(value).strip().lower()


class VolumeFilterForm(forms.Form):
    """Bound to the URL to read the filters (:meth:`applied`); built from ``initial`` to show."""

    name = forms.CharField(
        label="Name starts with",
        required=False,
        help_text=NAME_FILTER_HELP,
        widget=forms.SearchInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    status = _StatusField(
        label="Status",
        required=False,
        choices=[("", "Any status")] + [(s.value, s.label) for s in FILTERABLE_VOLUME_STATUSES],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "volume-filter-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        return str(self.cleaned_data.get("name") or "").strip()[:NAME_MAX_LENGTH]

    def applied(self) -> dict[str, str]:
        """The filters to apply; a value that does not validate (an unknown status) is
        ignored, never an error page."""
        if self.is_valid():
            return {name: self.cleaned_data.get(name) or "" for name in self.fields}
        return {
            name: ("" if name in self.errors else self.cleaned_data.get(name) or "")
            for name in self.fields
        }


@dataclass(frozen=True)
class VolumeQuery:
    """Filters and page (``marker`` and the ``prev`` stack) of the volumes list."""

    name: str = ""
    status: str = ""
    marker: str = ""
    prev: tuple[str, ...] = ()

    @classmethod
    def from_request(cls, params: Mapping[str, str]) -> VolumeQuery:
        filters = VolumeFilterForm(params).applied()
        prev = tuple(
            m for m in (canonical_uuid(p) for p in (params.get("prev") or "").split(",")) if m
        )
        return cls(
            filters["name"],
            filters["status"],
            canonical_uuid(params.get("marker")),
            prev[-MAX_PREV_MARKERS:],
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.name or self.status)

    def filter_form(self) -> VolumeFilterForm:
        return VolumeFilterForm(initial={"name": self.name, "status": self.status})

    def api_params(self) -> dict[str, Any]:
        prefix = self.name.rstrip("*")
        return {
            "limit": VOLUME_PAGE_SIZE,
            "marker": self.marker or None,
            "name": f"{prefix}*" if prefix else None,
            "status": self.status or None,
        }

    def url(self, *, page: bool = True) -> str:
        values = {"name": self.name, "status": self.status}
        if page:
            values.update(marker=self.marker, prev=",".join(self.prev))
        query = urlencode({k: v for k, v in values.items() if v})
        return reverse("volume-list") + (f"?{query}" if query else "")

    @property
    def offset(self) -> int:
        return (len(self.prev) + (1 if self.marker else 0)) * VOLUME_PAGE_SIZE

    def next_url(self, next_marker: str | None) -> str | None:
        if not next_marker:
            return None
        prev = (*self.prev, self.marker) if self.marker else self.prev
        return VolumeQuery(self.name, self.status, next_marker, prev).url()

    def previous_url(self) -> str | None:
        if not self.marker:
            return None
        marker = self.prev[-1] if self.prev else ""
        return VolumeQuery(self.name, self.status, marker, self.prev[:-1]).url()
