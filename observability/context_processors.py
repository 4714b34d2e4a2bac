from __future__ import annotations

from django.http import HttpRequest


def request_id(request: HttpRequest) -> dict[str, object]:
    """The console's request ID, shown on error pages beside ByCloud's ``request_id``."""
    return {"request_id": getattr(request, "request_id", "")}
