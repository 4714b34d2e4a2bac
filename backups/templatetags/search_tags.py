"""What the backups list's empty state needs, without an API call: whether a name filter is
really an ID or CRN (``backups.search_terms``), and a volume's name from the cached directory."""

from __future__ import annotations

from typing import Any

from django import template

from backups.search_terms import looks_exact
from backups.volume_names import cached_volume_directory

register = template.Library()


@register.filter
def looks_like_id(text: object) -> bool:
    return isinstance(text, str) and looks_exact(text)


@register.simple_tag(takes_context=True)
def volume_label(context: dict[str, Any], volume_id: str) -> str:
    """The volume's name if the cached directory knows it, else its shortened id."""
    request = context.get("request")
    if request is None:
        return volume_id
    return cached_volume_directory(request).label(volume_id)
