"""The demo data of the second and later regions (`--regions spo1,spo2`): smaller than the first
region's (seed.py) and different, so an overview across regions has something in each state.

Same organisations and credentials as seed.py. Per organisation (ages relative to the moment of
seeding; "protected" = newest available backup under 24 hours old):

demo: shop-web     in-use (attached), backups 3 h and 27 h old          -> protected
      shop-db      full 50 h -> incremental 26 h -> incremental 2 h     -> protected (a chain)
      shop-search  one backup 10 h old                                  -> protected
      shop-queue   newest backup (5 h) is `error` with a fail_reason    -> failing
      shop-archive newest available backup 4 days old                   -> at risk
      shop-scratch no backups at all                                    -> unprotected
other: other-shop-app (one backup 8 h old) and other-shop-files (none).

IDs are fixed per position in the region list (position 1 is the second region), so regions
never share an ID: `volume_id(SHOP_WEB)` is spo2's shop-web in `make run`.
"""

from __future__ import annotations

from typing import Any

from emulator.clock import iso
from emulator.seed import DAY, DEMO_ORG, HOUR, OTHER_ORG, V, backup_row, snapshot_row, volume_row
from emulator.store import Store

# Numbers of the demo organisation's volumes (volume_id(n)), then the other organisation's.
SHOP_WEB, SHOP_DB, SHOP_SEARCH, SHOP_QUEUE, SHOP_ARCHIVE, SHOP_SCRATCH = range(1, 7)
OTHER_SHOP_APP, OTHER_SHOP_FILES = range(1, 3)
# Backups of shop-db's chain and shop-queue's failed one (backup_id(n)).
SHOP_DB_FULL, SHOP_DB_INC1, SHOP_DB_INC2, SHOP_QUEUE_ERROR = range(1, 5)
QUEUE_FAIL_REASON = "Backup driver failed: the snapshot of 'shop-queue' timed out after 600 s"


def _id(kind: int, org_letter: str, position: int, n: int) -> str:
    """`1b010000-0000-4000-8000-000000000003`: kind (1 volume, 2 snapshot, 3 backup,
    4 attachment, 5 instance), organisation (b demo, c other), position, number."""
    if not 1 <= position <= 0xFF:
        raise ValueError("a later region's position is 1..255")
    return f"{kind}{org_letter}{position:02x}0000-0000-4000-8000-{n:012d}"


def volume_id(n: int, position: int = 1, *, other: bool = False) -> str:
    return _id(1, "c" if other else "b", position, n)


def snapshot_id(n: int, position: int = 1, *, other: bool = False) -> str:
    return _id(2, "c" if other else "b", position, n)


def backup_id(n: int, position: int = 1, *, other: bool = False) -> str:
    return _id(3, "c" if other else "b", position, n)


def _demo_volumes(position: int) -> list[V]:
    def vid(n: int) -> str:
        return volume_id(n, position)

    instance = _id(5, "b", position, 1)
    return [
        V(
            vid(SHOP_WEB),
            "shop-web",
            60,
            "in-use",
            True,
            "Shop front end root disk",
            {"environment": "production", "team": "shop"},
            "ssd",
            45,
            instance,
        ),
        V(
            vid(SHOP_DB),
            "shop-db",
            200,
            description="Shop orders database",
            metadata={"environment": "production", "tier": "gold"},
            volume_type="ssd",
            age_days=44,
        ),
        V(vid(SHOP_SEARCH), "shop-search", 50, description="Search index", age_days=30),
        V(vid(SHOP_QUEUE), "shop-queue", 40, description="Order queue spool", age_days=25),
        V(
            vid(SHOP_ARCHIVE),
            "shop-archive",
            500,
            description="Invoices archive",
            volume_type="hdd",
            age_days=150,
        ),
        V(
            vid(SHOP_SCRATCH),
            "shop-scratch",
            10,
            description="Build scratch, never backed up",
            age_days=2,
        ),
    ]


def _other_volumes(position: int) -> list[V]:
    return [
        V(volume_id(OTHER_SHOP_APP, position, other=True), "other-shop-app", 30, age_days=20),
        V(
            volume_id(OTHER_SHOP_FILES, position, other=True),
            "other-shop-files",
            100,
            volume_type="hdd",
            age_days=15,
        ),
    ]


def _attachment(v: V, position: int, now: float) -> dict[str, Any]:
    assert v.attached_instance is not None
    return {
        "id": _id(4, "b", position, 1),
        "volume_id": v.id,
        "instance_id": v.attached_instance,
        "device": "/dev/vda",
        "attached_at": iso(now - (v.age_days - 0.5) * DAY),
    }


#: (backup number, volume number, name, age in hours, extra columns; "parent" is a number).
_DEMO_BACKUPS: list[tuple[int, int, str, float, dict[str, Any]]] = [
    (SHOP_DB_FULL, SHOP_DB, "shop-db-full", 50, {"description": "Weekly full backup"}),
    (SHOP_DB_INC1, SHOP_DB, "shop-db-inc-1", 26, {"parent": SHOP_DB_FULL}),
    (SHOP_DB_INC2, SHOP_DB, "shop-db-inc-2", 2, {"parent": SHOP_DB_INC1}),
    (SHOP_QUEUE_ERROR, SHOP_QUEUE, "shop-queue-nightly", 5,
     {"status": "error", "fail_reason": QUEUE_FAIL_REASON}),
    (5, SHOP_QUEUE, "shop-queue-backup-05", 30, {}),
    (6, SHOP_WEB, "shop-web-backup-06", 3, {"container": "nightly"}),
    (7, SHOP_WEB, "shop-web-backup-07", 27, {"container": "nightly"}),
    (8, SHOP_SEARCH, "shop-search-backup-08", 10, {}),
    (9, SHOP_ARCHIVE, "shop-archive-backup-09", 4 * DAY / HOUR, {"container": "offsite"}),
    (10, SHOP_ARCHIVE, "shop-archive-backup-10", 6 * DAY / HOUR, {"container": "offsite"}),
]  # fmt: skip


def _demo_backups(position: int, vols: dict[str, V], now: float) -> list[dict[str, Any]]:
    rows = []
    for n, volume_n, name, age_hours, extra in _DEMO_BACKUPS:
        columns = dict(extra)
        parent = columns.pop("parent", None)
        if parent is not None:
            columns |= {"is_incremental": True, "parent_id": backup_id(parent, position)}
        vol = vols[volume_id(volume_n, position)]
        rows.append(
            backup_row(DEMO_ORG, backup_id(n, position), vol, name, age_hours, now, **columns)
        )
    return rows


def seed(store: Store, now: float, position: int = 1) -> None:
    """Insert the demo data of the region at `position` (>= 1) of the list (the store must be
    empty)."""
    demo, other = _demo_volumes(position), _other_volumes(position)
    vols = {v.id: v for v in demo}
    store.insert_many(
        "volumes",
        [volume_row(DEMO_ORG, v, now) for v in demo]
        + [volume_row(OTHER_ORG, v, now) for v in other],
    )
    attached = [_attachment(v, position, now) for v in demo if v.attached_instance]
    store.insert_many("attachments", attached)
    snap = snapshot_row(
        DEMO_ORG, snapshot_id(1, position), vols[volume_id(SHOP_DB, position)],
        "shop-db-snap", "available", 5, now,
    )  # fmt: skip
    store.insert_many("snapshots", [snap])
    other_backup = backup_row(
        OTHER_ORG, backup_id(1, position, other=True), other[0], "other-shop-app-backup-1", 8,
        now, metadata={"owner": "other"},
    )  # fmt: skip
    store.insert_many("backups", [*_demo_backups(position, vols, now), other_backup])
