"""The backups list (home page) and its single poll (protocol: ``backups.presenters``)."""

from __future__ import annotations

import dataclasses
import time

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING, push_url, trigger_client_event

from backups.api import ApiError, Backup, Page, Unauthorized
from backups.list_query import ListQuery
from backups.polls import (
    API_ANSWERED_EVENT,
    PollDiff,
    PollFailure,
    as_of_from,
    parse_known,
    poll_attempt,
)
from backups.presenters import ListState, rows_for
from backups.shared_reads import shared_read
from backups.volume_names import cached_volume_directory, list_page_with_volumes
from console.decorators import signin_required


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_list(request: HttpRequest) -> HttpResponse:
    query = ListQuery.from_request(request.GET)
    client = request.console.client()
    as_of = time.time()
    page, directory = list_page_with_volumes(request, client, **query.api_params())
    state = ListState(query, rows_for(page.items, directory), page.total, page.next_marker, as_of)
    context = state.context()
    if request.htmx and not request.htmx.history_restore_request:
        response = TemplateResponse(request, "backups/backup_list.html#backup-table", context)
        trigger_client_event(response, API_ANSWERED_EVENT)  # an alert of a failed read is stale
        # The address bar gets the query of the applied filters, not the form's raw fields:
        # no empty ``status=&volume=``, no ignored value.
        return push_url(response, query.list_url())
    context["filters"] = query.filter_form(directory)
    return TemplateResponse(request, "backups/backup_list.html", context)


def slim_page(page: Page[Backup]) -> Page[Backup]:
    """The page with only what rows show (``Backup.row_view``): what the shared poll answer
    keeps, so a cached list answer weighs ~1 KiB a row whatever the tenant's metadata."""
    return dataclasses.replace(page, items=tuple(b.row_view() for b in page.items))


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def backup_list_status(request: HttpRequest) -> HttpResponse:
    """The list's single poll: see the module docstring for the protocol."""
    query = ListQuery.from_request(request.GET)
    if not request.htmx:
        return HttpResponseRedirect(query.list_url())
    known = parse_known(request.GET.get("known", ""))
    known_total = request.GET.get("total", "")
    params = query.api_params()
    try:
        read = shared_read(
            request,
            f"backups:{sorted(params.items())!r}",
            lambda: slim_page(request.console.poll_client().list_backups(**params)),
            not_before=as_of_from(request),
        )
    except Unauthorized:
        raise  # back to sign-in (the middleware)
    except ApiError as error:
        # The table stays as it is; a note says why, and the next poll comes later.
        failure = PollFailure.of(request, error)
        return TemplateResponse(request, "backups/backup_list_status.html", failure.context())
    page = read.answer
    diff = PollDiff.between(known, known_total, page)
    recovering = poll_attempt(request) > 0  # the note of the failed poll must go
    if (
        diff.nothing_changed
        and not recovering
        and any(backup.is_transitional for backup in page.items)
    ):
        # Before any other work: most polls end here.
        return trigger_client_event(HttpResponse(status=204), API_ANSWERED_EVENT)
    rows = rows_for(page.items, cached_volume_directory(request))
    state = ListState(query, rows, page.total, page.next_marker, read.as_of)
    changed = [row for row in state.rows if row.backup.id.lower() in diff.changed]
    announcements = [
        f"{row.backup.display_name}: {row.backup.status.label}"
        for row in changed
        if row.backup.status.value != "unknown"
    ] + [f"{len(diff.gone)} backup(s) no longer listed"] * bool(diff.gone)
    context = state.context()
    context.update(
        whole_table=bool(diff.appeared) or (bool(diff.gone) and not state.rows),
        changed=changed,
        gone=diff.gone,
        count_changed=diff.count_changed,
        announcements=announcements,
        recovering=recovering,
    )
    status = 200 if state.polling else HTMX_STOP_POLLING
    response = TemplateResponse(request, "backups/backup_list_status.html", context, status=status)
    return trigger_client_event(response, API_ANSWERED_EVENT)
