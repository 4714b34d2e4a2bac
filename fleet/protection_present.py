"""The overview's rows as HTML, rendered once per scan, objective and session region, then kept
(``backups.presenters.SizedLRU``, bounded in bytes): a result is a snapshot, so a row renders
the same on every view until the next scan, and a warm view costs a few dictionary lookups
instead of fifty row templates.

A cached row never holds anything of a session: the "Open in <region>" button of a row of
another region names its form by the ``form`` attribute, and those small POST forms (each with
the session's CSRF token) are rendered apart, after the table, on every view.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.template.loader import get_template
from django.urls import get_script_prefix, reverse
from django.utils.safestring import SafeString, mark_safe

from backups.domain_protection import ProtectionState, format_duration
from backups.presenters import SizedLRU
from fleet.protection_rows import JudgedRow, ProtectionRow

#: ~1.5 KiB a row: about 2,500 rows (fifty pages) whatever the names hold.
ROW_CACHE = SizedLRU(4 * 1024 * 1024)


@dataclass(frozen=True)
class RowView:
    """What one row shows."""

    row: ProtectionRow
    state: ProtectionState
    reason: str
    age: str
    region_label: str
    #: The row is of the session's region: its volume and backup are links.
    linked: bool
    multi_region: bool

    @property
    def dom_id(self) -> str:
        return f"{self.row.region}-{self.row.volume_id}"

    @property
    def volume_url(self) -> str:
        return reverse("volume-detail", args=[self.row.volume_id])

    @property
    def backup_url(self) -> str:
        newest = self.row.backups.newest_id
        return reverse("backup-detail", args=[newest]) if newest else ""


def row_view(
    item: JudgedRow,
    rpo: timedelta,
    as_of: datetime,
    labels: dict[str, str],
    session_region: str,
) -> RowView:
    verdict = item.assessment(rpo, as_of)
    return RowView(
        row=item.row,
        state=item.state,
        reason=verdict.reason,
        age=format_duration(verdict.age) if verdict.age is not None else "",
        region_label=labels.get(item.row.region, item.row.region),
        linked=item.row.region == session_region,
        multi_region=len(labels) > 1,
    )


def render_rows(
    scan_id: str,
    items: list[JudgedRow],
    rpo: timedelta,
    as_of: datetime,
    labels: dict[str, str],
    session_region: str,
) -> tuple[list[SafeString], list[RowView]]:
    """Each row's HTML (cached), and the rows of other regions (their switch forms)."""
    prefix = get_script_prefix()
    template = None
    rendered, elsewhere = [], []
    multi = len(labels) > 1
    for item in items:
        linked = item.row.region == session_region
        key = (
            str(scan_id),
            rpo.total_seconds(),
            item.row.region,
            item.row.volume_id,
            linked,
            multi,
            labels.get(item.row.region, ""),
            prefix,
        )
        html = ROW_CACHE.get(key)
        view = None
        if html is None:
            view = row_view(item, rpo, as_of, labels, session_region)
            template = template or get_template("fleet/protection.html#protection-row")
            html = mark_safe(template.render({"item": view}))  # noqa: S308 (autoescaped)
            ROW_CACHE.put(key, html)
        rendered.append(html)
        if not linked:
            elsewhere.append(view or row_view(item, rpo, as_of, labels, session_region))
    return rendered, elsewhere
