"""The state machine: starting asynchronous operations and settling them lazily when due.

No background threads: `settle` runs at the start of every request (under the app's lock) and
applies every operation whose due time has passed, in due order.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from emulator.clock import iso
from emulator.store import Store

FAIL_REASONS = {
    "backup_create": "Backup driver failed: the object store rejected the upload (injected)",
}


@dataclass
class Durations:
    """Seconds of emulated work, divided by the speed factor."""

    speed: float = 1.0

    def backup(self, size_gb: int) -> float:
        return (1 + 0.07 * size_gb) / self.speed

    def restore(self, size_gb: int) -> float:
        return (1 + 0.07 * size_gb) / self.speed

    def delete(self) -> float:
        return 2 / self.speed

    def volume(self, size_gb: int) -> float:
        return (1 + 0.01 * size_gb) / self.speed

    def snapshot(self, size_gb: int) -> float:
        return (1 + 0.02 * size_gb) / self.speed


def schedule(
    store: Store,
    kind: str,
    due_at: float,
    *,
    fail: bool,
    backup_id: str | None = None,
    volume_id: str | None = None,
    snapshot_id: str | None = None,
    prev_status: str | None = None,
) -> None:
    store.insert(
        "operations",
        {
            "kind": kind,
            "due_at": due_at,
            "fail": fail,
            "backup_id": backup_id,
            "volume_id": volume_id,
            "snapshot_id": snapshot_id,
            "prev_status": prev_status,
        },
    )


def settle(store: Store, now: float) -> int:
    """Apply every operation due by `now`; return how many were applied."""
    ops = store.due_operations(now)
    for op in ops:
        _apply(store, op)
        store.conn.execute("DELETE FROM operations WHERE id = ?", (op["id"],))
    return len(ops)


def _set_status(
    store: Store, table: str, row_id: str | None, expected: str, status: str, when: str
) -> None:
    if row_id is None:
        return
    store.conn.execute(
        f"UPDATE {table} SET status = ?, updated_at = ? WHERE id = ? AND status = ?",  # noqa: S608
        (status, when, row_id, expected),
    )


def _apply(store: Store, op: sqlite3.Row) -> None:
    when = iso(op["due_at"])
    kind, fail = op["kind"], bool(op["fail"])
    if kind == "backup_create":
        if fail:
            store.conn.execute(
                "UPDATE backups SET status = 'error', fail_reason = ?, updated_at = ?"
                " WHERE id = ? AND status = 'creating'",
                (FAIL_REASONS["backup_create"], when, op["backup_id"]),
            )
        else:
            _set_status(store, "backups", op["backup_id"], "creating", "available", when)
        previous = op["prev_status"] or "available"
        if op["snapshot_id"]:
            _set_status(store, "snapshots", op["snapshot_id"], "backing-up", previous, when)
        else:
            _set_status(store, "volumes", op["volume_id"], "backing-up", previous, when)
    elif kind == "backup_restore":
        _set_status(store, "backups", op["backup_id"], "restoring", "available", when)
        target = "error_restoring" if fail else "available"
        _set_status(store, "volumes", op["volume_id"], "restoring-backup", target, when)
    elif kind == "backup_delete":
        if fail:
            _set_status(store, "backups", op["backup_id"], "deleting", "error_deleting", when)
        else:
            store.conn.execute(
                "DELETE FROM backups WHERE id = ? AND status = 'deleting'", (op["backup_id"],)
            )
    elif kind == "volume_create":
        target = "error" if fail else "available"
        _set_status(store, "volumes", op["volume_id"], "creating", target, when)
    elif kind == "snapshot_create":
        target = "error" if fail else "available"
        _set_status(store, "snapshots", op["snapshot_id"], "creating", target, when)
    else:  # pragma: no cover - programming error
        raise AssertionError(kind)
