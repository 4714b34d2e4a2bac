"""Rows to the contract's JSON shapes: documented fields only, with the CRNs of one region
(`crn:<region>:storage:<kind>:<id>`): each region's app has its own `Shapes`."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

#: The region of a single-region emulator (`python -m emulator` without --regions).
REGION = "spo1"


def _metadata(row: sqlite3.Row) -> dict[str, str]:
    value: dict[str, str] = json.loads(row["metadata"] or "{}")
    return value


@dataclass(frozen=True)
class Shapes:
    """The contract's shapes of volumes, snapshots and backups as one region answers them."""

    region: str = REGION

    def crn(self, kind: str, item_id: str) -> str:
        return f"crn:{self.region}:storage:{kind}:{item_id}"

    def volume(self, row: sqlite3.Row, attachments: list[sqlite3.Row]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "crn": self.crn("volume", row["id"]),
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

    def snapshot(self, row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"],
            "crn": self.crn("snapshot", row["id"]),
            "name": row["name"],
            "description": row["description"],
            "status": row["status"],
            "volume_id": row["volume_id"],
            "size": row["size"],
            "metadata": _metadata(row),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
        }

    def backup(self, row: sqlite3.Row) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": row["id"],
            "crn": self.crn("backup", row["id"]),
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
