"""Writing the audit log: the one function the views call, and what it derives from a request.

``record(request, action, outcome, ...)`` adds one :class:`~audit.models.AuditEntry`: when, who
(the credential's kind and fingerprint, never a secret), the region, the target, the parameters
that matter (metadata keys only), the outcome, ByCloud's ``request_id`` (from ``error``), the
console's request id and the client address (the sign-in throttle's own logic).

Recording never breaks the answer: the change has already happened (or not) at ByCloud, so a
database error here is logged, not raised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.crypto import salted_hmac
from django.views.decorators.debug import sensitive_variables

from audit.models import Action, AuditEntry, Outcome, TargetKind
from backups.api import ApiError, ApiKey, BearerToken
from console.throttle import client_address

logger = logging.getLogger("bycloud_ui.audit")

SIGNIN, SIGNOUT, CREATE, RESTORE, DELETE, SWITCH_REGION = (
    Action.SIGNIN,
    Action.SIGNOUT,
    Action.CREATE,
    Action.RESTORE,
    Action.DELETE,
    Action.SWITCH_REGION,
)
SUCCEEDED, FAILED, REFUSED, UNKNOWN = (
    Outcome.SUCCEEDED,
    Outcome.FAILED,
    Outcome.REFUSED,
    Outcome.UNKNOWN,
)
BACKUP, VOLUME = TargetKind.BACKUP, TargetKind.VOLUME
_SALT = "audit.actor"

Credential = BearerToken | ApiKey


# --- who ------------------------------------------------------------------------------------


@sensitive_variables("credential")
def _actor(credential: Credential, secret_key: str) -> str:
    if isinstance(credential, ApiKey):
        return f"key:{credential.key_id}"[:160]
    digest = salted_hmac(_SALT, credential.token, secret=secret_key, algorithm="sha256")
    return f"token:{digest.hexdigest()[:40]}"


def actor_of(credential: Credential) -> str:
    """A stable name for a credential: ``key:<API key id>``, or ``token:<salted HMAC>``."""
    return _actor(credential, settings.SECRET_KEY)


def actors_of(credential: Credential) -> list[str]:
    """The names this credential had under the current and the fallback secret keys, so a key
    rotation does not hide a credential's own history."""
    keys = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return list(dict.fromkeys(_actor(credential, key) for key in keys))


def console_request_id(request: HttpRequest | None) -> str:
    """The console's own request id: ``request.request_id`` when the observability middleware
    sets one, else the ``X-Request-ID`` a proxy sent; none for the worker (no request)."""
    if request is None:
        return ""
    value = getattr(request, "request_id", None) or request.META.get("HTTP_X_REQUEST_ID", "")
    return str(value)[:128]


# --- what -----------------------------------------------------------------------------------


def outcome_of(error: BaseException) -> Outcome:
    """Unknown when the change may have been made; refused when ByCloud said no by its rules
    (a 4xx other than 429); failed otherwise (an outage, a 5xx, a rate limit)."""
    if isinstance(error, ApiError):
        if error.outcome_unknown:
            return Outcome.UNKNOWN
        if error.status is not None and 400 <= error.status < 500 and error.status != 429:
            return Outcome.REFUSED
    return Outcome.FAILED


def create_params(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of a create that matter: never metadata values, never a description."""
    params: dict[str, Any] = {
        "volume": str(arguments.get("volume_id") or arguments.get("volume") or ""),
        "name": str(arguments.get("name") or ""),
        "incremental": bool(arguments.get("incremental")),
        "force": bool(arguments.get("force")),
        "snapshot": str(arguments.get("snapshot_id") or arguments.get("snapshot") or ""),
    }
    metadata = arguments.get("metadata")
    if isinstance(metadata, Mapping) and metadata:
        params["metadata_keys"] = sorted(str(key) for key in metadata)
    return params


def restore_params(data: Mapping[str, Any]) -> dict[str, Any]:
    """A restore's target as the form had it: a new volume (its name, if typed) or an existing
    one (its id)."""
    target = str(data.get("target") or "")
    existing = target == "existing"
    return {
        "restore_target": target,
        "volume": str(data.get("volume") or "").strip() if existing else "",
        "name": "" if existing else str(data.get("new_name") or "").strip(),
    }


def form_reason(*forms: Any) -> str:
    """The errors a refused form showed, as one line (field names and messages, no values)."""
    parts: list[str] = []
    for form in forms:
        errors = getattr(form, "errors", None) or {}
        if isinstance(errors, list):  # a formset: one dict per form
            errors = {key: value for item in errors for key, value in item.items()}
        for field, messages in errors.items():
            label = "form" if field == "__all__" else field
            parts.append(f"{label}: {' '.join(str(message) for message in messages)}")
        for message in getattr(form, "non_form_errors", lambda: [])():
            parts.append(f"form: {message}")
    return "; ".join(parts)


# --- the record -----------------------------------------------------------------------------


def _text(value: object, limit: int) -> str:
    return str(value or "")[:limit]


def record_create(
    submission: Any,
    outcome: Outcome | None = None,
    *,
    status: int = 400,
    alert: Any = None,
    error: BaseException | None = None,
    backup_id: str = "",
    sent: Any = None,
) -> AuditEntry | None:
    """A create's entry, from the create view's submission (its ``request``, ``form``,
    ``editor`` and posted ``data``; duck-typed, so ``audit`` does not import the views).

    On the backup it made, else on the volume it named (confirmed when the console read the
    volume as this credential). Without ``outcome``: an answer of ``status`` 400 or more is a
    refusal by the form's rules (the form's errors are the reason) or, with an ``alert``, the
    outcome of its API error; below 400 nothing is recorded (a helper button, not a submit).
    ``sent``: the success's ``backups.api.Sent`` (the backup it made, ByCloud's request ID).
    """
    request_id = sent.request_id if sent is not None else None
    backup_id = backup_id or (sent.value.id if sent is not None else "")
    if outcome is None and status < 400:
        return None
    error = error or getattr(alert, "error", None)
    if outcome is None:
        outcome = outcome_of(error) if error is not None else Outcome.REFUSED
    form, editor = submission.form, submission.editor
    data: dict[str, Any] = {key: submission.data.get(key) for key in submission.data}
    if editor.is_valid():
        data["metadata"] = editor.as_dict()
    reason = form_reason(form, editor) if outcome is Outcome.REFUSED and error is None else ""
    volume = form.context.volume
    volume_id = volume.id if volume is not None else str(data.get("volume") or "").strip()
    return record(
        submission.request,
        Action.CREATE,
        outcome,
        target=backup_id or volume_id,
        target_kind=TargetKind.BACKUP if backup_id else TargetKind.VOLUME,
        confirmed=bool(backup_id) or volume is not None,
        params=create_params(data),
        error=error,
        reason=reason,
        request_id=request_id,
    )


@sensitive_variables("credential")
def record(
    request: HttpRequest | None,
    action: Action,
    outcome: Outcome,
    *,
    target: str = "",
    target_kind: TargetKind | str = "",
    confirmed: bool = False,
    params: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
    reason: str = "",
    credential: Credential | None = None,
    region: str = "",
    request_id: str | None = None,
) -> AuditEntry | None:
    """Add one entry. ``credential`` and ``region`` default to the signed-in session's (a
    sign-in passes the credential it checked); ``error`` gives the error class and ByCloud's
    ``request_id``, and ``request_id`` that of a success (``Sent.request_id``); ``confirmed``:
    the view read ``target`` as this credential first. The worker passes no ``request``, and
    its job's ``credential`` and ``region``."""
    console = getattr(request, "console", None)
    if credential is None and console:
        credential = console.credential
        region = region or console.region
    if credential is None:
        return None
    if error is not None:
        request_id = getattr(error, "request_id", None) or request_id
    if error is not None and not reason:
        reason = str(getattr(error, "message", "") or "")
    try:
        return AuditEntry.objects.create(
            actor=actor_of(credential),
            credential_kind=credential.kind,
            region=_text(region, 64),
            action=action,
            outcome=outcome,
            target_kind=target_kind if target else "",
            target_id=_text(target, 64).lower(),
            target_confirmed=bool(target) and confirmed,
            params=dict(params or {}),
            error=type(error).__name__ if error is not None else "",
            reason=_text(reason, 500),
            bycloud_request_id=_text(request_id, 128),
            request_id=console_request_id(request),
            client_address=_text(client_address(request), 64) if request else "",
        )
    except Exception:  # the answer must not fail because the log could not be written
        logger.exception("Could not record the audit entry %s %s", action, outcome)
        return None
