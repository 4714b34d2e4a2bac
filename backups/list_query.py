"""The list's filters and page, read from (and written back to) the URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.urls import reverse

from backups import domain

PAGE_SIZE = 20
#: Markers of earlier pages kept in the URL; beyond this the oldest are dropped.
MAX_PREV_MARKERS = 50
NAME_MAX_LENGTH = 255


def _uuid_or_empty(value: str | None) -> str:
    try:
        return str(UUID(value or ""))
    except ValueError:
        return ""


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
        status = (params.get("status") or "").strip().lower()
        prev = tuple(
            m for m in (_uuid_or_empty(p) for p in (params.get("prev") or "").split(",")) if m
        )
        return cls(
            name=(params.get("name") or "").strip()[:NAME_MAX_LENGTH],
            status=status if status in {s.value for s in domain.FILTERABLE_STATUSES} else "",
            volume=_uuid_or_empty(params.get("volume")),
            marker=_uuid_or_empty(params.get("marker")),
            prev=prev[-MAX_PREV_MARKERS:],
        )

    @property
    def is_filtered(self) -> bool:
        return bool(self.name or self.status or self.volume)

    @property
    def api_name(self) -> str | None:
        """A prefix search unless the user wrote their own ``*`` pattern."""
        if not self.name:
            return None
        return self.name if "*" in self.name else f"{self.name}*"

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
