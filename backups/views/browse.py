"""Placeholder: the list, detail and status views are being written (issue 3)."""

from django.http import HttpRequest, HttpResponse

from backups.decorators import signin_required


@signin_required
def backup_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("list")


backup_list_status = backup_detail = backup_status = backup_list
