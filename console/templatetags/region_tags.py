"""The header's region (``{% region_switcher %}``): a form to switch when more than one region is
configured, else just the region's name."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from console.regions import is_multi_region, landing_after_switch, this_page

register = template.Library()


@register.inclusion_tag("console/_region_switcher.html", takes_context=True)
def region_switcher(context: dict[str, Any]) -> dict[str, Any]:
    """The regions to choose from, the current one, where a switch lands and where a refused
    switch comes back to (this very page, which exists in the current region)."""
    request = context.get("request")
    console = context.get("console")
    if request is None or not console or not is_multi_region():
        return {"regions": [], "label": getattr(console, "region_label", "")}
    return {
        "regions": [(name, region["label"]) for name, region in settings.BYCLOUD_REGIONS.items()],
        "current": console.region,
        "next": landing_after_switch(request),
        "back": this_page(request),
        "csrf_token": context.get("csrf_token"),
    }


@register.simple_tag
def multi_region() -> bool:
    """More than one region is configured (``{% multi_region as several %}``)."""
    return is_multi_region()
