"""Job pages: the list, one job with its live progress (polled while it runs), and cancel."""

from __future__ import annotations

import uuid

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from console.decorators import signin_required, writable_session_required
from console.session import ConsoleSession
from fleet.jobs import request_cancel, visible_job, visible_jobs
from fleet.models import Job
from fleet.progress import JobProgress


def _job_or_404(request: HttpRequest, job_id: uuid.UUID) -> Job:
    console: ConsoleSession = request.console  # type: ignore[attr-defined]
    job = visible_job(console, job_id)
    if job is None:
        raise Http404("No such job")
    return job


@require_GET
@signin_required
def job_list(request: HttpRequest) -> HttpResponse:
    jobs, problem = visible_jobs(request.console)  # type: ignore[attr-defined]
    return TemplateResponse(request, "fleet/job_list.html", {"jobs": jobs, "problem": problem})


@require_GET
@signin_required
@vary_on_headers("HX-Request")
def job_detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    progress = JobProgress.of(_job_or_404(request, job_id))
    context = {"progress": progress, "job": progress.job}
    if request.htmx and not request.htmx.history_restore_request:
        status = 200 if progress.job.is_live else HTMX_STOP_POLLING
        return TemplateResponse(
            request, "fleet/job_detail.html#job-progress", context, status=status
        )
    return TemplateResponse(request, "fleet/job_detail.html", context)


@require_POST
@writable_session_required
def job_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_or_404(request, job_id)
    request_cancel(job)
    return redirect("job-detail", job_id=job.pk)
