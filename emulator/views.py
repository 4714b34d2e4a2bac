"""The /v1 operations of openapi.yaml. Each view returns (status, JSON body)."""

from __future__ import annotations

import re
import sqlite3
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from emulator import lifecycle
from emulator.clock import iso
from emulator.errors import bad_request, conflict, not_found
from emulator.request import Call, Context

Response = tuple[int, dict[str, Any]]

_NAMES = {"volumes": "Volume", "snapshots": "Snapshot", "backups": "Backup"}

# Rules the contract states in prose but OpenAPI 3.0 cannot express (no `propertyNames`):
# metadata keys are 1-255 characters of letters, digits, space and - _ : . / (ASCII only).
_METADATA_KEY_RE = re.compile(r"[A-Za-z0-9 _:./-]{1,255}")
# The emulator's own documented extra, not in the contract: volumes of at most 16 TiB.
MAX_VOLUME_SIZE_GB = 16384


# helpers ------------------------------------------------------------------------------------
def _body(call: Call) -> dict[str, Any]:
    """The validated body, after the domain's rules on metadata keys."""
    for key in call.body.get("metadata", {}):
        if not _METADATA_KEY_RE.fullmatch(key):
            raise bad_request(
                "Invalid metadata",
                f"Metadata key {key[:40]!r} must be 1-255 characters of letters, digits, "
                "space and - _ : . /",
            )
    return call.body


def _get(ctx: Context, table: str, item_id: str) -> sqlite3.Row:
    row = ctx.store.get(table, item_id, ctx.org)
    if row is None:
        raise not_found(f"{_NAMES[table]} not found", f"No {_NAMES[table].lower()} {item_id}")
    return row


def _volume_json(ctx: Context, row: sqlite3.Row) -> dict[str, Any]:
    return ctx.shapes.volume(row, ctx.store.attachments([row["id"]])[row["id"]])


def _list(
    ctx: Context,
    call: Call,
    table: str,
    extra: tuple[str, ...],
) -> tuple[list[sqlite3.Row], dict[str, Any], dict[str, Any]]:
    """Common list handling: limit, marker, name/status filters, meta and links."""
    query = call.query
    limit = query["limit"]  # the contract's default applies
    filters: list[tuple[str, Any]] = []
    kept: dict[str, str] = {}
    name = query.get("name")
    if name is not None:
        kept["name"] = name
        if name.endswith("*"):
            prefix = name[:-1]
            filters.append((f"substr(name, 1, {len(prefix)}) = ?", prefix))
        else:
            filters.append(("name = ?", name))
    status = query.get("status")
    if status is not None:
        kept["status"] = status
        filters.append(("lower(status) = ?", status.lower()))
    for key in extra:
        if key in query:
            kept[key] = call.raw_query[key]
            if key == "volume_id":
                filters.append(("volume_id = ?", query[key]))
            elif key == "bootable":
                filters.append(("bootable = ?", int(query[key])))
    marker = query.get("marker")
    if marker is not None and ctx.store.get(table, marker, ctx.org) is None:
        raise bad_request("Invalid marker", f"Marker {marker} is not a known {table[:-1]} ID")
    page = ctx.store.page(table, ctx.org, filters, limit, marker)

    def link(page_marker: str | None) -> str:
        params = {**kept, "limit": str(limit)}
        if page_marker is not None:
            params["marker"] = page_marker
        return f"{call.base_url}{call.path}?{urlencode(params)}"

    meta = {
        "total": page.total,
        "limit": limit,
        "marker": page.next_marker,
        "has_more": page.next_marker is not None,
    }
    links = {
        "self": link(marker),
        "next": link(page.next_marker) if page.next_marker else None,
        "previous": link(page.previous_marker) if page.previous else None,
    }
    return page.rows, meta, links


def _now(ctx: Context) -> str:
    return iso(ctx.now)


# volumes ------------------------------------------------------------------------------------
def list_volumes(ctx: Context, call: Call) -> Response:
    rows, meta, links = _list(ctx, call, "volumes", ("bootable",))
    attachments = ctx.store.attachments([r["id"] for r in rows])
    volumes = [ctx.shapes.volume(r, attachments[r["id"]]) for r in rows]
    return 200, {"volumes": volumes, "meta": meta, "links": links}


def create_volume(ctx: Context, call: Call) -> Response:
    body = _body(call)
    size = body["size"]
    if size > MAX_VOLUME_SIZE_GB:
        raise bad_request(
            "Invalid request body", f"Field 'size' must be at most {MAX_VOLUME_SIZE_GB} (GB)"
        )
    bootable = False
    if "snapshot_id" in body:
        snap = _get(ctx, "snapshots", body["snapshot_id"])
        if snap["status"] != "available":
            raise bad_request("Snapshot is not available", f"Snapshot is {snap['status']}")
        if size < snap["size"]:
            raise bad_request("Volume too small", f"Size must be at least {snap['size']} GB")
    if "source_volume_id" in body:
        source = _get(ctx, "volumes", body["source_volume_id"])
        if size < source["size"]:
            raise bad_request("Volume too small", f"Size must be at least {source['size']} GB")
        bootable = bool(source["bootable"])
    if "image_id" in body:
        bootable = True
    now = _now(ctx)
    volume_id = str(uuid.uuid4())
    ctx.store.insert(
        "volumes",
        {
            "id": volume_id,
            "org": ctx.org,
            "name": body.get("name"),
            "description": body.get("description"),
            "status": "creating",
            "size": size,
            "volume_type": body.get("volume_type", "standard"),
            "bootable": bootable,
            "encrypted": False,
            "multiattach": body.get("multiattach", False),
            "source_volume_id": body.get("source_volume_id"),
            "snapshot_id": body.get("snapshot_id"),
            "image_id": body.get("image_id"),
            "metadata": body.get("metadata", {}),
            "created_at": now,
            "updated_at": now,
        },
    )
    lifecycle.schedule(
        ctx.store,
        "volume_create",
        ctx.now + ctx.durations.volume(size),
        fail=ctx.take_failure(),
        volume_id=volume_id,
    )
    return 202, {"volume": _volume_json(ctx, _get(ctx, "volumes", volume_id))}


def get_volume(ctx: Context, call: Call, volume_id: str) -> Response:
    row = _get(ctx, "volumes", volume_id)
    return 200, {"volume": _volume_json(ctx, row)}


def update_volume(ctx: Context, call: Call, volume_id: str) -> Response:
    body = _body(call)
    _get(ctx, "volumes", volume_id)
    if body:
        ctx.store.update("volumes", volume_id, {**body, "updated_at": _now(ctx)})
    return 200, {"volume": _volume_json(ctx, _get(ctx, "volumes", volume_id))}


# snapshots ----------------------------------------------------------------------------------
def list_snapshots(ctx: Context, call: Call) -> Response:
    rows, meta, links = _list(ctx, call, "snapshots", ("volume_id",))
    return 200, {"snapshots": [ctx.shapes.snapshot(r) for r in rows], "meta": meta, "links": links}


def _require_volume_ready(volume: sqlite3.Row, body: dict[str, Any], what: str) -> None:
    """A volume can be copied when available, or in-use with force (409 otherwise)."""
    status = volume["status"]
    if not (status == "available" or (status == "in-use" and body.get("force", False))):
        hint = " (attached: pass force: true)" if status == "in-use" else ""
        raise conflict(f"Volume is not in a state that allows {what}", f"Volume is {status}{hint}")


def create_snapshot(ctx: Context, call: Call) -> Response:
    body = _body(call)
    volume = _get(ctx, "volumes", body["volume_id"])
    _require_volume_ready(volume, body, "a snapshot")
    now = _now(ctx)
    snapshot_id = str(uuid.uuid4())
    ctx.store.insert(
        "snapshots",
        {
            "id": snapshot_id,
            "org": ctx.org,
            "volume_id": volume["id"],
            "name": body.get("name"),
            "description": body.get("description"),
            "status": "creating",
            "size": volume["size"],
            "metadata": body.get("metadata", {}),
            "created_at": now,
            "updated_at": now,
        },
    )
    lifecycle.schedule(
        ctx.store,
        "snapshot_create",
        ctx.now + ctx.durations.snapshot(volume["size"]),
        fail=ctx.take_failure(),
        snapshot_id=snapshot_id,
    )
    return 202, {"snapshot": ctx.shapes.snapshot(_get(ctx, "snapshots", snapshot_id))}


def get_snapshot(ctx: Context, call: Call, snapshot_id: str) -> Response:
    row = _get(ctx, "snapshots", snapshot_id)
    return 200, {"snapshot": ctx.shapes.snapshot(row)}


# backups ------------------------------------------------------------------------------------
def list_backups(ctx: Context, call: Call) -> Response:
    rows, meta, links = _list(ctx, call, "backups", ("volume_id",))
    return 200, {"backups": [ctx.shapes.backup(r) for r in rows], "meta": meta, "links": links}


def create_backup(ctx: Context, call: Call) -> Response:
    body = _body(call)
    volume = _get(ctx, "volumes", body["volume_id"])
    snapshot = None
    if "snapshot_id" in body:
        snapshot = _get(ctx, "snapshots", body["snapshot_id"])
        if snapshot["volume_id"] != volume["id"]:
            raise bad_request(
                "Snapshot does not belong to the volume",
                f"Snapshot {snapshot['id']} is of volume {snapshot['volume_id']}",
            )
        if snapshot["status"] != "available":
            raise conflict(
                "Snapshot is not in a state that allows backup", f"Snapshot is {snapshot['status']}"
            )
    else:
        _require_volume_ready(volume, body, "backup")
    parent_id = None
    if body.get("incremental", False):
        parent = ctx.store.latest_available_backup(volume["id"])
        if parent is None:
            raise bad_request(
                "No backups available to do an incremental backup",
                f"Volume {volume['id']} has no available backup",
            )
        parent_id = parent["id"]
    now = _now(ctx)
    backup_id = str(uuid.uuid4())
    ctx.store.insert(
        "backups",
        {
            "id": backup_id,
            "org": ctx.org,
            "volume_id": volume["id"],
            "name": body.get("name"),
            "description": body.get("description"),
            "status": "creating",
            "size": volume["size"],
            "container": body.get("container"),
            "is_incremental": parent_id is not None,
            "parent_id": parent_id,
            "snapshot_id": snapshot["id"] if snapshot is not None else None,
            "metadata": body.get("metadata", {}),
            "fail_reason": None,
            "data_timestamp": snapshot["created_at"] if snapshot is not None else now,
            "created_at": now,
            "updated_at": now,
        },
    )
    source_table, source = ("snapshots", snapshot) if snapshot is not None else ("volumes", volume)
    ctx.store.update(source_table, source["id"], {"status": "backing-up", "updated_at": now})
    lifecycle.schedule(
        ctx.store,
        "backup_create",
        ctx.now + ctx.durations.backup(volume["size"]),
        fail=ctx.take_failure(),
        backup_id=backup_id,
        volume_id=volume["id"],
        snapshot_id=snapshot["id"] if snapshot is not None else None,
        prev_status=source["status"],
    )
    return 202, {"backup": ctx.shapes.backup(_get(ctx, "backups", backup_id))}


def get_backup(ctx: Context, call: Call, backup_id: str) -> Response:
    row = _get(ctx, "backups", backup_id)
    return 200, {"backup": ctx.shapes.backup(row)}


def delete_backup(ctx: Context, call: Call, backup_id: str) -> Response:
    backup = _get(ctx, "backups", backup_id)
    if backup["status"] not in ("available", "error"):
        raise conflict(
            "Backup is not in a state that allows deletion",
            f"Backup is {backup['status']}; only available or error backups can be deleted",
        )
    if backup["has_dependent_backups"]:
        raise conflict(
            "Incremental backups exist for this backup",
            "Delete the incremental backups first (newest first)",
        )
    ctx.store.update("backups", backup["id"], {"status": "deleting", "updated_at": _now(ctx)})
    lifecycle.schedule(
        ctx.store,
        "backup_delete",
        ctx.now + ctx.durations.delete(),
        fail=ctx.take_failure(),
        backup_id=backup["id"],
    )
    return 202, {"backup": ctx.shapes.backup(_get(ctx, "backups", backup["id"]))}


def restore_backup(ctx: Context, call: Call, backup_id: str) -> Response:
    body = _body(call)
    backup = _get(ctx, "backups", backup_id)
    if backup["status"] != "available":
        raise conflict("Backup is not in restorable state", f"Backup is {backup['status']}")
    now = _now(ctx)
    if "volume_id" in body:
        volume = _get(ctx, "volumes", body["volume_id"])
        if volume["status"] != "available":
            raise conflict("Volume is not available for restore", f"Volume is {volume['status']}")
        if volume["size"] < backup["size"]:
            raise bad_request(
                "Volume is too small for the backup",
                f"Volume is {volume['size']} GB; the backup needs {backup['size']} GB",
            )
        volume_id = volume["id"]
        ctx.store.update("volumes", volume_id, {"status": "restoring-backup", "updated_at": now})
    else:
        volume_id = str(uuid.uuid4())
        ctx.store.insert(
            "volumes",
            {
                "id": volume_id,
                "org": ctx.org,
                "name": body.get("name") or f"restore-{backup_id}",
                "description": None,
                "status": "restoring-backup",
                "size": backup["size"],
                "volume_type": "standard",
                "bootable": False,
                "encrypted": False,
                "multiattach": False,
                "source_volume_id": None,
                "snapshot_id": None,
                "image_id": None,
                "metadata": {},
                "created_at": now,
                "updated_at": now,
            },
        )
    ctx.store.update("backups", backup_id, {"status": "restoring", "updated_at": now})
    lifecycle.schedule(
        ctx.store,
        "backup_restore",
        ctx.now + ctx.durations.restore(backup["size"]),
        fail=ctx.take_failure(),
        backup_id=backup_id,
        volume_id=volume_id,
    )
    return 202, {"volume_id": volume_id}


# The contract's operationId -> view; app.py routes each operation of the contract here.
OPERATIONS: dict[str, Callable[..., Response]] = {
    "listVolumes": list_volumes,
    "createVolume": create_volume,
    "getVolume": get_volume,
    "updateVolume": update_volume,
    "listSnapshots": list_snapshots,
    "createSnapshot": create_snapshot,
    "getSnapshot": get_snapshot,
    "listBackups": list_backups,
    "createBackup": create_backup,
    "getBackup": get_backup,
    "deleteBackup": delete_backup,
    "restoreBackup": restore_backup,
}
