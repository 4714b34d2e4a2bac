from __future__ import annotations

from django.http import HttpRequest


def csp_nonce(request: HttpRequest) -> dict[str, object]:
    """Expose django-csp's nonce as `csp_nonce`, the name {% htmx_script %} looks for."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}


def console(request: HttpRequest) -> dict[str, object]:
    return {"console": getattr(request, "console", None)}
