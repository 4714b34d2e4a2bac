from django.urls import path

from backups.views import (
    create,
    delete,
    detail,
    export,
    listing,
    reconcile,
    restore,
    search,
    volume_pages,
    volumes,
)

urlpatterns = [
    path("", listing.backup_list, name="backup-list"),
    path("backups/status", listing.backup_list_status, name="backup-list-status"),
    path("backups/export.csv", export.backup_export, {"fmt": "csv"}, name="backup-export-csv"),
    path("backups/export.json", export.backup_export, {"fmt": "json"}, name="backup-export-json"),
    path("backups/new", create.backup_create, name="backup-create"),
    path("backups/new/volumes", create.volume_picker, name="volume-picker"),
    path("backups/new/options", create.backup_create_options, name="backup-create-options"),
    path(
        "backups/new/check/<str:token>", reconcile.backup_create_check, name="backup-create-check"
    ),
    path("backups/<uuid:backup_id>", detail.backup_detail, name="backup-detail"),
    path("backups/<uuid:backup_id>/status", detail.backup_status, name="backup-status"),
    path("backups/<uuid:backup_id>/restore", restore.backup_restore, name="backup-restore"),
    path(
        "backups/<uuid:backup_id>/restore/check/<str:token>",
        reconcile.backup_restore_check,
        name="backup-restore-check",
    ),
    path("backups/<uuid:backup_id>/delete", delete.backup_delete, name="backup-delete"),
    path("search", search.search, name="search"),
    path("volumes", volume_pages.volume_list, name="volume-list"),
    path("volumes/<uuid:volume_id>", volume_pages.volume_detail, name="volume-detail"),
    path("volumes/<uuid:volume_id>/status", volumes.volume_status, name="volume-status"),
]
