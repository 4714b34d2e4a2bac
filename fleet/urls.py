from django.urls import path

from fleet.views import bulk, jobs, plans, protection

urlpatterns = [
    path("protection", protection.protection_overview, name="protection-overview"),
    path("protection/status", protection.protection_status, name="protection-status"),
    path("protection/refresh", protection.protection_refresh, name="protection-refresh"),
    path("jobs", jobs.job_list, name="job-list"),
    path("jobs/<uuid:job_id>", jobs.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", jobs.job_cancel, name="job-cancel"),
    path("jobs/backup", bulk.bulk_backup, name="bulk-backup"),
    path("jobs/delete", bulk.bulk_delete, name="bulk-delete"),
    path("plans", plans.plan_list, name="plan-list"),
    path("plans/new", plans.plan_create, name="plan-create"),
    path("plans/<uuid:plan_id>", plans.plan_detail, name="plan-detail"),
    path("plans/<uuid:plan_id>/edit", plans.plan_edit, name="plan-edit"),
    path("plans/<uuid:plan_id>/pause", plans.plan_pause, name="plan-pause"),
    path("plans/<uuid:plan_id>/resume", plans.plan_resume, name="plan-resume"),
    path("plans/<uuid:plan_id>/delete", plans.plan_delete, name="plan-delete"),
    path("plans/<uuid:plan_id>/run", plans.plan_run_now, name="plan-run-now"),
    path("plans/<uuid:plan_id>/dry-run", plans.plan_dry_run, name="plan-dry-run"),
]
