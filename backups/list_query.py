"""The list's filters and page, read from (and written back to) the URL.

The filters are read by :class:`backups.forms.BackupFilterForm`; the page (``marker`` and the
``prev`` stack of earlier markers) is plain URL state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from backups.forms import BackupFilterForm, canonical_uuid
from backups.volume_names import VolumeDirectory

PAGE_SIZE = 20
#: Markers of earlier pages kept in the URL; beyond this the oldest are dropped.
MAX_PREV_MARKERS = 50


@dataclass(frozen=True)
class ListQuery:
    """Filters and page of the list, read from (and written back to) the URL."""

    name: str = ""
    status: str = ""
    volume: str = ""
    marker: str = ""
    prev: tuple[str, ...] = ()

    @classmethod
    def from_request(cls, params: Mapping[str, str]) -> ListQuery:
        filters = BackupFilterForm(params).applied()
        prev = tuple(
            m for m in (canonical_uuid(p) for p in (params.get("prev") or "").split(",")) if m
        )
        return cls(
            name=filters["name"],
            status=filters["status"],
            volume=filters["volume"],
            marker=canonical_uuid(params.get("marker")),
            prev=prev[-MAX_PREV_MARKERS:],
        )

    def filter_form(self, volumes: VolumeDirectory) -> BackupFilterForm:
        """The filters as applied (an ignored value is not shown), to render."""
        return BackupFilterForm(initial=self.params(page=False), volumes=volumes)

    @property
    def is_filtered(self) -> bool:
        return bool(self.name or self.status or self.volume)

    @property
    def api_name(self) -> str | None:
        """The one pattern the API has: a prefix, ``name*``. A ``*`` typed at the end is that
        same prefix; one typed inside is matched as itself (the API has no other wildcard)."""
        prefix = self.name.rstrip("*")
        return f"{prefix}*" if prefix else None

    def api_params(self) -> dict[str, Any]:
        return {
            "limit": PAGE_SIZE,
            "marker": self.marker or None,
            "name": self.api_name,
            "status": self.status or None,
            "volume_id": self.volume or None,
        }

    def params(self, *, page: bool = True) -> dict[str, str]:
        values = {"name": self.name, "status": self.status, "volume": self.volume}
        if page:
            values.update(marker=self.marker, prev=",".join(self.prev))
        return {k: v for k, v in values.items() if v}

    def querystring(self, *, page: bool = True, **extra: str) -> str:
        return urlencode({**self.params(page=page), **{k: v for k, v in extra.items() if v}})

    @property
    def export_suffix(self) -> str:
        """The filters as a query string for the export links (``?name=…``, or nothing)."""
        query = self.querystring(page=False)
        return f"?{query}" if query else ""

    def list_url(self, *, page: bool = True) -> str:
        query = self.querystring(page=page)
        return reverse("backup-list") + (f"?{query}" if query else "")

    @property
    def offset(self) -> int:
        return (len(self.prev) + (1 if self.marker else 0)) * PAGE_SIZE

    def next_query(self, next_marker: str) -> ListQuery:
        prev = (*self.prev, self.marker) if self.marker else self.prev
        return ListQuery(self.name, self.status, self.volume, next_marker, prev)

    def previous_query(self) -> ListQuery | None:
        if not self.marker:
            return None
        marker = self.prev[-1] if self.prev else ""
        return ListQuery(self.name, self.status, self.volume, marker, self.prev[:-1])
