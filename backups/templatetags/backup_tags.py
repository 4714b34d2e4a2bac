"""Presentation helpers shared by every page: status badges, sizes, times."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from backups.domain import is_transitional_status

register = template.Library()


@register.simple_tag
def status_badge(status: object) -> SafeString:
    """The status as text with a colour class; colour is never the only signal."""
    value = str(getattr(status, "value", status) or "unknown")
    classes = f"status status--{value}"
    if is_transitional_status(value):
        classes += " status--transitional"
    return format_html('<span class="{}">{}</span>', classes, value.replace("_", " "))


@register.filter
def gb(size: int | None) -> str:
    if size is None:
        return "—"
    return f"{size:,} GB"


@register.simple_tag
def timestamp(moment: datetime | None) -> SafeString:
    """Relative time, with the exact UTC time on hover and for assistive technology."""
    if moment is None:
        return format_html('<span class="muted">{}</span>', "—")
    exact = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    relative = timesince(moment, datetime.now(UTC)).split(",")[0]
    return format_html(
        '<time datetime="{}" title="{}" tabindex="0">{} ago'
        '<span class="exact-time"> ({})</span></time>',
        moment.astimezone(UTC).isoformat(),
        exact,
        relative,
        exact,
    )
