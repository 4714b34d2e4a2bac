"""Deterministic demo data: two organizations, their credentials, volumes, snapshots, backups.

IDs and names never change, so docs and tests can rely on them; timestamps are relative to
the moment of seeding (the past days). Everything seeded is settled: nothing is in flight.

This is the demo set of the first (or only) region; the second and later regions of
`--regions` get the smaller set of `seed_regions.py`. The credentials are the same in every
region (one organisation's credential is valid in every region it uses).

Long because: the demo data is literal rows, one per volume, snapshot and backup; split over
modules it would be harder to read as one demo.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from emulator.clock import iso
from emulator.request import Credential
from emulator.store import Store

DEMO_ORG = "demo"
OTHER_ORG = "other"
ORGS = (DEMO_ORG, OTHER_ORG)

# Credentials: Authorization: Bearer <token>, or X-Api-Key: <id>:<secret>.
DEMO_TOKEN = "demo-token"  # noqa: S105 - public demo credential
DEMO_VIEWER_TOKEN = "demo-viewer-token"  # noqa: S105
DEMO_API_KEY = "demo-key-id:demo-secret"
OTHER_TOKEN = "other-token"  # noqa: S105
BEARER_TOKENS = {
    DEMO_TOKEN: Credential("bearer:demo-token", DEMO_ORG, False, "demo (read-write)"),
    DEMO_VIEWER_TOKEN: Credential("bearer:demo-viewer", DEMO_ORG, True, "demo viewer (read-only)"),
    OTHER_TOKEN: Credential("bearer:other-token", OTHER_ORG, False, "other org (read-write)"),
}
API_KEYS = {
    "demo-key-id": ("demo-secret", Credential("key:demo-key-id", DEMO_ORG, False, "demo API key")),
}


def _vid(n: int) -> str:
    return f"10000000-0000-4000-8000-{n:012d}"


def _sid(n: int) -> str:
    return f"20000000-0000-4000-8000-{n:012d}"


def _bid(n: int) -> str:
    return f"30000000-0000-4000-8000-{n:012d}"


# Demo organization: the IDs the docs and tests name.
VOLUME_WEB_01 = _vid(1)  # in-use (attached), bootable, 100 GB
VOLUME_WEB_02 = _vid(2)  # in-use (attached), bootable, 100 GB
VOLUME_DB_PRIMARY = _vid(3)  # in-use (attached), 500 GB, metadata
VOLUME_DB_REPLICA = _vid(4)  # available, 500 GB
VOLUME_APP_DATA = _vid(5)  # available, 100 GB: holds the full -> inc1 -> inc2 chain
VOLUME_CACHE = _vid(6)  # available, 20 GB
VOLUME_LOGS = _vid(7)  # available, 250 GB: has the error backup
VOLUME_ANALYTICS = _vid(8)  # available, 200 GB
VOLUME_BROKEN = _vid(9)  # error, 10 GB
VOLUME_MEDIA = _vid(10)  # available, 300 GB
VOLUME_STAGING = _vid(11)  # in-use (attached), 40 GB
VOLUME_CI_RUNNER = _vid(12)  # available, bootable, 80 GB
VOLUME_SCRATCH = _vid(13)  # available, 1 GB: no backups at all
VOLUME_EMPTY = _vid(14)  # available, 5 GB: no backups at all
VOLUME_LEGACY = _vid(15)  # available, 30 GB
VOLUME_IN_USE = VOLUME_WEB_01
VOLUME_ERROR = VOLUME_BROKEN
VOLUME_NO_BACKUPS = VOLUME_SCRATCH
VOLUME_AVAILABLE = VOLUME_APP_DATA

SNAPSHOT_WEB_01 = _sid(1)  # available, of web-01
SNAPSHOT_DB_PRIMARY = _sid(2)  # available, of db-primary
SNAPSHOT_APP_DATA = _sid(3)  # available, of app-data
SNAPSHOT_ANALYTICS_ERROR = _sid(4)  # error, of analytics
SNAPSHOT_MEDIA = _sid(5)  # available, of media-store

BACKUP_CHAIN_FULL = _bid(1)  # app-data, full, has_dependent_backups
BACKUP_CHAIN_INC1 = _bid(2)  # app-data, incremental (parent: full), has_dependent_backups
BACKUP_CHAIN_INC2 = _bid(3)  # app-data, incremental (parent: inc1), newest of the chain
BACKUP_ERROR = _bid(4)  # logs-archive, error with fail_reason
BACKUP_FROM_SNAPSHOT = _bid(5)  # db-primary, from SNAPSHOT_DB_PRIMARY
BACKUP_FAIL_REASON = "Backup driver failed: container 'logs' is over its quota"

# Other organization (other-token).
OTHER_VOLUME_1 = f"1f000000-0000-4000-8000-{1:012d}"
OTHER_VOLUME_2 = f"1f000000-0000-4000-8000-{2:012d}"
OTHER_VOLUME_3 = f"1f000000-0000-4000-8000-{3:012d}"
OTHER_SNAPSHOT_1 = f"2f000000-0000-4000-8000-{1:012d}"
OTHER_BACKUP_1 = f"3f000000-0000-4000-8000-{1:012d}"

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class V:
    id: str
    name: str
    size: int
    status: str = "available"
    bootable: bool = False
    description: str | None = None
    metadata: dict[str, str] | None = None
    volume_type: str = "standard"
    age_days: float = 60
    attached_instance: str | None = None


DEMO_VOLUMES = [
    V(
        VOLUME_WEB_01,
        "web-01",
        100,
        "in-use",
        True,
        "Web server root disk",
        {"environment": "production", "team": "frontend"},
        "ssd",
        90,
        "50000000-0000-4000-8000-000000000001",
    ),
    V(
        VOLUME_WEB_02,
        "web-02",
        100,
        "in-use",
        True,
        "Web server root disk",
        {"environment": "production", "team": "frontend"},
        "ssd",
        89,
        "50000000-0000-4000-8000-000000000002",
    ),
    V(
        VOLUME_DB_PRIMARY,
        "db-primary",
        500,
        "in-use",
        False,
        "PostgreSQL primary data",
        {"environment": "production", "team": "backend", "tier": "gold"},
        "ssd",
        120,
        "50000000-0000-4000-8000-000000000003",
    ),
    V(
        VOLUME_DB_REPLICA,
        "db-replica",
        500,
        description="PostgreSQL replica data",
        metadata={"environment": "production", "team": "backend"},
        volume_type="ssd",
        age_days=110,
    ),
    V(
        VOLUME_APP_DATA,
        "app-data",
        100,
        description="Application uploads",
        metadata={"environment": "production", "team": "backend"},
        age_days=80,
    ),
    V(VOLUME_CACHE, "cache-01", 20, description="Redis persistence", age_days=70),
    V(
        VOLUME_LOGS,
        "logs-archive",
        250,
        description="Log archive",
        metadata={"retention": "90d"},
        volume_type="hdd",
        age_days=100,
    ),
    V(VOLUME_ANALYTICS, "analytics", 200, metadata={"team": "data"}, age_days=50),
    V(VOLUME_BROKEN, "broken-volume", 10, "error", description="Failed to provision", age_days=12),
    V(VOLUME_MEDIA, "media-store", 300, volume_type="hdd", age_days=65),
    V(
        VOLUME_STAGING,
        "staging-api",
        40,
        "in-use",
        True,
        "Staging API root disk",
        {"environment": "staging"},
        age_days=30,
        attached_instance="50000000-0000-4000-8000-000000000004",
    ),
    V(
        VOLUME_CI_RUNNER,
        "ci-runner",
        80,
        bootable=True,
        description="CI runner image",
        metadata={"team": "platform"},
        age_days=40,
    ),
    V(VOLUME_SCRATCH, "scratch", 1, description="Scratch space, never backed up", age_days=3),
    V(VOLUME_EMPTY, "new-project", 5, age_days=1),
    V(VOLUME_LEGACY, "legacy-app", 30, description="Old monolith", age_days=200),
]
OTHER_VOLUMES = [
    V(
        OTHER_VOLUME_1,
        "other-web",
        50,
        "in-use",
        True,
        age_days=40,
        attached_instance="5f000000-0000-4000-8000-000000000001",
    ),
    V(OTHER_VOLUME_2, "other-db", 200, metadata={"owner": "other"}, age_days=35),
    V(OTHER_VOLUME_3, "other-archive", 1000, volume_type="hdd", age_days=20),
]


def volume_row(org: str, v: V, now: float) -> dict[str, Any]:
    created = iso(now - v.age_days * DAY)
    return {
        "id": v.id,
        "org": org,
        "name": v.name,
        "description": v.description,
        "status": v.status,
        "size": v.size,
        "volume_type": v.volume_type,
        "bootable": v.bootable,
        "encrypted": v.volume_type == "ssd",
        "multiattach": False,
        "source_volume_id": None,
        "snapshot_id": None,
        "image_id": None,
        "metadata": v.metadata or {},
        "created_at": created,
        "updated_at": created,
    }


def _attachment_row(v: V, n: int, now: float) -> dict[str, Any]:
    return {
        "id": f"40000000-0000-4000-8000-{n:012d}"
        if v.id.startswith("1000")
        else f"4f000000-0000-4000-8000-{n:012d}",
        "volume_id": v.id,
        "instance_id": v.attached_instance,
        "device": "/dev/vdb",
        "attached_at": iso(now - (v.age_days - 0.5) * DAY),
    }


def snapshot_row(
    org: str, sid: str, vol: V, name: str, status: str, age_hours: float, now: float
) -> dict[str, Any]:
    created = iso(now - age_hours * HOUR)
    return {
        "id": sid,
        "org": org,
        "volume_id": vol.id,
        "name": name,
        "description": f"Snapshot of {vol.name}",
        "status": status,
        "size": vol.size,
        "metadata": {"origin": "seed"} if status == "available" else {},
        "created_at": created,
        "updated_at": created,
    }


def backup_row(
    org: str, bid: str, vol: V, name: str, age_hours: float, now: float, **extra: Any
) -> dict[str, Any]:
    created = iso(now - age_hours * HOUR)
    row: dict[str, Any] = {
        "id": bid,
        "org": org,
        "volume_id": vol.id,
        "name": name,
        "description": None,
        "status": "available",
        "size": vol.size,
        "container": "volumebackups",
        "is_incremental": False,
        "parent_id": None,
        "snapshot_id": None,
        "metadata": {},
        "fail_reason": None,
        "data_timestamp": created,
        "created_at": created,
        "updated_at": iso(now - age_hours * HOUR + 60 + vol.size * 0.07),
    }
    row.update(extra)
    return row


def seed(store: Store, now: float) -> None:
    """Insert the demo data (the store must be empty)."""
    by_id = {v.id: v for v in DEMO_VOLUMES + OTHER_VOLUMES}
    store.insert_many(
        "volumes",
        [volume_row(DEMO_ORG, v, now) for v in DEMO_VOLUMES]
        + [volume_row(OTHER_ORG, v, now) for v in OTHER_VOLUMES],
    )
    attached = [v for v in DEMO_VOLUMES + OTHER_VOLUMES if v.attached_instance]
    store.insert_many(
        "attachments", [_attachment_row(v, i + 1, now) for i, v in enumerate(attached)]
    )

    snaps = [
        snapshot_row(
            DEMO_ORG,
            SNAPSHOT_WEB_01,
            by_id[VOLUME_WEB_01],
            "web-01-pre-upgrade",
            "available",
            30,
            now,
        ),
        snapshot_row(
            DEMO_ORG,
            SNAPSHOT_DB_PRIMARY,
            by_id[VOLUME_DB_PRIMARY],
            "db-primary-nightly",
            "available",
            20,
            now,
        ),
        snapshot_row(
            DEMO_ORG,
            SNAPSHOT_APP_DATA,
            by_id[VOLUME_APP_DATA],
            "app-data-snap",
            "available",
            10,
            now,
        ),
        snapshot_row(
            DEMO_ORG,
            SNAPSHOT_ANALYTICS_ERROR,
            by_id[VOLUME_ANALYTICS],
            "analytics-snap",
            "error",
            8,
            now,
        ),
        snapshot_row(
            DEMO_ORG, SNAPSHOT_MEDIA, by_id[VOLUME_MEDIA], "media-snap", "available", 50, now
        ),
        snapshot_row(
            OTHER_ORG,
            OTHER_SNAPSHOT_1,
            by_id[OTHER_VOLUME_2],
            "other-db-snap",
            "available",
            12,
            now,
        ),
    ]
    store.insert_many("snapshots", snaps)

    app = by_id[VOLUME_APP_DATA]
    backups = [
        backup_row(
            DEMO_ORG,
            BACKUP_CHAIN_FULL,
            app,
            "app-data-full",
            72,
            now,
            description="Weekly full backup",
            metadata={"schedule": "weekly"},
        ),
        backup_row(
            DEMO_ORG,
            BACKUP_CHAIN_INC1,
            app,
            "app-data-inc-1",
            48,
            now,
            is_incremental=True,
            parent_id=BACKUP_CHAIN_FULL,
            description="Daily incremental",
            metadata={"schedule": "daily"},
        ),
        backup_row(
            DEMO_ORG,
            BACKUP_CHAIN_INC2,
            app,
            "app-data-inc-2",
            24,
            now,
            is_incremental=True,
            parent_id=BACKUP_CHAIN_INC1,
            description="Daily incremental",
            metadata={"schedule": "daily"},
        ),
        backup_row(
            DEMO_ORG,
            BACKUP_ERROR,
            by_id[VOLUME_LOGS],
            "logs-archive-nightly",
            6,
            now,
            status="error",
            fail_reason=BACKUP_FAIL_REASON,
            container="logs",
        ),
        backup_row(
            DEMO_ORG,
            BACKUP_FROM_SNAPSHOT,
            by_id[VOLUME_DB_PRIMARY],
            "db-primary-from-snapshot",
            19,
            now,
            snapshot_id=SNAPSHOT_DB_PRIMARY,
            data_timestamp=iso(now - 20 * HOUR),
            container="db-backups",
            metadata={"environment": "production", "team": "backend"},
        ),
    ]
    spread = [
        VOLUME_WEB_01,
        VOLUME_WEB_02,
        VOLUME_DB_PRIMARY,
        VOLUME_DB_REPLICA,
        VOLUME_CACHE,
        VOLUME_LOGS,
        VOLUME_MEDIA,
        VOLUME_STAGING,
        VOLUME_CI_RUNNER,
        VOLUME_LEGACY,
        VOLUME_ANALYTICS,
    ]
    containers = ["volumebackups", "nightly", "offsite", None]
    for n in range(6, 36):
        vol = by_id[spread[n % len(spread)]]
        age = 4 + (n - 6) * 19.5  # every ~20 hours back over ~25 days
        extra: dict[str, Any] = {"container": containers[n % len(containers)]}
        if n % 3 == 0:
            extra["metadata"] = {"environment": "production", "schedule": "nightly"}
        if n % 4 == 0:
            extra["description"] = f"Scheduled backup of {vol.name}"
        backups.append(
            backup_row(DEMO_ORG, _bid(n), vol, f"{vol.name}-backup-{n:02d}", age, now, **extra)
        )
    other = [by_id[OTHER_VOLUME_1], by_id[OTHER_VOLUME_2], by_id[OTHER_VOLUME_3]]
    for n in range(1, 5):
        vol = other[n % 3]
        backups.append(
            backup_row(
                OTHER_ORG,
                f"3f000000-0000-4000-8000-{n:012d}",
                vol,
                f"{vol.name}-backup-{n}",
                n * 30,
                now,
                metadata={"owner": "other"},
            )
        )
    store.insert_many("backups", backups)


def seed_bulk_volumes(
    store: Store, org: str, count: int, now: float, *, name_prefix: str = "bulk-vol-"
) -> int:
    """Add ``count`` available 1 GB volumes to ``org`` (the protection overview's benchmark:
    10,000 volumes), older than the seeded ones, in one executemany; every few carry metadata."""
    start = store.count("volumes", "org = ?", (org,))
    rows = [
        volume_row(
            org,
            V(
                str(uuid.uuid4()),
                f"{name_prefix}{start + i:06d}",
                1,
                metadata={"team": f"team-{i % 10}"} if i % 3 == 0 else {},
                age_days=90 + (start + i) * 60 / DAY,
            ),
            now,
        )
        for i in range(count)
    ]
    store.insert_many("volumes", rows)
    return count


def seed_bulk(
    store: Store,
    org: str,
    count: int,
    now: float,
    *,
    name_prefix: str = "bulk-",
    metadata_entries: int = 0,
    metadata_value_bytes: int = 200,
) -> int:
    """Add `count` available full backups to `org`, older than the seeded ones; one executemany.

    ``metadata_entries`` entries of ``metadata_value_bytes`` each per backup: a tenant storing
    a lot (the contract bounds neither), for the console's memory benchmark."""
    volumes = store.conn.execute(
        "SELECT id, size, name FROM volumes WHERE org = ? ORDER BY id", (org,)
    ).fetchall()
    if not volumes:
        return 0
    start = store.count("backups", "org = ?", (org,))
    rows = []
    for i in range(count):
        vol = volumes[i % len(volumes)]
        created = iso(now - 40 * DAY - (start + i) * 60)
        rows.append(
            {
                "id": str(uuid.uuid4()),
                "org": org,
                "volume_id": vol["id"],
                "name": f"{name_prefix}{start + i:06d}",
                "description": None,
                "status": "available",
                "size": vol["size"],
                "container": "bulk",
                "is_incremental": False,
                "parent_id": None,
                "snapshot_id": None,
                "metadata": {
                    f"key-{j:05d}": f"{j:05d}".ljust(metadata_value_bytes, "x")
                    for j in range(metadata_entries)
                },
                "fail_reason": None,
                "data_timestamp": created,
                "created_at": created,
                "updated_at": created,
            }
        )
    store.insert_many("backups", rows)
    return count
