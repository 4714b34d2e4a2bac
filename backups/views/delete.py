"""Delete a backup: a confirmation that names it, refused up front when the rules say so."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from audit import record as audit
from backups import domain, receipt
from backups.alerts import make_alert
from backups.api import ApiError, NotSupported, Unauthorized
from console.decorators import writable_session_required


@require_http_methods(["GET", "POST"])
@writable_session_required
@vary_on_headers("HX-Request")
def backup_delete(request: HttpRequest, backup_id: Any) -> HttpResponse:
    client = request.console.client()
    backup = client.get_backup(str(backup_id))  # 404 and friends: the middleware's error page
    context: dict[str, Any] = {"backup": backup, "refusal": domain.delete_blocker(backup)}
    status = 200
    if request.method == "POST":
        if context["refusal"]:
            _audit(request, backup.id, audit.REFUSED, reason=context["refusal"])
            status = 409
        else:
            try:
                sent = client.delete_backup_with_request_id(backup.id)
            except Unauthorized as error:
                _audit(request, backup.id, audit.FAILED, error=error)
                raise
            except NotSupported as error:
                _audit(request, backup.id, audit.REFUSED, error=error)
                context["not_supported"] = True
                status = 200
            except ApiError as error:
                _audit(request, backup.id, audit.outcome_of(error), error=error)
                context["alert"] = make_alert(request, error, "delete the backup")
                status = error.console_status
            else:
                _audit(request, backup.id, audit.SUCCEEDED, request_id=sent.request_id)
                receipt.success(request, sent, f"Deletion of {backup.display_name} started.")
                target = reverse("backup-list")
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return HttpResponseRedirect(target)
    if request.htmx:
        # htmx swaps only 2xx answers: the section comes back with the refusal or the error.
        return TemplateResponse(request, "backups/backup_delete.html#backup-delete", context)
    return TemplateResponse(request, "backups/backup_delete.html", context, status=status)


def _audit(request: HttpRequest, backup_id: str, outcome: audit.Outcome, **details: Any) -> None:
    """The audit entry of this delete (the view read the backup first: ``confirmed``)."""
    audit.record(
        request,
        audit.DELETE,
        outcome,
        target=backup_id,
        target_kind=audit.BACKUP,
        confirmed=True,
        **details,
    )
