"""SQLite schema and queries. Callers hold the app's lock; one connection is shared."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, name TEXT, description TEXT,
    status TEXT NOT NULL, size INTEGER NOT NULL, volume_type TEXT,
    bootable INTEGER NOT NULL DEFAULT 0, encrypted INTEGER NOT NULL DEFAULT 0,
    multiattach INTEGER NOT NULL DEFAULT 0, source_volume_id TEXT, snapshot_id TEXT,
    image_id TEXT, metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS volumes_order ON volumes (org, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY, volume_id TEXT NOT NULL, instance_id TEXT NOT NULL,
    device TEXT NOT NULL, attached_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS attachments_volume ON attachments (volume_id);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, volume_id TEXT NOT NULL, name TEXT,
    description TEXT, status TEXT NOT NULL, size INTEGER NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}', created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_order ON snapshots (org, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS backups (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, volume_id TEXT NOT NULL, name TEXT,
    description TEXT, status TEXT NOT NULL, size INTEGER NOT NULL, container TEXT,
    is_incremental INTEGER NOT NULL DEFAULT 0, parent_id TEXT, snapshot_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}', fail_reason TEXT, data_timestamp TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backups_order ON backups (org, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS backups_parent ON backups (parent_id);
CREATE INDEX IF NOT EXISTS backups_volume ON backups (volume_id, status);
CREATE TABLE IF NOT EXISTS operations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, due_at REAL NOT NULL,
    fail INTEGER NOT NULL DEFAULT 0, backup_id TEXT, volume_id TEXT, snapshot_id TEXT,
    prev_status TEXT
);
CREATE INDEX IF NOT EXISTS operations_due ON operations (due_at);
"""

TABLES = ("volumes", "attachments", "snapshots", "backups", "operations")

# Columns per table, used to build inserts from dicts.
_BACKUP_HAS_DEPENDANTS = (
    "EXISTS (SELECT 1 FROM backups AS c WHERE c.parent_id = backups.id) AS has_dependent_backups"
)


@dataclass
class Page:
    rows: list[sqlite3.Row]
    total: int
    next_marker: str | None
    previous: bool
    previous_marker: str | None


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        if self.path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    # transactions -------------------------------------------------------------------------
    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    # generic ------------------------------------------------------------------------------
    def wipe(self) -> None:
        for table in TABLES:
            self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names

    def is_empty(self) -> bool:
        row = self.conn.execute("SELECT COUNT(*) FROM volumes").fetchone()
        return int(row[0]) == 0

    def count(self, table: str, where: str = "1=1", params: Sequence[Any] = ()) -> int:
        sql = f"SELECT COUNT(*) FROM {table} WHERE {where}"  # noqa: S608 - internal callers
        return int(self.conn.execute(sql, params).fetchone()[0])

    def insert(self, table: str, values: dict[str, Any]) -> None:
        self.insert_many(table, [values])

    def insert_many(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        rows = list(rows)
        if not rows:
            return
        columns = list(rows[0])
        placeholders = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})"  # noqa: S608
        self.conn.executemany(sql, [tuple(_db(row[c]) for c in columns) for row in rows])

    def update(self, table: str, row_id: str, values: dict[str, Any]) -> None:
        assignments = ", ".join(f"{column} = ?" for column in values)
        sql = f"UPDATE {table} SET {assignments} WHERE id = ?"  # noqa: S608 - internal callers
        self.conn.execute(sql, [*(_db(v) for v in values.values()), row_id])

    def delete(self, table: str, row_id: str) -> None:
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))  # noqa: S608

    # lookups ------------------------------------------------------------------------------
    def get(self, table: str, row_id: str, org: str | None = None) -> sqlite3.Row | None:
        columns = "*, " + _BACKUP_HAS_DEPENDANTS if table == "backups" else "*"
        sql = f"SELECT {columns} FROM {table} WHERE id = ?"  # noqa: S608 - internal callers
        params: list[Any] = [row_id]
        if org is not None:
            sql += " AND org = ?"
            params.append(org)
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def attachments(self, volume_ids: Sequence[str]) -> dict[str, list[sqlite3.Row]]:
        result: dict[str, list[sqlite3.Row]] = {vid: [] for vid in volume_ids}
        if not volume_ids:
            return result
        marks = ", ".join("?" for _ in volume_ids)
        sql = (
            f"SELECT * FROM attachments WHERE volume_id IN ({marks})"  # noqa: S608
            " ORDER BY attached_at, id"
        )
        for row in self.conn.execute(sql, list(volume_ids)):
            result[row["volume_id"]].append(row)
        return result

    def has_dependants(self, backup_id: str) -> bool:
        return self.count("backups", "parent_id = ?", (backup_id,)) > 0

    def latest_available_backup(self, volume_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM backups WHERE volume_id = ? AND status = 'available'"
            " ORDER BY data_timestamp DESC, created_at DESC, id DESC LIMIT 1",
            (volume_id,),
        ).fetchone()
        return row

    def page(
        self,
        table: str,
        org: str,
        filters: list[tuple[str, Any]],
        limit: int,
        marker: str | None,
    ) -> Page:
        """One page, newest first (created_at, then id, both descending), keyset-paginated.

        `filters` are (SQL condition with one ?, value) pairs. The marker must be an item of the
        caller's organization of that kind (else the caller answers 400; see `get`).
        """
        where = ["org = ?"]
        params: list[Any] = [org]
        for condition, value in filters:
            where.append(condition)
            params.append(value)
        base_where = " AND ".join(where)
        total = self.count(table, base_where, params)
        columns = "*, " + _BACKUP_HAS_DEPENDANTS if table == "backups" else "*"
        page_where, page_params = base_where, list(params)
        previous = False
        previous_marker: str | None = None
        if marker is not None:
            anchor = self.get(table, marker, org)
            assert anchor is not None
            key = (anchor["created_at"], anchor["id"])
            page_where += " AND (created_at, id) < (?, ?)"
            page_params += key
            # The previous page is the `limit` items ending at the marker (inclusive).
            before = self.conn.execute(
                f"SELECT id FROM {table} WHERE {base_where} AND (created_at, id) >= (?, ?)"  # noqa: S608
                " ORDER BY created_at ASC, id ASC LIMIT ?",
                [*params, *key, limit + 1],
            ).fetchall()
            previous = True
            if len(before) > limit:
                previous_marker = before[limit]["id"]
        rows = self.conn.execute(
            f"SELECT {columns} FROM {table} WHERE {page_where}"  # noqa: S608
            " ORDER BY created_at DESC, id DESC LIMIT ?",
            [*page_params, limit + 1],
        ).fetchall()
        next_marker = rows[limit - 1]["id"] if len(rows) > limit else None
        return Page(rows[:limit], total, next_marker, previous, previous_marker)

    def due_operations(self, now: float) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM operations WHERE due_at <= ? ORDER BY due_at, id", (now,)
        ).fetchall()

    def latest_due(self) -> float | None:
        row = self.conn.execute("SELECT MAX(due_at) FROM operations").fetchone()
        return None if row[0] is None else float(row[0])


def _db(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return int(value)
    return value
