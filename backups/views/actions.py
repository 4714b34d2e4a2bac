"""Placeholder: create, restore and delete are being written (issue 3)."""

from django.http import HttpRequest, HttpResponse

from backups.decorators import signin_required


@signin_required
def backup_create(request: HttpRequest) -> HttpResponse:
    return HttpResponse("create")


volume_picker = backup_create_options = backup_restore = backup_delete = volume_status = (
    backup_create
)
