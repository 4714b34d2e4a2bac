"""Create, restore and delete backups.

Every form here works without JavaScript: the create form's helpers (search volumes, more
volumes, use this volume, add or remove a metadata row) are submit buttons with an ``action``
that re-render the whole form with everything typed kept; with htmx the same URLs answer with
just the fragment that changed. API failures never lose the form: it comes back with every
value, the API's message and request ID at the top, and the error on the field it concerns.
A 401 is left to the middleware (back to sign-in).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HTMX_STOP_POLLING, HttpResponseClientRedirect

from backups import idempotency
from backups.api import (
    ApiError,
    ApiTimeout,
    ApiUnavailable,
    Backup,
    BackupStatus,
    BadRequest,
    ByCloudClient,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    RateLimited,
    Unauthorized,
    Volume,
    VolumeStatus,
)
from backups.decorators import writable_session_required
from backups.forms import (
    TARGET_EXISTING,
    BackupCreateForm,
    MetadataEditor,
    RestoreForm,
    VolumeContext,
    is_uuid,
    suggested_name,
    unbackupable_reason,
)
from backups.session import api_client, mark_read_only
from bycloud_ui.middleware import status_for_api_error, title_for_api_error

logger = logging.getLogger("bycloud_ui")

PICKER_PAGE_SIZE = 10
SNAPSHOT_LIMIT = 100
RESTORE_VOLUME_LIMIT = 1000
IDEMPOTENCY_SCOPE = "backup-create"
#: How long a repeated POST waits for the first one with the same token.
DUPLICATE_WAIT_SECONDS = 5.0
RESTORE_WATCHED = frozenset({VolumeStatus.RESTORING_BACKUP, VolumeStatus.CREATING})


# --- API errors shown inside a form ---------------------------------------------------------


def error_title(error: ApiError, action: str) -> str:
    """The page titles, said of the action where the action is what matters."""
    if isinstance(error, ApiTimeout):
        return f"ByCloud did not answer in time; the {action} may or may not have started"
    if isinstance(error, ApiUnavailable | RateLimited):
        return title_for_api_error(error)
    if isinstance(error, Forbidden):
        return f"Your credential is not allowed to {action}"
    return f"ByCloud refused to {action}"


@dataclass
class Alert:
    """An API error for the alert at the top of a form."""

    title: str
    error: ApiError
    hint: str = ""


def make_alert(request: HttpRequest, error: ApiError, action: str) -> Alert:
    hint = ""
    if isinstance(error, Forbidden):
        mark_read_only(request)
        hint = "This session is now read-only: nothing can be changed with this credential."
    elif isinstance(error, ApiTimeout):
        hint = "Check the list of backups before submitting again."
    elif isinstance(error, RateLimited) and error.retry_after:
        hint = f"Try again in {int(error.retry_after)} seconds."
    return Alert(title=error_title(error, action), error=error, hint=hint)


# --- create: the volume picker --------------------------------------------------------------


@dataclass
class VolumeChoice:
    id: str
    volume: Volume | None = None

    @property
    def reason(self) -> str | None:
        return unbackupable_reason(self.volume) if self.volume is not None else None

    @property
    def disabled(self) -> bool:
        return self.reason is not None


@dataclass
class Picker:
    search: str = ""
    selected: str = ""
    choices: list[VolumeChoice] = field(default_factory=list)
    next_marker: str | None = None
    total: int | None = None
    error: Alert | None = None
    appended: bool = False

    def more_query(self) -> str:
        query = QueryDict(mutable=True)
        query["volume_search"] = self.search
        query["marker"] = self.next_marker or ""
        if self.selected:
            query["volume"] = self.selected
        return query.urlencode()


def name_filter(search: str) -> str | None:
    search = search.strip()
    return f"{search}*" if search else None


def load_picker(
    request: HttpRequest,
    client: ByCloudClient,
    *,
    search: str,
    selected: str,
    selected_volume: Volume | None = None,
    marker: str | None = None,
    append: bool = False,
) -> Picker:
    """One page of volumes whose name starts with ``search``.

    A full list shows the selected volume on top even when another page or search hides it;
    an ``append``-ed page (htmx "More volumes") leaves it out, as it is already on screen.
    """
    picker = Picker(search=search, selected=selected, appended=append)
    try:
        page = client.list_volumes(limit=PICKER_PAGE_SIZE, marker=marker, name=name_filter(search))
    except Unauthorized:
        raise
    except ApiError as error:
        picker.error = make_alert(request, error, "list volumes")
        page = None
    if page is not None:
        picker.choices = [VolumeChoice(v.id, v) for v in page.items]
        picker.next_marker = page.next_marker if page.has_more else None
        picker.total = page.total
    listed = {choice.id for choice in picker.choices}
    if append:
        picker.choices = [c for c in picker.choices if c.id != selected]
    elif selected and selected not in listed and is_uuid(selected):
        picker.choices.insert(0, VolumeChoice(selected, selected_volume))
    return picker


def load_context(client: ByCloudClient, volume_id: str) -> VolumeContext:
    """The chosen volume, its available snapshots and whether it has an available backup.

    Raises ApiError (other than a 404 for the volume) for the caller to show.
    """
    if not is_uuid(volume_id):
        return VolumeContext(volume_id=volume_id)
    try:
        volume = client.get_volume(volume_id)
    except NotFound:
        return VolumeContext(volume_id=volume_id, missing=True)
    snapshots = client.list_snapshots(volume_id=volume_id, status="available", limit=SNAPSHOT_LIMIT)
    backups = client.list_backups(volume_id=volume_id, status="available", limit=1)
    return VolumeContext(
        volume_id=volume_id,
        volume=volume,
        snapshots=tuple(s for s in snapshots.items if s.volume_id == volume_id),
        has_available_backup=any(b.status is BackupStatus.AVAILABLE for b in backups.items),
        loaded=True,
    )


def load_context_or_alert(
    request: HttpRequest, client: ByCloudClient, volume_id: str
) -> tuple[VolumeContext, Alert | None]:
    try:
        return load_context(client, volume_id), None
    except Unauthorized:
        raise
    except ApiError as error:
        return VolumeContext(volume_id=volume_id), make_alert(request, error, "look up the volume")


def with_suggested_name(data: QueryDict, context: VolumeContext) -> QueryDict:
    """Suggest ``<volume>-<date>`` as the name, unless the user typed one of their own."""
    if context.volume is None:
        return data
    suggestion = suggested_name(context.volume, timezone.now().date())
    name = data.get("name", "")
    if name == "" or name == data.get("name_suggested", ""):
        data = data.copy()
        data["name"] = suggestion
        data["name_suggested"] = suggestion
    return data


# --- create: the views ----------------------------------------------------------------------


def render_create(
    request: HttpRequest,
    *,
    form: BackupCreateForm,
    editor: MetadataEditor,
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


def parse_action(value: str) -> tuple[str, str]:
    """``remove_metadata_3`` -> ("remove_metadata", "3"); unknown actions create."""
    for prefix in ("remove_metadata_", "more_volumes_"):
        if value.startswith(prefix):
            return prefix[:-1], value[len(prefix) :]
    if value in {"search_volumes", "choose_volume", "add_metadata"}:
        return value, ""
    return "create", ""


@require_http_methods(["GET", "POST"])
@writable_session_required
@vary_on_headers("HX-Request")
def backup_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create_post(request)
    client = api_client(request)
    volume_id = request.GET.get("volume", "").strip()
    search = request.GET.get("volume_search", "")
    marker = request.GET.get("marker", "")
    context, alert = (
        load_context_or_alert(request, client, volume_id)
        if volume_id
        else (
            VolumeContext(),
            None,
        )
    )
    data = QueryDict(mutable=True)
    data.update({"token": idempotency.new_token(), "volume": volume_id, "volume_search": search})
    data = with_suggested_name(data, context)
    form = BackupCreateForm(initial=data.dict(), context=context)
    notice = ""
    if context.missing:
        notice = "The volume you came from was not found: choose another one."
    picker = load_picker(
        request,
        client,
        search=search,
        selected=volume_id,
        selected_volume=context.volume,
        marker=marker if is_uuid(marker) else None,
    )
    return render_create(
        request, form=form, editor=MetadataEditor(), picker=picker, alert=alert, notice=notice
    )


def _create_post(request: HttpRequest) -> HttpResponse:
    action, argument = parse_action(request.POST.get("action", "create"))
    editor = MetadataEditor.from_data(request.POST)

    if action in {"add_metadata", "remove_metadata"}:
        if action == "add_metadata":
            editor.add_row()
        elif argument.isdigit():
            editor.remove_row(int(argument))
        if request.htmx:
            # Just the editor: no API call is needed to add or remove a row.
            return TemplateResponse(
                request, "backups/backup_create.html#metadata-editor", {"editor": editor}
            )

    client = api_client(request)
    token = request.POST.get("token", "")
    retry_of_uncertain = False
    if action == "create" and idempotency.is_valid_token(token):
        earlier = idempotency.lookup(IDEMPOTENCY_SCOPE, token)
        if earlier.pending:
            earlier = idempotency.wait_for(IDEMPOTENCY_SCOPE, token, seconds=DUPLICATE_WAIT_SECONDS)
        if earlier.done:
            return _already_created(request, earlier.result_id or "")
        retry_of_uncertain = earlier.uncertain
        if retry_of_uncertain:
            token = ""  # a new token below: this POST repeats one that may have landed

    volume_id = request.POST.get("volume", "").strip()
    context, alert = (
        load_context_or_alert(request, client, volume_id) if volume_id else (VolumeContext(), None)
    )
    data = request.POST.copy()
    if not idempotency.is_valid_token(token):
        data["token"] = idempotency.new_token()
    if action != "create":
        data = with_suggested_name(data, context)
    form = BackupCreateForm(data, context=context)

    def again(*, alert: Alert | None = alert, notice: str = "", status: int = 200) -> HttpResponse:
        marker = argument if action == "more_volumes" and is_uuid(argument) else None
        picker = load_picker(
            request,
            client,
            search=data.get("volume_search", ""),
            selected=volume_id,
            selected_volume=context.volume,
            marker=marker,
        )
        return render_create(
            request,
            form=form,
            editor=editor,
            picker=picker,
            alert=alert,
            notice=notice,
            status=status,
        )

    if action != "create":
        return again()

    if not idempotency.is_valid_token(token):
        form.is_valid()
        form.add_error(None, UNCERTAIN_NOTICE if retry_of_uncertain else EXPIRED_NOTICE)
        return again(status=400)

    form_valid = form.is_valid()
    editor_valid = editor.is_valid()
    if alert is not None:
        # The volume could not be looked up: nothing can be checked, so nothing is sent.
        return again(status=status_for_api_error(alert.error))
    if not (form_valid and editor_valid):
        return again(status=400)

    if not idempotency.claim(IDEMPOTENCY_SCOPE, token):
        earlier = idempotency.wait_for(IDEMPOTENCY_SCOPE, token, seconds=DUPLICATE_WAIT_SECONDS)
        if earlier.done:
            return _already_created(request, earlier.result_id or "")
        return again(
            notice="This form was already submitted and ByCloud is still working on it. "
            "Check the list of backups before submitting again.",
            status=409,
        )

    arguments = form.api_arguments(editor.as_dict())
    try:
        backup = client.create_backup(**arguments)  # type: ignore[arg-type]
    except Unauthorized:
        idempotency.release(IDEMPOTENCY_SCOPE, token)
        raise
    except ApiError as error:
        if outcome_unknown(error):
            idempotency.mark_uncertain(IDEMPOTENCY_SCOPE, token)
            data["token"] = idempotency.new_token()
        else:
            idempotency.release(IDEMPOTENCY_SCOPE, token)
        logger.info(
            "Create backup refused: %s %s request_id=%s",
            error.status,
            type(error).__name__,
            error.request_id,
        )
        _attach_create_error(form, editor, error)
        return again(
            alert=make_alert(request, error, "create the backup"),
            status=status_for_api_error(error),
        )
    except BaseException:
        idempotency.release(IDEMPOTENCY_SCOPE, token)
        raise
    idempotency.complete(IDEMPOTENCY_SCOPE, token, backup.id)
    messages.success(
        request, f"Backup {backup.display_name} is being created. This page follows its progress."
    )
    return HttpResponseRedirect(reverse("backup-detail", args=[backup.id]))


EXPIRED_NOTICE = "This form had expired. Check the values and submit it again."
UNCERTAIN_NOTICE = (
    "An earlier submission of this form did not get an answer from ByCloud and may have "
    "created the backup. Check the list of backups; submit again only if it is not there."
)


def outcome_unknown(error: ApiError) -> bool:
    """The create may have reached ByCloud: a timeout or a gateway that gave up waiting."""
    return isinstance(error, ApiTimeout) or error.status in {502, 504}


def _already_created(request: HttpRequest, backup_id: str) -> HttpResponse:
    messages.info(
        request, "This form was already submitted: here is the backup it created (only one)."
    )
    return HttpResponseRedirect(reverse("backup-detail", args=[backup_id]))


def _attach_create_error(form: BackupCreateForm, editor: MetadataEditor, error: ApiError) -> None:
    """Put the API's message on the field it concerns, where that is known."""
    text = f"{error.message} {error.details or ''}".lower()
    message = error.message
    target: str | None = None
    if "snapshot" in text:
        target = "snapshot"
    elif isinstance(error, NotFound):
        target = "volume"
    elif isinstance(error, Conflict):
        target = "force" if form.context.in_use or form.cleaned_data.get("force") else "volume"
    elif isinstance(error, BadRequest):
        if "incremental" in text:
            target = "incremental"
        elif "metadata" in text:
            editor.add_api_error(message)
            return
        else:
            for name in ("description", "container", "name", "volume"):
                if name in text:
                    target = name
                    break
    if target is not None:
        form.add_error(target, message)


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
    client = api_client(request)
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
    context = load_context(api_client(request), volume_id)  # errors: the middleware's alert
    data = with_suggested_name(QueryDict(mutable=True), context)
    form = BackupCreateForm(initial={**data.dict(), "volume": volume_id}, context=context)
    return TemplateResponse(
        request,
        "backups/backup_create.html#volume-options",
        {"form": form, "volume": context.volume},
    )


# --- restore --------------------------------------------------------------------------------


def eligible_volumes(volumes: list[Volume], backup: Backup) -> list[Volume]:
    return sorted(
        (v for v in volumes if v.status is VolumeStatus.AVAILABLE and v.size >= backup.size),
        key=lambda v: (v.display_name.lower(), v.id),
    )


@require_http_methods(["GET", "POST"])
@writable_session_required
def backup_restore(request: HttpRequest, backup_id: Any) -> HttpResponse:
    client = api_client(request)
    backup_id = str(backup_id)
    started = request.GET.get("volume", "")
    if request.method == "GET" and is_uuid(started):
        return _restore_started(request, client, backup_id, started)

    backup = client.get_backup(backup_id)  # 404 and friends: the middleware's error page
    context: dict[str, Any] = {"backup": backup, "poll_seconds": settings.BYCLOUD_POLL_SECONDS}
    if not backup.can_restore:
        context["refusal"] = (
            f"Only an available backup can be restored; this one is {backup.status.label.lower()}."
        )
        return TemplateResponse(
            request,
            "backups/backup_restore.html",
            context,
            status=409 if request.method == "POST" else 200,
        )
    volumes = client.list_volumes(status="available", limit=RESTORE_VOLUME_LIMIT)
    eligible = eligible_volumes(list(volumes.items), backup)
    form = RestoreForm(request.POST or None, eligible=eligible, backup_size=backup.size)
    context["form"] = form
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                result = client.restore_backup(backup_id, **form.api_arguments())
            except Unauthorized:
                raise
            except ApiError as error:
                context["alert"] = make_alert(request, error, "restore the backup")
                if form.cleaned_data["target"] == TARGET_EXISTING and about_target(error):
                    form.add_error("volume", error.message)
                status = status_for_api_error(error)
            else:
                messages.success(request, f"Restore of {backup.display_name} started.")
                url = reverse("backup-restore", args=[backup_id])
                return HttpResponseRedirect(f"{url}?volume={result.volume_id}")
        else:
            status = 400
    return TemplateResponse(request, "backups/backup_restore.html", context, status=status)


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
        context["volume"] = volume = client.get_volume(volume_id)
        context["watching"] = volume.status in RESTORE_WATCHED
    except Unauthorized:
        raise
    except ApiError as error:
        context["alert"] = make_alert(request, error, "look up the volume")
    return TemplateResponse(request, "backups/backup_restore_started.html", context)


@require_GET
@vary_on_headers("HX-Request")
@writable_session_required
def volume_status(request: HttpRequest, volume_id: Any) -> HttpResponse:
    """A volume's status; polled while a restore runs.

    htmx answers: 204 when the status shown (``?shown=``) has not changed, 286 (stop polling)
    once the volume is no longer restoring or being created, else the new fragment.
    """
    volume = api_client(request).get_volume(str(volume_id))
    watching = volume.status in RESTORE_WATCHED
    context = {
        "volume": volume,
        "watching": watching,
        "poll_seconds": settings.BYCLOUD_POLL_SECONDS,
    }
    if not request.htmx:
        return TemplateResponse(request, "backups/volume_status.html", context)
    if watching and request.GET.get("shown") == volume.status.value:
        return HttpResponse(status=204)
    return TemplateResponse(
        request,
        "backups/volume_status.html#volume-status",
        context,
        status=200 if watching else HTMX_STOP_POLLING,
    )


# --- delete ---------------------------------------------------------------------------------


def delete_refusal(backup: Backup) -> str | None:
    if backup.has_dependent_backups:
        return (
            "Incremental backups depend on this backup, so it cannot be deleted. "
            "Delete its incremental backups first, newest first."
        )
    if backup.status not in (BackupStatus.AVAILABLE, BackupStatus.ERROR):
        return (
            f"This backup is {backup.status.label.lower()}; only an available backup or one "
            "in error can be deleted."
        )
    return None


@require_http_methods(["GET", "POST"])
@writable_session_required
@vary_on_headers("HX-Request")
def backup_delete(request: HttpRequest, backup_id: Any) -> HttpResponse:
    client = api_client(request)
    backup = client.get_backup(str(backup_id))  # 404 and friends: the middleware's error page
    context: dict[str, Any] = {"backup": backup, "refusal": delete_refusal(backup)}
    status = 200
    if request.method == "POST":
        if context["refusal"]:
            status = 409
        else:
            try:
                client.delete_backup(backup.id)
            except Unauthorized:
                raise
            except NotSupported:
                context["not_supported"] = True
                status = 200
            except ApiError as error:
                context["alert"] = make_alert(request, error, "delete the backup")
                status = status_for_api_error(error)
            else:
                messages.success(request, f"Deletion of {backup.display_name} started.")
                target = reverse("backup-list")
                if request.htmx:
                    return HttpResponseClientRedirect(target)
                return HttpResponseRedirect(target)
    if request.htmx:
        # htmx swaps only 2xx answers: the section comes back with the refusal or the error.
        return TemplateResponse(request, "backups/backup_delete.html#backup-delete", context)
    return TemplateResponse(request, "backups/backup_delete.html", context, status=status)
