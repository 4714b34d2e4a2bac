"""Create a backup.

The form works without JavaScript: its helpers (search volumes, more volumes, use this volume,
add or remove a metadata row) are submit buttons with an ``action`` that re-render the whole
form with everything typed kept; with htmx the same URLs answer with just the fragment that
changed. API failures never lose the form: it comes back with every value, the API's message and
request ID at the top, and the error on the field it concerns. A double submit creates one
backup (``backups.idempotency``). A create whose outcome is unknown (a timeout, a broken
connection, a 502 or 504) is never offered again as it was: the console reconciles first
(``backups.views.reconcile``). A 401 is left to the middleware (back to sign-in).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from audit import record as audit
from backups import form_stash, idempotency, receipt, reconcile
from backups.alerts import Alert, make_alert
from backups.api import ApiError, ByCloudClient, Unauthorized
from backups.forms import (
    BackupCreateForm,
    BaseMetadataFormSet,
    MetadataFormSet,
    VolumeContext,
    is_uuid,
)
from backups.picker import (
    Picker,
    load_context,
    load_context_or_alert,
    load_picker,
    with_suggested_name,
)
from backups.views import reconcile as reconcile_views
from console.decorators import writable_session_required

logger = logging.getLogger("bycloud_ui")

IDEMPOTENCY_SCOPE = reconcile.CREATE_SCOPE
#: How long a repeated POST waits for the first one with the same token.
DUPLICATE_WAIT_SECONDS = 5.0
CREATING = "Backup {name} is being created. This page follows its progress."
EXPIRED_NOTICE = "This form had expired. Check the values and submit it again."
UNCERTAIN_NOTICE = (
    "An earlier submission of this form did not get an answer from ByCloud and may have "
    "created the backup. Check the list of backups; submit again only if it is not there."
)
IN_FLIGHT_NOTICE = (
    "This form was already submitted and ByCloud is still working on it. "
    "Check the list of backups before submitting again."
)


def render_create(
    request: HttpRequest,
    *,
    form: BackupCreateForm,
    editor: BaseMetadataFormSet,
    picker: Picker,
    alert: Alert | None = None,
    notice: str = "",
    status: int = 200,
) -> TemplateResponse:
    context = {
        "form": form,
        "editor": editor,
        "picker": picker,
        "alert": alert,
        "notice": notice,
        "volume": form.context.volume,
        "poll_seconds": settings.BYCLOUD_POLL_SECONDS,
    }
    return TemplateResponse(request, "backups/backup_create.html", context, status=status)


#: A metadata row's number in ``remove_metadata_<n>``: ASCII digits only (``str.isdigit()``
#: also accepts "²", which ``int()`` refuses), and short.
_ROW_NUMBER = re.compile(r"[0-9]{1,4}")


def parse_action(value: str) -> tuple[str, str]:
    """``remove_metadata_3`` -> ("remove_metadata", "3"); unknown actions create."""
    for prefix in ("remove_metadata_", "more_volumes_"):
        if value.startswith(prefix):
            return prefix[:-1], value[len(prefix) :]
    if value in {"search_volumes", "choose_volume", "add_metadata"}:
        return value, ""
    return "create", ""


@form_stash.keeps_form(form_stash.CREATE)
@require_http_methods(["GET", "POST"])
@writable_session_required
@vary_on_headers("HX-Request")
def backup_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create_post(request)
    kept, lost = form_stash.take_from_query(request, form_stash.CREATE)
    if kept is not None:
        return _kept_form(request, kept)
    client = request.console.client()
    volume_id = request.GET.get("volume", "").strip()
    search = request.GET.get("volume_search", "")
    marker = request.GET.get("marker", "")
    context, alert = (
        load_context_or_alert(request, client, volume_id) if volume_id else (VolumeContext(), None)
    )
    data = QueryDict(mutable=True)
    data.update({"token": idempotency.new_token(), "volume": volume_id, "volume_search": search})
    data = with_suggested_name(data, context)
    form = BackupCreateForm(initial=data.dict(), context=context)
    notice = (
        "The volume you came from was not found: choose another one." if context.missing else lost
    )
    picker = load_picker(
        request,
        client,
        search=search,
        selected=volume_id,
        selected_volume=context.volume,
        marker=marker if is_uuid(marker) else None,
    )
    return render_create(
        request, form=form, editor=MetadataFormSet(), picker=picker, alert=alert, notice=notice
    )


@dataclass
class CreateSubmission:
    """One POST of the create form: what was typed, the chosen volume, and how to show it all
    again (with the picker) whatever happens next."""

    request: HttpRequest
    client: ByCloudClient
    editor: BaseMetadataFormSet
    data: QueryDict
    form: BackupCreateForm
    alert: Alert | None
    picker_marker: str | None = None

    @classmethod
    def read(
        cls,
        request: HttpRequest,
        editor: BaseMetadataFormSet,
        *,
        token: str,
        action: str,
        argument: str,
        posted: QueryDict | None = None,  # request.POST, or a kept form (form_stash)
    ) -> CreateSubmission:
        posted = request.POST if posted is None else posted
        client = request.console.client()
        volume_id = posted.get("volume", "").strip()
        context, alert = (
            load_context_or_alert(request, client, volume_id)
            if volume_id
            else (VolumeContext(), None)
        )
        data = posted.copy()
        data["token"] = token if idempotency.is_valid_token(token) else idempotency.new_token()
        if action != "create":
            data = with_suggested_name(data, context)
        marker = argument if action == "more_volumes" and is_uuid(argument) else None
        form = BackupCreateForm(data, context=context)
        return cls(request, client, editor, data, form, alert, marker)

    def render(
        self, *, alert: Alert | None = None, notice: str = "", status: int = 200
    ) -> HttpResponse:
        audit.record_create(self, status=status, alert=alert or self.alert)  # a refused submit
        picker = load_picker(
            self.request,
            self.client,
            search=self.data.get("volume_search", ""),
            selected=self.form.context.volume_id,
            selected_volume=self.form.context.volume,
            marker=self.picker_marker,
        )
        return render_create(
            self.request,
            form=self.form,
            editor=self.editor,
            picker=picker,
            alert=alert or self.alert,
            notice=notice,
            status=status,
        )

    def place_api_error(self, error: ApiError) -> None:
        field = self.form.field_for_api_error(error)
        if field == "metadata":
            self.editor.add_non_form_error(error.message)
        elif field is not None:
            self.form.add_error(field, error.message)


def _create_post(request: HttpRequest) -> HttpResponse:
    action, argument = parse_action(request.POST.get("action", "create"))
    editor = MetadataFormSet.from_post(request.POST)
    if action != "create":
        # A helper button: the rows come back as typed (renumbered), not yet checked.
        number = _ROW_NUMBER.fullmatch(argument) if action == "remove_metadata" else None
        remove = int(number.group()) if number else None
        editor = editor.edited(add=action == "add_metadata", remove=remove)
    if action in {"add_metadata", "remove_metadata"} and request.htmx:
        # Just the editor: no API call is needed to add or remove a row.
        return TemplateResponse(
            request, "backups/backup_create.html#metadata-editor", {"editor": editor}
        )
    token = request.POST.get("token", "")
    if action != "create":
        return CreateSubmission.read(
            request, editor, token=token, action=action, argument=argument
        ).render()
    return _submit(request, editor, token)


def _kept_form(request: HttpRequest, kept: form_stash.Kept) -> HttpResponse:
    """A form kept when the session ended, shown as a helper button shows one: every field and
    row as typed, unchecked, with a fresh one-time token (``token=""`` gets a new one)."""
    editor = MetadataFormSet.from_post(kept.data).edited()
    return CreateSubmission.read(
        request, editor, token="", action="restore_form", argument="", posted=kept.data
    ).render(notice=kept.notice)


def _earlier_submission(token: str) -> idempotency.Submission:
    if not idempotency.is_valid_token(token):
        return idempotency.Submission()
    earlier = idempotency.lookup(IDEMPOTENCY_SCOPE, token)
    if earlier.pending:
        earlier = idempotency.wait_for(IDEMPOTENCY_SCOPE, token, seconds=DUPLICATE_WAIT_SECONDS)
    return earlier


def _submit(request: HttpRequest, editor: BaseMetadataFormSet, token: str) -> HttpResponse:
    earlier = _earlier_submission(token)
    if earlier.done:
        return _already_created(request, earlier.result_id or "")
    if earlier.uncertain:
        # This POST repeats one that may have landed: never send it again; look for it.
        intent = reconcile_views.intent_for(request, IDEMPOTENCY_SCOPE, token)
        if intent is not None:
            return reconcile_views.respond(
                request, scope=IDEMPOTENCY_SCOPE, token=token, intent=intent
            )
        token = ""
    checked = _checked_submission(request)
    if checked.done:
        # "Create anyway" after the checked attempt was found after all (another tab's look).
        return _already_created(request, checked.result_id or "")
    submission = CreateSubmission.read(request, editor, token=token, action="create", argument="")
    form = submission.form
    if not idempotency.is_valid_token(token):
        form.is_valid()
        form.add_error(None, UNCERTAIN_NOTICE if earlier.uncertain else EXPIRED_NOTICE)
        return submission.render(status=400)
    form_valid, editor_valid = form.is_valid(), editor.is_valid()
    if submission.alert is not None:
        # The volume could not be looked up: nothing can be checked, so nothing is sent.
        return submission.render(status=submission.alert.error.console_status)
    if not (form_valid and editor_valid):
        return submission.render(status=400)
    if not idempotency.claim(IDEMPOTENCY_SCOPE, token):
        earlier = idempotency.wait_for(IDEMPOTENCY_SCOPE, token, seconds=DUPLICATE_WAIT_SECONDS)
        if earlier.done:
            return _already_created(request, earlier.result_id or "")
        return submission.render(notice=IN_FLIGHT_NOTICE, status=409)
    return _send_create(submission, token)


def _checked_submission(request: HttpRequest) -> idempotency.Submission:
    """The attempt a "Create anyway" follows (its ``confirm_after_check`` token), if any."""
    checked = request.POST.get(reconcile_views.CONFIRM_FIELD, "")
    if not idempotency.is_valid_token(checked):
        return idempotency.Submission()
    return idempotency.lookup(IDEMPOTENCY_SCOPE, checked)


def _send_create(submission: CreateSubmission, token: str) -> HttpResponse:
    request = submission.request
    arguments = submission.form.api_arguments(submission.editor.as_dict())
    intent = idempotency.Intent(
        kind=reconcile.KIND_BACKUP,
        owner=reconcile_views.owner_key(request),
        submitted_at=time.time(),
        volume_id=str(arguments["volume_id"]),
        name=str(arguments.get("name") or ""),
        fields=reconcile_views.typed_fields(request.POST),
    )
    idempotency.remember(IDEMPOTENCY_SCOPE, token, intent)
    try:
        with idempotency.settle_claim(IDEMPOTENCY_SCOPE, token) as attempt:
            sent = submission.client.create_backup_with_request_id(**arguments)  # type: ignore[arg-type]
            backup = sent.value
            attempt.succeeded(backup.id)
    except Unauthorized:
        raise
    except ApiError as error:
        if error.outcome_unknown:
            audit.record_create(submission, audit.UNKNOWN, error=error)
            # It may have been made: look for it before anything is offered again.
            logger.warning("Create backup outcome unknown (%s); reconciling", type(error).__name__)
            return reconcile_views.respond(
                request,
                scope=IDEMPOTENCY_SCOPE,
                token=token,
                intent=idempotency.recall(IDEMPOTENCY_SCOPE, token) or intent,
                alert=make_alert(request, error, "create the backup"),
                status=error.console_status,
            )
        logger.info(
            "Create backup refused: %s %s request_id=%s",
            error.status,
            type(error).__name__,
            error.request_id,
        )
        submission.place_api_error(error)
        return submission.render(
            alert=make_alert(request, error, "create the backup"), status=error.console_status
        )
    audit.record_create(submission, audit.SUCCEEDED, sent=sent)
    receipt.success(request, sent, CREATING.format(name=backup.display_name))
    return HttpResponseRedirect(reverse("backup-detail", args=[backup.id]))


def _already_created(request: HttpRequest, backup_id: str) -> HttpResponse:
    messages.info(
        request, "This form was already submitted: here is the backup it created (only one)."
    )
    return HttpResponseRedirect(reverse("backup-detail", args=[backup_id]))


@require_GET
@writable_session_required
@vary_on_headers("HX-Request")
def volume_picker(request: HttpRequest) -> HttpResponse:
    """The picker's volumes whose name starts with ``volume_search`` (htmx fragment)."""
    search = request.GET.get("volume_search", "")
    selected = request.GET.get("volume", "").strip()
    marker = request.GET.get("marker", "").strip()
    if not request.htmx:
        query = QueryDict(mutable=True)
        query.update({"volume_search": search, "volume": selected, "marker": marker})
        return HttpResponseRedirect(f"{reverse('backup-create')}?{query.urlencode()}")
    client = request.console.client()
    picker = load_picker(
        request,
        client,
        search=search,
        selected=selected,
        marker=marker if is_uuid(marker) else None,
        append=is_uuid(marker),
    )
    if picker.selected and not picker.appended:
        # The selected volume was inserted without details; fetch them for a proper label.
        first = picker.choices[0] if picker.choices else None
        if first is not None and first.id == selected and first.volume is None:
            try:
                first.volume = client.get_volume(selected)
            except Unauthorized:
                raise
            except ApiError:
                pass
    partial = "volume-page" if picker.appended else "volume-choices"
    return TemplateResponse(request, f"backups/backup_create.html#{partial}", {"picker": picker})


@require_GET
@writable_session_required
@vary_on_headers("HX-Request")
def backup_create_options(request: HttpRequest) -> HttpResponse:
    """Snapshot, Incremental and Force for the chosen volume (htmx fragment)."""
    volume_id = request.GET.get("volume", "").strip()
    if not request.htmx:
        query = QueryDict(mutable=True)
        query["volume"] = volume_id
        return HttpResponseRedirect(f"{reverse('backup-create')}?{query.urlencode()}")
    context = load_context(request.console.client(), volume_id)  # errors: the middleware's alert
    data = with_suggested_name(QueryDict(mutable=True), context)
    form = BackupCreateForm(initial={**data.dict(), "volume": volume_id}, context=context)
    return TemplateResponse(
        request,
        "backups/backup_create.html#volume-options",
        {"form": form, "volume": context.volume},
    )
