"""``/backups/export.csv`` and ``/backups/export.json``: the list of the current filters (the
list's own query parameters), every page, streamed (``backups.export`` says how a failure and
the deadline are handled). The first page is read before the answer starts: its failure is the
usual error page (``ApiErrorMiddleware``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from backups import export
from backups.list_query import ListQuery
from backups.middleware import DEFAULT_PAGE_DEADLINE_SECONDS
from backups.volume_names import list_page_with_volumes
from console.decorators import signin_required

CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json; charset=utf-8"}


@require_GET
@signin_required
def backup_export(request: HttpRequest, fmt: str) -> HttpResponse:
    query = ListQuery.from_request(request.GET)
    params = {**query.api_params(), "limit": export.EXPORT_PAGE_SIZE, "marker": None}
    client = request.console.client()
    first, directory = list_page_with_volumes(request, client, **params)
    page_seconds = float(
        getattr(settings, "BYCLOUD_PAGE_DEADLINE_SECONDS", DEFAULT_PAGE_DEADLINE_SECONDS)
    )
    items = export.walk(
        first,
        lambda marker: client.list_backups(**{**params, "marker": marker}),
        page_seconds=page_seconds,
    )
    write = export.as_csv if fmt == "csv" else export.as_json
    response = StreamingHttpResponse(
        (chunk.encode() for chunk in write(items, directory)), content_type=CONTENT_TYPES[fmt]
    )
    region = re.sub(r"[^A-Za-z0-9_-]", "-", request.console.region)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="backups-{region}-{stamp}.{fmt}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
