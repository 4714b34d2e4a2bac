"""Backup plans' pages: the list, the form (create and edit), one plan, pause, resume, delete,
"Run now" and the dry run.

- ``plan-list`` GET ``/plans``; ``plan-create`` GET/POST ``/plans/new``;
  ``plan-detail`` GET ``/plans/<id>`` (its runs' table is also its own fragment, polled while a
  run is live); ``plan-edit`` GET/POST ``/plans/<id>/edit``; ``plan-pause``, ``plan-resume``,
  ``plan-run-now`` POST; ``plan-delete`` GET (confirm) / POST; ``plan-dry-run`` GET.

Tenancy: a plan is found only when ``fleet.jobs.can_see`` says the session may see it (its
credential made it, or ByCloud lets it read one of the plan's volumes now); otherwise every URL
of it is the same 404 as a missing plan. Read-only sessions see plans and runs; every change is
refused on the server (``writable_session_required``), whatever the page showed.
"""

from __future__ import annotations

import uuid
import zoneinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from audit.models import Action, Outcome
from audit.record import record
from backups.api import ApiError, Unauthorized
from backups.forms import canonical_uuid, is_uuid
from console.decorators import signin_required, writable_session_required
from console.session import ConsoleSession
from fleet.jobs import can_see, job_id_for, request_cancel, visible_among
from fleet.models import Job, Plan, RunTrigger
from fleet.plan_forms import PlanForm
from fleet.plan_rule_forms import NEW_RULE, RuleFormSet, rule_initial
from fleet.plan_runs import stamp
from fleet.scheduler import start_run
from fleet.views.plan_dry_run import dry_run_of
from fleet.views.plan_present import (
    last_finished_run,
    live,
    plan_rows,
    plan_state,
    plan_volumes,
    rule_views,
    run_rows,
    selection_text,
)
from fleet.views.plan_save import (
    VolumeChoices,
    check_key,
    plan_key,
    probes_for,
    save_plan,
    session_client,
    volume_choices,
)

#: Plans the list shows.
PLANS_SHOWN = 200


def _console(request: HttpRequest) -> ConsoleSession:
    return request.console  # type: ignore[attr-defined, no-any-return]


def _plan_or_404(request: HttpRequest, plan_id: uuid.UUID) -> Plan:
    console = _console(request)
    plan = Plan.objects.filter(pk=plan_id).first()
    try:
        visible = plan is not None and can_see(console, plan)
    except Unauthorized:
        if plan is None or plan.region == console.region:
            raise  # the session itself has expired
        visible = False  # the session's credential is not accepted in the plan's region
    if not visible:
        raise Http404("No such plan")
    assert plan is not None
    return plan


# --- the list and one plan ------------------------------------------------------------------


@require_GET
@signin_required
def plan_list(request: HttpRequest) -> HttpResponse:
    plans: list[Plan]
    plans, problem = visible_among(_console(request), Plan.objects.all(), PLANS_SHOWN)
    plans.sort(key=lambda p: (p.name.casefold(), p.created_at))
    context = {"rows": plan_rows(plans, timezone.now()), "problem": problem}
    return TemplateResponse(request, "fleet/plan_list.html", context)


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def plan_detail(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    now = timezone.now()
    views = rule_views(plan, now)
    runs = run_rows(plan, views)
    context: dict[str, Any] = {"plan": plan, "rules": views, "runs": runs, "live": live(runs)}
    if request.htmx and not request.htmx.history_restore_request:
        status = 200 if context["live"] else HTMX_STOP_POLLING
        return TemplateResponse(request, "fleet/plan_detail.html#plan-runs", context, status=status)
    context |= {
        "state": plan_state(plan, last_finished_run(plan)),
        "selection": selection_text(plan),
        "stamp": stamp(plan),
        "token": uuid.uuid4(),
    }
    try:
        context["volumes"] = plan_volumes(
            session_client(_console(request), plan.region), plan, views, now
        )
    except Unauthorized as error:
        if plan.region == _console(request).region:
            raise
        context["volumes_error"] = error
    except ApiError as error:
        context["volumes_error"] = error
    return TemplateResponse(request, "fleet/plan_detail.html", context)


@require_GET
@signin_required
def plan_dry_run(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    now = timezone.now()
    context = {"plan": plan, "dry_run": dry_run_of(plan, rule_views(plan, now), now)}
    return TemplateResponse(request, "fleet/plan_dry_run.html", context)


# --- the form -------------------------------------------------------------------------------


@cache
def time_zones() -> list[str]:
    return sorted(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})


def _render_form(
    request: HttpRequest,
    form: PlanForm,
    rules: Any,
    choices: VolumeChoices,
    plan: Plan | None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "rules": rules,
        "choices": choices,
        "plan": plan,
        "time_zones": time_zones(),
        "secret_typed": bool(request.POST.get("key_secret")),
    }
    return TemplateResponse(request, "fleet/plan_form.html", context, status=status)


def _posted_region(request: HttpRequest, plan: Plan | None) -> str:
    region = str(request.POST.get("region") or "")
    if region in settings.BYCLOUD_REGIONS:
        return region
    return plan.region if plan is not None else _console(request).region


def _as_typed(
    form: PlanForm, choices: VolumeChoices, plan: Plan | None, *, region: str
) -> PlanForm:
    """The form as typed, unchecked (after adding or removing a rule, or choosing a region);
    chosen volumes of another region are let go with it."""
    typed = {name: form[name].value() for name in form.fields if name != "key_secret"}
    typed["region"] = region
    if region != form.data.get("shown_region", region):
        listed = {v.id for v in choices.volumes}
        typed["volume_ids"] = [v for v in typed["volume_ids"] or [] if v in listed]
    return PlanForm(initial=typed, volumes=choices.volumes, plan=plan)


def _removed_row(request: HttpRequest) -> int | None:
    value = str(request.POST.get("remove_rule") or "")
    return int(value) if value.isdigit() else None


def _plan_form(request: HttpRequest, plan: Plan | None) -> HttpResponse:
    console = _console(request)
    if request.method == "GET":
        region = plan.region if plan is not None else console.region
        choices = volume_choices(console, region)
        if plan is None:
            initial: dict[str, Any] = {"region": region}
            rows: list[dict[str, Any]] = [dict(NEW_RULE)]
        else:
            initial = PlanForm.initial_of(plan)
            rows = [rule_initial(r) for r in plan.rules.order_by("position")]
        form = PlanForm(initial=initial, volumes=choices.volumes, plan=plan)
        return _render_form(request, form, RuleFormSet(initial=rows), choices, plan)

    region = _posted_region(request, plan)
    choices = volume_choices(console, region)
    form = PlanForm(request.POST, volumes=choices.volumes, complete=choices.complete, plan=plan)
    rules = RuleFormSet(request.POST)
    action = str(request.POST.get("action") or "")
    removed = _removed_row(request)
    if action in ("add_rule", "region") or removed is not None:
        rules = rules.edited(add=action == "add_rule", remove=removed)
        typed = _as_typed(form, choices, plan, region=region)
        return _render_form(request, typed, rules, choices, plan)

    valid = form.is_valid()
    valid = rules.is_valid() and valid
    if valid:
        key = plan_key(form, plan)
        probes = probes_for(console, form, plan) if key is not None else None
        if key is not None and probes is not None and check_key(form, key, probes):
            saved = save_plan(
                console, form, rules, plan=plan, key=key, probes=probes, now=timezone.now()
            )
            _audit(request, saved, "create" if plan is None else "edit", key_id=saved.key_id)
            messages.success(request, f"Plan “{saved.name}” saved.")
            return redirect("plan-detail", plan_id=saved.pk)
    return _render_form(request, form, rules, choices, plan, status=400)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("key_secret")
@writable_session_required
def plan_create(request: HttpRequest) -> HttpResponse:
    return _plan_form(request, None)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("key_secret")
@writable_session_required
def plan_edit(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    return _plan_form(request, _plan_or_404(request, plan_id))


# --- changes --------------------------------------------------------------------------------


def _audit(request: HttpRequest, plan: Plan, change: str, **params: object) -> None:
    """A change to a plan on Activity (its ID and name, never its key's secret)."""
    record(
        request,
        Action.PLAN_CHANGE,
        Outcome.SUCCEEDED,
        params={"plan": str(plan.pk), "name": plan.name, "change": change, **params},
        region=plan.region,
    )


@require_POST
@writable_session_required
def plan_pause(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    now = timezone.now()
    Plan.objects.filter(pk=plan.pk).update(
        paused=True,
        paused_reason=f"Paused by hand on {now:%Y-%m-%d %H:%M} UTC.",
        updated_at=now,
    )
    _audit(request, plan, "pause")
    messages.success(request, f"Plan “{plan.name}” paused: no scheduled run starts until resumed.")
    return redirect("plan-detail", plan_id=plan.pk)


@require_POST
@writable_session_required
def plan_resume(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    now = timezone.now()
    Plan.objects.filter(pk=plan.pk).update(
        paused=False, paused_reason="", consecutive_failures=0, updated_at=now
    )
    # Slots that passed while paused are neither run nor recorded as missed.
    plan.rules.update(not_before=now)
    _audit(request, plan, "resume")
    messages.success(request, f"Plan “{plan.name}” resumed: its next scheduled runs will start.")
    return redirect("plan-detail", plan_id=plan.pk)


@require_http_methods(["GET", "POST"])
@writable_session_required
def plan_delete(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    live_runs = list(plan.runs.filter(state__in=("queued", "running")))
    if request.method == "GET":
        context = {"plan": plan, "live_runs": live_runs, "runs": plan.runs.count()}
        return TemplateResponse(request, "fleet/plan_delete.html", context)
    for run in live_runs:
        request_cancel(run)
    name = plan.name
    _audit(request, plan, "delete")
    plan.delete()  # its rules and its stored key with it; runs keep their history
    messages.success(request, f"Plan “{name}” deleted, with its stored API key.")
    return redirect("plan-list")


@require_POST
@writable_session_required
def plan_run_now(request: HttpRequest, plan_id: uuid.UUID) -> HttpResponse:
    plan = _plan_or_404(request, plan_id)
    rule_id = str(request.POST.get("rule") or "")
    rule = plan.rules.filter(pk=int(rule_id)).first() if rule_id.isdigit() else None
    rule = rule or plan.rules.order_by("position").first()
    token = str(request.POST.get("token") or "")
    if rule is None or not is_uuid(token):
        messages.error(request, "This page is out of date: press Run now again.")
        return redirect("plan-detail", plan_id=plan.pk)
    job_id = job_id_for(canonical_uuid(token), f"{plan.pk}:{rule.pk}")
    run = start_run(plan, rule, trigger=RunTrigger.MANUAL, job_id=job_id)
    if run is None and not Job.objects.filter(pk=job_id, plan=plan).exists():
        messages.error(request, "The run could not be started: press Run now again.")
        return redirect("plan-detail", plan_id=plan.pk)
    if run is not None:
        _audit(request, plan, "run now", run=str(job_id), rule=rule.position)
    return redirect("job-detail", job_id=job_id)
