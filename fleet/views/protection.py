"""The protection overview: every volume of the organisation in every region, judged against
the objective the user sets, from a scan that runs in the worker (``fleet.protection_scan``).

- ``protection-overview`` (GET ``/protection``): the newest fresh scan's table; without one (or
  an old one) it starts a scan and answers at once with its progress, which refreshes itself
  (htmx polls ``protection-status`` every second; without JavaScript a ``<meta refresh>`` in a
  ``<noscript>`` reloads the page every 2 s while scanning). No API call at all: the scan makes
  them, in the worker.
- ``protection-status`` (GET, polled): the progress, 200 while scanning; the table (or the
  failure) with 286 once the scan has ended, so polling stops.
- ``protection-refresh`` (POST): a new scan (or the live one), then back to the overview.

Tenancy: scans are looked up by their owner (``audit.record.actor_of`` of the session's
credential) and the ID; another credential's scan is a 404 whatever ID a URL carries.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING, push_url

from backups.domain_protection import STATES_BY_RISK
from console.decorators import signin_required
from fleet.jobs import visible_among
from fleet.models import JobState, Plan, ProtectionScan, ScanState
from fleet.protection_forms import ProtectionQuery
from fleet.protection_present import render_rows
from fleet.protection_rows import judged, result_of, select
from fleet.protection_scan import (
    LIVE_STATES,
    current_scan,
    fresh_seconds,
    is_fresh,
    owner_of,
    scans_of,
    start_scan,
)
from fleet.views.plan_present import PlanState, last_finished_run, plan_state

PAGE_SIZE = 50
#: Failing plans named above the overview (the plans list has them all).
FAILING_PLANS_SHOWN = 10
#: A queued scan no worker has taken after this long says so.
WORKER_HINT_AFTER = timedelta(seconds=10)
WORKER_HINT = "No worker has taken the scan up yet: is the worker running?"
STALLED_HINT = "The worker running the scan stopped answering; another will take over."


def _regions() -> list[str]:
    return list(settings.BYCLOUD_REGIONS)


def _needs_new_scan(scan: ProtectionScan | None) -> bool:
    if scan is None:
        return True
    if scan.state in LIVE_STATES:
        return False
    if set(scan.regions) != set(_regions()):
        return True
    if scan.state == ScanState.DONE:
        return not is_fresh(scan)
    # A failed scan is shown as long as a fresh one would be, then a view scans again.
    return scan.age() >= timedelta(seconds=fresh_seconds())


def _progress(scan: ProtectionScan) -> dict[str, Any]:
    now = timezone.now()
    total = max(scan.total, scan.scanned)
    if scan.state == ScanState.QUEUED:
        waiting = now - scan.created_at > WORKER_HINT_AFTER
        label = "Waiting for the worker to start the scan…"
        hint = WORKER_HINT if waiting else ""
    elif not total:
        label, hint = "Starting the scan…", ""
    else:
        label = f"Scanned {scan.scanned:,} of {total:,} volumes and backups"
        stalled = scan.lease_expires_at is not None and scan.lease_expires_at < now
        hint = STALLED_HINT if stalled else ""
    return {
        "label": label,
        "hint": hint,
        "value": scan.scanned if total else None,
        "max": total or None,
        "percent": math.floor(100 * scan.scanned / total) if total else 0,
    }


def _rows_context(request: HttpRequest, scan: ProtectionScan, query: ProtectionQuery) -> dict:
    result = result_of(
        str(scan.id),
        lambda: ProtectionScan.objects.filter(pk=scan.id).values_list("result", flat=True).first(),
    )
    selection = select(judged(str(scan.id), result, query.rpo), query.filter)
    pages = max(1, math.ceil(selection.count / PAGE_SIZE))
    page = min(query.page, pages)
    start = (page - 1) * PAGE_SIZE
    labels = {r["name"]: r.get("label") or r["name"] for r in result.regions}
    rows, elsewhere = render_rows(
        str(scan.id),
        selection.rows[start : start + PAGE_SIZE],
        query.rpo,
        result.as_of,
        labels,
        request.console.region,
    )
    url = reverse("protection-overview")
    return {
        "result": result,
        "rows": rows,
        "elsewhere": elsewhere,
        "count": selection.count,
        "totals": [
            {
                "state": state,
                "count": selection.totals[state],
                "url": f"{url}?{query.query(state=state.value, page='')}",
                "current": query.filter.state == state.value,
            }
            for state in STATES_BY_RISK
        ],
        "all_url": f"{url}?{query.query(state='', page='')}",
        "regions": result.regions,
        "page": page,
        "pages": pages,
        "first": start + 1 if rows else 0,
        "last": start + len(rows),
        "previous_url": f"{url}?{query.query(page=page - 1)}" if page > 1 else None,
        "next_url": f"{url}?{query.query(page=page + 1)}" if page < pages else None,
        "multi_region": len(labels) > 1,
    }


def _context(request: HttpRequest, scan: ProtectionScan, query: ProtectionQuery) -> dict:
    scanning = scan.state in LIVE_STATES
    context: dict[str, Any] = {
        "scan": scan,
        "query": query,
        "form": query.form,
        "scanning": scanning,
        "rpo_hours": query.rpo_hours,
        "status_url": f"{reverse('protection-status')}?{query.query(scan=str(scan.id))}",
        "refresh_query": query.query(),
        "read_only": request.console.read_only,
    }
    if scanning:
        context["progress"] = _progress(scan)
    elif scan.state == ScanState.DONE:
        context.update(_rows_context(request, scan, query))
    return context


def _overview_url(query: ProtectionQuery) -> str:
    text = query.query()
    return reverse("protection-overview") + (f"?{text}" if text else "")


def failing_plans(request: HttpRequest) -> list[tuple[Plan, PlanState]]:
    """Plans of this organisation whose last run failed or that paused themselves: named on
    the overview with the reason (only plans with such a run are checked at ByCloud)."""
    troubled = Plan.objects.filter(
        Q(consecutive_failures__gt=0) | Q(runs__state=JobState.FAILED)
    ).distinct()
    plans, _ = visible_among(request.console, troubled, FAILING_PLANS_SHOWN)
    states = [(plan, plan_state(plan, last_finished_run(plan))) for plan in plans]
    return [(plan, state) for plan, state in states if state.key in ("failing", "paused")]


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def protection_overview(request: HttpRequest) -> HttpResponse:
    query = ProtectionQuery(request.GET)
    credential = request.console.credential
    scan = current_scan(owner_of(credential))
    if _needs_new_scan(scan):
        scan = start_scan(credential, _regions())
    assert scan is not None
    context = _context(request, scan, query)
    context["failing_plans"] = failing_plans(request)
    if request.htmx and not request.htmx.history_restore_request:
        response = TemplateResponse(request, "fleet/protection.html#protection-page", context)
        return push_url(response, _overview_url(query))
    return TemplateResponse(request, "fleet/protection.html", context)


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def protection_status(request: HttpRequest) -> HttpResponse:
    """The scan's progress while it runs (200), then its table or failure (286: stop polling).
    Without htmx, the overview itself."""
    query = ProtectionQuery(request.GET)
    if not request.htmx:
        return HttpResponseRedirect(_overview_url(query))
    try:
        scan_id = UUID(str(request.GET.get("scan", "")))
    except ValueError:
        raise Http404("No such scan") from None
    scan = scans_of(owner_of(request.console.credential)).filter(pk=scan_id).first()
    if scan is None:
        raise Http404("No such scan")
    context = _context(request, scan, query)
    status = 200 if context["scanning"] else HTMX_STOP_POLLING
    return TemplateResponse(
        request, "fleet/protection.html#protection-status", context, status=status
    )


@require_POST
@signin_required
def protection_refresh(request: HttpRequest) -> HttpResponse:
    """Scan again now (or join the scan already running), then show its progress."""
    start_scan(request.console.credential, _regions())
    query = ProtectionQuery(_query_from(request.POST.get("query", "")))
    return HttpResponseRedirect(_overview_url(query), status=303)


def _query_from(text: str) -> dict[str, str]:
    """The overview's query string carried by the Refresh form (only its filters are read)."""
    return dict(parse_qsl(text[:2000]))
