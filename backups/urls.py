from django.urls import path

from backups.views import actions, auth, browse

urlpatterns = [
    path("signin", auth.signin, name="signin"),
    path("signout", auth.signout, name="signout"),
    path("", browse.backup_list, name="backup-list"),
    path("backups/status", browse.backup_list_status, name="backup-list-status"),
    path("backups/new", actions.backup_create, name="backup-create"),
    path("backups/new/volumes", actions.volume_picker, name="volume-picker"),
    path("backups/new/options", actions.backup_create_options, name="backup-create-options"),
    path("backups/<uuid:backup_id>", browse.backup_detail, name="backup-detail"),
    path("backups/<uuid:backup_id>/status", browse.backup_status, name="backup-status"),
    path("backups/<uuid:backup_id>/restore", actions.backup_restore, name="backup-restore"),
    path("backups/<uuid:backup_id>/delete", actions.backup_delete, name="backup-delete"),
    path("volumes/<uuid:volume_id>/status", actions.volume_status, name="volume-status"),
]
