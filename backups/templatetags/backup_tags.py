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


JUST_NOW_SECONDS = 60


def relative_time(moment: datetime, now: datetime | None = None) -> str:
    """'just now' under a minute, else the largest unit of the time since: '3 hours ago'."""
    now = now or datetime.now(UTC)
    if (now - moment).total_seconds() < JUST_NOW_SECONDS:
        return "just now"
    return f"{timesince(moment, now).split(',')[0]} ago"


@register.simple_tag
def timestamp(moment: datetime | None) -> SafeString:
    """Relative time, with the exact UTC time on hover (title) and as visually hidden text for
    assistive technology. Not a tab stop: a list row has one (its name); the exact time shows
    when the row is focused or hovered (static/css/console.css) and in a phone's card."""
    if moment is None:
        return format_html('<span class="muted">{}</span>', "—")
    exact = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return format_html(
        '<time datetime="{}" title="{}">{}<span class="exact-time visually-hidden"> ({})</span>'
        "</time>",
        moment.astimezone(UTC).isoformat(),
        exact,
        relative_time(moment),
        exact,
    )
