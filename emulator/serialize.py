"""Rows to the contract's JSON shapes: documented fields only."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

REGION = "spo1"


def crn(kind: str, item_id: str) -> str:
    return f"crn:{REGION}:storage:{kind}:{item_id}"


def _metadata(row: sqlite3.Row) -> dict[str, str]:
    value: dict[str, str] = json.loads(row["metadata"] or "{}")
    return value


def volume(row: sqlite3.Row, attachments: list[sqlite3.Row]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "crn": crn("volume", row["id"]),
        "name": row["name"],
        "description": row["description"],
        "status": row["status"],
        "size": row["size"],
        "volume_type": row["volume_type"],
        "bootable": bool(row["bootable"]),
        "encrypted": bool(row["encrypted"]),
        "multiattach": bool(row["multiattach"]),
        "source_volume_id": row["source_volume_id"],
        "snapshot_id": row["snapshot_id"],
        "image_id": row["image_id"],
        "attachments": [
            {
                "id": a["id"],
                "instance_id": a["instance_id"],
                "device": a["device"],
                "attached_at": a["attached_at"],
            }
            for a in attachments
        ],
        "metadata": _metadata(row),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def snapshot(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "crn": crn("snapshot", row["id"]),
        "name": row["name"],
        "description": row["description"],
        "status": row["status"],
        "volume_id": row["volume_id"],
        "size": row["size"],
        "metadata": _metadata(row),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


def backup(row: sqlite3.Row) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row["id"],
        "crn": crn("backup", row["id"]),
        "name": row["name"],
        "description": row["description"],
        "status": row["status"],
        "volume_id": row["volume_id"],
        "size": row["size"],
        "container": row["container"],
        "is_incremental": bool(row["is_incremental"]),
        "has_dependent_backups": bool(row["has_dependent_backups"]),
        "snapshot_id": row["snapshot_id"],
        "metadata": _metadata(row),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
    if row["status"] == "error" and row["fail_reason"]:
        body["fail_reason"] = row["fail_reason"]
    return body
