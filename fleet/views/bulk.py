"""Bulk actions: a confirmation page that says what each selected target will get, then
"Start", which creates the job(s) and hands over to the worker.

The first POST (from the overview's or the backups list's checkboxes) only reads ByCloud and
renders the plan; "Start" posts the same selection with the page's one-time token, so a double
submit finds the job it already made instead of making a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from backups.alerts import Alert, read_alert
from backups.api import ApiError, Unauthorized
from backups.api.factory import client_for
from console.decorators import writable_session_required
from console.session import ConsoleSession
from fleet.forms import BulkBackupForm, BulkDeleteForm
from fleet.jobs import JobConflict, job_id_for, start_job
from fleet.lookup import backups_with_siblings, volumes_by_id, volumes_with_available_backup
from fleet.models import JobKind
from fleet.planning import PlannedItem, plan_backups, plan_deletions

OPTIONS_CHANGED = (
    "The options changed since this plan was shown: here is the plan with them. "
    "Press Start again to run it."
)


@dataclass
class RegionPlan:
    region: str
    label: str
    items: list[PlannedItem] = field(default_factory=list)
    error: ApiError | None = None

    @property
    def alert(self) -> Alert | None:
        return read_alert(self.error) if self.error is not None else None

    @property
    def running(self) -> list[PlannedItem]:
        return [i for i in self.items if i.runs]

    @property
    def skipped(self) -> list[PlannedItem]:
        return [i for i in self.items if not i.runs]


def _plan_region(
    console: ConsoleSession, region: str, ids: list[str], form: BulkBackupForm
) -> RegionPlan:
    plan = RegionPlan(region, settings.BYCLOUD_REGIONS[region]["label"])
    client = client_for(settings.BYCLOUD_REGIONS[region]["url"], console.credential)
    full = bool(form.cleaned_data.get("full"))
    try:
        volumes = volumes_by_id(client, ids)
        with_backup = set() if full else volumes_with_available_backup(client, volumes)
    except Unauthorized:
        raise
    except ApiError as error:
        plan.error = error
        return plan
    plan.items = plan_backups(
        ids,
        volumes,
        with_backup,
        full=full,
        force_attached=bool(form.cleaned_data.get("force_attached")),
    )
    return plan


def _start(
    console: ConsoleSession,
    plans: list[RegionPlan],
    token: str,
    kind: str,
    options: dict[str, bool],
) -> list[str]:
    return [
        str(
            start_job(
                console,
                job_id=job_id_for(token, plan.region),
                kind=kind,
                region=plan.region,
                planned=plan.items,
                options=options,
            ).pk
        )
        for plan in plans
        if plan.items and plan.error is None
    ]


def _after_start(job_ids: list[str]) -> HttpResponse:
    if len(job_ids) == 1:
        return redirect("job-detail", job_id=job_ids[0])
    return redirect("job-list")


def _confirm(
    request: HttpRequest, form: object, plans: list[RegionPlan], kind: str, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "plans": plans,
        "kind": kind,
        "can_start": any(p.running for p in plans) and not any(p.error for p in plans),
    }
    return TemplateResponse(request, "fleet/bulk_confirm.html", context, status=status)


@require_POST
@writable_session_required
def bulk_backup(request: HttpRequest) -> HttpResponse:
    console: ConsoleSession = request.console  # type: ignore[attr-defined]
    form = BulkBackupForm(request.POST, default_region=console.region)
    if not form.is_valid():
        return _confirm(request, form, [], JobKind.BACKUP, status=400)
    selection: dict[str, list[str]] = form.cleaned_data["selection"]
    plans = [_plan_region(console, region, ids, form) for region, ids in selection.items()]
    if form.cleaned_data["start"] and form.options_changed:
        form.add_error(None, OPTIONS_CHANGED)
    elif form.cleaned_data["start"] and not any(p.error for p in plans):
        options = {k: bool(form.cleaned_data.get(k)) for k in ("full", "force_attached")}
        try:
            return _after_start(
                _start(console, plans, form.cleaned_data["token"], JobKind.BACKUP, options)
            )
        except JobConflict:
            form.add_error(
                None, "This confirmation page is no longer valid: review and start again."
            )
    return _confirm(request, form, plans, JobKind.BACKUP)


@require_POST
@writable_session_required
def bulk_delete(request: HttpRequest) -> HttpResponse:
    console: ConsoleSession = request.console  # type: ignore[attr-defined]
    form = BulkDeleteForm(request.POST)
    if not form.is_valid():
        return _confirm(request, form, [], JobKind.DELETE, status=400)
    plan = RegionPlan(console.region, console.region_label)
    try:
        siblings = backups_with_siblings(console.client(), form.cleaned_data["selection"])
        plan.items = plan_deletions(form.cleaned_data["selection"], siblings)
    except Unauthorized:
        raise
    except ApiError as error:
        plan.error = error
    if form.cleaned_data["start"] and plan.error is None:
        try:
            return _after_start(
                _start(console, [plan], form.cleaned_data["token"], JobKind.DELETE, {})
            )
        except JobConflict:
            form.add_error(
                None, "This confirmation page is no longer valid: review and start again."
            )
    return _confirm(request, form, [plan], JobKind.DELETE)
