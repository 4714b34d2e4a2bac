"""Restore a backup to a new volume or into an existing one, then follow the volume.

Like a create, a restore is sent once per submitted form: the form carries a one-time token
(``backups.idempotency``), so a double submit starts one restore (one new volume), and a
restore whose outcome is unknown (a timeout, a broken connection, a 502 or 504) is reconciled
(``backups.views.reconcile``) before it is ever offered again.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from audit import record as audit
from backups import domain, form_stash, idempotency, receipt, reconcile
from backups.alerts import make_alert, read_alert
from backups.api import ApiError, BadRequest, ByCloudClient, Conflict, NotFound, Unauthorized
from backups.forms import TARGET_EXISTING, RestoreForm, is_uuid
from backups.views import reconcile as reconcile_views
from backups.views.volumes import volume_context
from console.decorators import writable_session_required

RESTORE_VOLUME_LIMIT = 1000
IDEMPOTENCY_SCOPE = reconcile.RESTORE_SCOPE
#: How long a repeated POST waits for the first one with the same token.
DUPLICATE_WAIT_SECONDS = 5.0
EXPIRED_NOTICE = "This form had expired. Check the values and submit it again."
IN_FLIGHT_NOTICE = (
    "This form was already submitted and ByCloud is still working on it. "
    "Check the backup's restores before submitting again."
)


@form_stash.keeps_form(form_stash.RESTORE)
@require_http_methods(["GET", "POST"])
@writable_session_required
def backup_restore(request: HttpRequest, backup_id: Any) -> HttpResponse:
    client = request.console.client()
    backup_id = str(backup_id)
    started = request.GET.get("volume", "")
    if request.method == "GET" and is_uuid(started):
        return _restore_started(request, client, backup_id, started)

    token = request.POST.get("token", "") if request.method == "POST" else ""
    if request.method == "POST":
        answered = _answer_repeat(request, backup_id, token)
        if answered is not None:
            return answered

    backup = client.get_backup(backup_id)  # 404 and friends: the middleware's error page
    context: dict[str, Any] = {"backup": backup, "poll_seconds": settings.BYCLOUD_POLL_SECONDS}
    context["refusal"] = domain.restore_blocker(backup)
    if context["refusal"]:
        if request.method == "POST":
            _audit(request, backup.id, audit.REFUSED, reason=context["refusal"])
        return TemplateResponse(
            request,
            "backups/backup_restore.html",
            context,
            status=409 if request.method == "POST" else 200,
        )
    volumes = client.list_volumes(status="available", limit=RESTORE_VOLUME_LIMIT)
    eligible = domain.restore_targets(volumes.items, backup)
    data = None
    if request.method == "POST":
        data = request.POST.copy()
        if not idempotency.is_valid_token(token):
            data["token"] = idempotency.new_token()
    else:  # a form kept when the session ended (form_stash): as typed, with a fresh token
        kept, context["notice"] = form_stash.take_from_query(request, form_stash.RESTORE)
        if kept is not None:
            data = kept.data.copy()
            data["token"] = idempotency.new_token()
    form = RestoreForm(
        data, initial={"token": idempotency.new_token()}, eligible=eligible, backup_size=backup.size
    )
    context["form"] = form
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            _audit(request, backup.id, audit.REFUSED, reason=audit.form_reason(form))
            status = 400
        elif not idempotency.is_valid_token(token):
            form.add_error(None, EXPIRED_NOTICE)  # nothing is sent without a token
            _audit(request, backup.id, audit.REFUSED, reason=EXPIRED_NOTICE)
            status = 400
        elif not idempotency.claim(IDEMPOTENCY_SCOPE, token):
            earlier = idempotency.wait_for(IDEMPOTENCY_SCOPE, token, seconds=DUPLICATE_WAIT_SECONDS)
            if earlier.done:
                return _already_restored(request, backup_id, earlier.result_id or "")
            context["notice"] = IN_FLIGHT_NOTICE
            status = 409
        else:
            return _send_restore(request, client, backup, form, context, token)
    return TemplateResponse(request, "backups/backup_restore.html", context, status=status)


def _audit(request: HttpRequest, backup_id: str, outcome: audit.Outcome, **details: Any) -> None:
    """The audit entry of this restore (the view read the backup first: ``confirmed``)."""
    details.setdefault("params", audit.restore_params(request.POST))
    audit.record(
        request,
        audit.RESTORE,
        outcome,
        target=backup_id,
        target_kind=audit.BACKUP,
        confirmed=True,
        **details,
    )


def _answer_repeat(request: HttpRequest, backup_id: str, token: str) -> HttpResponse | None:
    """The answer to a POST whose token (or the attempt a "Restore anyway" follows) was
    already used: the restore it started, or the look for it; None for a new submission."""
    earlier = idempotency.Submission()
    if idempotency.is_valid_token(token):
        earlier = idempotency.lookup(IDEMPOTENCY_SCOPE, token)
        if earlier.pending:
            earlier = idempotency.wait_for(IDEMPOTENCY_SCOPE, token, seconds=DUPLICATE_WAIT_SECONDS)
    if earlier.done:
        return _already_restored(request, backup_id, earlier.result_id or "")
    if earlier.uncertain:
        intent = reconcile_views.intent_for(request, IDEMPOTENCY_SCOPE, token)
        if intent is not None and intent.backup_id == backup_id:
            return reconcile_views.respond(
                request, scope=IDEMPOTENCY_SCOPE, token=token, intent=intent
            )
    checked = request.POST.get(reconcile_views.CONFIRM_FIELD, "")
    if idempotency.is_valid_token(checked):
        before = idempotency.lookup(IDEMPOTENCY_SCOPE, checked)
        if before.done:
            return _already_restored(request, backup_id, before.result_id or "")
    return None


def _send_restore(
    request: HttpRequest,
    client: ByCloudClient,
    backup: Any,
    form: RestoreForm,
    context: dict[str, Any],
    token: str,
) -> HttpResponse:
    arguments = form.api_arguments()
    intent = idempotency.Intent(
        kind=reconcile.KIND_RESTORE,
        owner=reconcile_views.owner_key(request),
        submitted_at=time.time(),
        volume_id=arguments.get("volume_id", ""),
        name=arguments.get("name", ""),
        backup_id=backup.id,
        fields=reconcile_views.typed_fields(request.POST),
    )
    idempotency.remember(IDEMPOTENCY_SCOPE, token, intent)
    try:
        with idempotency.settle_claim(IDEMPOTENCY_SCOPE, token) as attempt:
            sent = client.restore_backup_with_request_id(backup.id, **arguments)
            result = sent.value
            attempt.succeeded(result.volume_id)
    except Unauthorized as error:
        _audit(request, backup.id, audit.FAILED, error=error)
        raise
    except ApiError as error:
        _audit(request, backup.id, audit.outcome_of(error), error=error)
        alert = make_alert(request, error, "restore the backup")
        if error.outcome_unknown:
            return reconcile_views.respond(
                request,
                scope=IDEMPOTENCY_SCOPE,
                token=token,
                intent=idempotency.recall(IDEMPOTENCY_SCOPE, token) or intent,
                alert=alert,
                status=error.console_status,
            )
        context["alert"] = alert
        if form.cleaned_data["target"] == TARGET_EXISTING and about_target(error):
            form.add_error("volume", error.message)
        return TemplateResponse(
            request, "backups/backup_restore.html", context, status=error.console_status
        )
    params = {**audit.restore_params(request.POST), "result_volume": result.volume_id}
    _audit(request, backup.id, audit.SUCCEEDED, params=params, request_id=sent.request_id)
    receipt.success(request, sent, f"Restore of {backup.display_name} started.")
    url = reverse("backup-restore", args=[backup.id])
    return HttpResponseRedirect(f"{url}?volume={result.volume_id}")


def _already_restored(request: HttpRequest, backup_id: str, volume_id: str) -> HttpResponse:
    messages.info(
        request, "This form was already submitted: here is the restore it started (only one)."
    )
    url = reverse("backup-restore", args=[backup_id])
    return HttpResponseRedirect(f"{url}?volume={volume_id}")


def about_target(error: ApiError) -> bool:
    """Whether a restore error concerns the chosen existing volume (not the backup)."""
    if not isinstance(error, Conflict | BadRequest | NotFound):
        return False
    message = error.message.lower()
    return "volume" in message and not message.startswith("backup")


def _restore_started(
    request: HttpRequest, client: ByCloudClient, backup_id: str, volume_id: str
) -> HttpResponse:
    """After the POST: the target volume, followed until the restore is over."""
    context: dict[str, Any] = {
        "backup_id": backup_id,
        "volume_id": volume_id,
        "poll_seconds": settings.BYCLOUD_POLL_SECONDS,
    }
    try:
        # While it runs: polled; once over: the outcome and a link to the volume's backups.
        context.update(volume_context(client.get_volume(volume_id)))
    except Unauthorized:
        raise
    except ApiError as error:
        context["alert"] = read_alert(error)
    return TemplateResponse(request, "backups/backup_restore_started.html", context)
