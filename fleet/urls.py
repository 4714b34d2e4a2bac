from django.urls import path

from fleet.views import bulk, jobs, protection

urlpatterns = [
    path("protection", protection.protection_overview, name="protection-overview"),
    path("protection/status", protection.protection_status, name="protection-status"),
    path("protection/refresh", protection.protection_refresh, name="protection-refresh"),
    path("jobs", jobs.job_list, name="job-list"),
    path("jobs/<uuid:job_id>", jobs.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/cancel", jobs.job_cancel, name="job-cancel"),
    path("jobs/backup", bulk.bulk_backup, name="bulk-backup"),
    path("jobs/delete", bulk.bulk_delete, name="bulk-delete"),
]
