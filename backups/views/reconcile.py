"""After a create or restore whose outcome is unknown: "did ByCloud make it?"

The page that answers a create (or restore) POST that timed out, lost its connection, or got a
502/504, and the URL it polls (``backups.reconcile``): it looks for what the change would have
made, shows it when found (and records the token as done with it, so any later resubmission
leads there), keeps looking for a short while, and only when nothing appeared offers a
deliberate new attempt: a separate POST with a fresh token and ``confirm_after_check`` naming
the attempt that was checked, carrying every field as typed. Without JavaScript, the page has a
"Check again" link instead of polling.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING

from audit import record as audit
from backups import idempotency, reconcile
from backups.alerts import Alert
from backups.idempotency import Intent
from backups.reconcile import CREATE_SCOPE, KIND_BACKUP, KIND_RESTORE, RESTORE_SCOPE, State
from console.decorators import writable_session_required

#: The field a deliberate new attempt carries: the token of the attempt that was checked.
CONFIRM_FIELD = "confirm_after_check"
#: Fields of a POST that are not "what was typed".
_NOT_TYPED = frozenset({"csrfmiddlewaretoken", "token", "action", CONFIRM_FIELD})
CHECKING_HINT = "The console is checking whether ByCloud made the change; nothing is sent again."


def owner_key(request: HttpRequest) -> str:
    """Who may reconcile an intent: this credential in this region (never the credential)."""
    return str(request.console.cache_key("reconcile"))


def typed_fields(data: QueryDict) -> tuple[tuple[str, str], ...]:
    """The form as typed, every value of every field, for a deliberate new attempt."""
    return tuple(
        (name, value) for name, values in data.lists() if name not in _NOT_TYPED for value in values
    )


def intent_for(request: HttpRequest, scope: str, token: str) -> Intent | None:
    """The intent remembered with ``token``, if this session made it."""
    if not idempotency.is_valid_token(token):
        return None
    intent = idempotency.recall(scope, token)
    if intent is None or intent.owner != owner_key(request):
        return None
    return intent


def respond(
    request: HttpRequest,
    *,
    scope: str,
    token: str,
    intent: Intent,
    alert: Alert | None = None,
    status: int = 200,
) -> HttpResponse:
    """Look once more and show what was found: the whole page, or (htmx) the polled part,
    answering 286 once the answer is final."""
    earlier = idempotency.lookup(scope, token)
    if earlier.done:
        check = reconcile.Check(State.FOUND, found_id=earlier.result_id or "")
    else:
        check = reconcile.check(request.console.client(), intent)
        if check.state is State.FOUND:
            idempotency.complete(scope, token, check.found_id)
            _audit_found(request, intent, check.found_id)
    context = _context(intent, token, check)
    if alert is not None:
        context["alert"] = dataclasses.replace(alert, hint=CHECKING_HINT)
    if request.htmx and not request.htmx.history_restore_request:
        final = check.state is not State.CHECKING
        return TemplateResponse(
            request,
            "backups/reconcile.html#reconcile",
            context,
            status=HTMX_STOP_POLLING if final else 200,
        )
    return TemplateResponse(request, "backups/reconcile.html", context, status=status)


def _audit_found(request: HttpRequest, intent: Intent, found_id: str) -> None:
    """The follow-up of an audit entry whose outcome was unknown: the change was made."""
    restore = intent.kind == KIND_RESTORE
    params = {"reconciled": True, "name": intent.name, "volume": intent.volume_id}
    if restore:
        params["result_volume"] = found_id
    audit.record(
        request,
        audit.RESTORE if restore else audit.CREATE,
        audit.SUCCEEDED,
        target=intent.backup_id if restore else found_id,
        target_kind=audit.BACKUP,
        confirmed=True,
        params=params,
    )


def _context(intent: Intent, token: str, check: reconcile.Check) -> dict[str, Any]:
    restore = intent.kind == KIND_RESTORE
    if restore:
        poll_url = reverse("backup-restore-check", args=[intent.backup_id, token])
        retry_url = reverse("backup-restore", args=[intent.backup_id])
        found_url = f"{retry_url}?volume={check.found_id}" if check.found_id else ""
        back_url = reverse("backup-detail", args=[intent.backup_id])
    else:
        poll_url = reverse("backup-create-check", args=[token])
        retry_url = reverse("backup-create")
        found_url = reverse("backup-detail", args=[check.found_id]) if check.found_id else ""
        back_url = reverse("backup-list")
    return {
        "intent": intent,
        "restore": restore,
        "existing_target": restore and bool(intent.volume_id),
        "volume_name": reconcile.restore_volume_name(intent) if restore else "",
        "check": check,
        "checking": check.state is State.CHECKING,
        "found": check.state is State.FOUND,
        "nothing": check.state is State.NOTHING,
        "found_url": found_url,
        "poll_url": poll_url,
        "back_url": back_url,
        "retry_url": retry_url,
        "retry_fields": intent.fields,
        "retry_token": idempotency.new_token() if check.state is State.NOTHING else "",
        "checked_token": token,
        "confirm_field": CONFIRM_FIELD,
        "window_seconds": reconcile.WINDOW_SECONDS,
        "poll_seconds": reconcile.POLL_SECONDS,
    }


@require_GET
@writable_session_required
@vary_on_headers("HX-Request")
def backup_create_check(request: HttpRequest, token: str) -> HttpResponse:
    """Whether the create submitted with ``token`` made a backup (polled while looking)."""
    intent = intent_for(request, CREATE_SCOPE, token)
    if intent is None or intent.kind != KIND_BACKUP:
        raise Http404("No such submission")
    return respond(request, scope=CREATE_SCOPE, token=token, intent=intent)


@require_GET
@writable_session_required
@vary_on_headers("HX-Request")
def backup_restore_check(request: HttpRequest, backup_id: Any, token: str) -> HttpResponse:
    """Whether the restore submitted with ``token`` started (polled while looking)."""
    intent = intent_for(request, RESTORE_SCOPE, token)
    if intent is None or intent.kind != KIND_RESTORE or intent.backup_id != str(backup_id):
        raise Http404("No such submission")
    return respond(request, scope=RESTORE_SCOPE, token=token, intent=intent)
