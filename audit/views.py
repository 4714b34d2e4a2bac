"""The Activity page: this session's audit entries, newest first, filtered, in marker pages.

One URL serves the page and (htmx) its table. By default a session sees the entries its own
credential made; filtered by a target ByCloud lets it read (one API call), it also sees what
other credentials of its organisation did to that target (``audit.queries``).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import push_url

from audit import queries
from audit.forms import ActivityFilterForm
from audit.models import AuditEntry
from console.decorators import signin_required


def _url(query: QueryDict) -> str:
    text = query.urlencode()
    return f"{reverse('activity')}?{text}" if text else reverse("activity")


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def activity(request: HttpRequest) -> HttpResponse:
    console = request.console  # type: ignore[attr-defined]
    form = ActivityFilterForm(request.GET)
    applied = form.applied()
    visible = queries.own(console)
    target = applied.get("target", "")
    target_check, check_error = "", None
    if target:
        target_check, check_error = queries.can_read(console.client(), console, target)
        if target_check == queries.TargetCheck.READABLE:
            visible |= queries.shared_on(console, target)
    entries = AuditEntry.objects.filter(visible).filter(form.conditions())
    marker = queries.Marker.parse(request.GET.get("marker", ""))
    page = queries.page_of(entries, marker)
    query = form.query()
    first_url = _url(query)
    next_url = ""
    if page.next_marker is not None:
        following = query.copy()
        following["marker"] = str(page.next_marker)
        next_url = _url(following)
    context = {
        "form": form,
        "entries": page.entries,
        "is_filtered": bool(applied),
        "marker": marker,
        "first_url": first_url,
        "next_url": next_url,
        "target": target,
        "target_shared": target_check == queries.TargetCheck.READABLE,
        "check_error": check_error,
    }
    if request.htmx and not request.htmx.history_restore_request:
        response = TemplateResponse(request, "audit/activity.html#activity-table", context)
        url = first_url if marker is None else _url(request.GET)
        return push_url(response, url)
    return TemplateResponse(request, "audit/activity.html", context)
