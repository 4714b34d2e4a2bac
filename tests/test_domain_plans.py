"""Backup plans' rules (backups.domain_plans): which volumes, which backup, which deletions.

Each rule has a test that fails without it; two simulations run an hourly plan for three days
against a small in-memory model of the API's backup rules (parents, dependants, delete refused
on a parent) and check what is left."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backups import domain
from backups.api import Backup, BackupStatus, Volume
from backups.domain_plans import (
    IN_FLIGHT,
    NEWEST,
    NEWEST_FAILED,
    NO_RETENTION,
    PLAN_KEY,
    SKIP_ATTACHED,
    RetentionDecision,
    backup_kind,
    made_by,
    retention,
    select_volumes,
    selection_reason,
)

from .api.conftest import backup_json, volume_json

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PLAN = "7d0c6f1e-plan"
OTHER_PLAN = "other-plan"
VOL = "10000000-0000-4000-8000-000000000001"
OTHER_VOL = "10000000-0000-4000-8000-000000000002"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def bk(
    name: str,
    hours: float,
    *,
    plan: str | None = PLAN,
    inc: bool = False,
    status: str = "available",
    volume: str = VOL,
    **fields: Any,
) -> Backup:
    return Backup.from_api(
        backup_json(
            id=f"id-{name}",
            name=name,
            volume_id=volume,
            created_at=at(hours).isoformat(),
            status=status,
            is_incremental=inc,
            metadata={PLAN_KEY: plan} if plan else {"owner": "someone"},
            **fields,
        )
    )


def volume(status: str = "available", **fields: Any) -> Volume:
    return Volume.from_api(volume_json(id=VOL, status=status, **fields))


def names(backups: tuple[Backup, ...] | list[Backup]) -> list[str]:
    return [b.display_name for b in backups]


def kept(decision: RetentionDecision) -> dict[str, str]:
    return {v.backup.display_name: v.reason for v in decision.kept}


def deleted(decision: RetentionDecision) -> list[str]:
    return names(decision.delete)


# --- which volumes --------------------------------------------------------------------------

VOLUMES = [
    Volume.from_api(volume_json(id="a", name="web-1", metadata={"env": "prod", "tier": "gold"})),
    Volume.from_api(volume_json(id="b", name="web-2", metadata={"env": "dev"})),
    Volume.from_api(volume_json(id="c", name="db-1", metadata={"env": "prod", "tier": "gold"})),
    Volume.from_api(volume_json(id="d", name=None, metadata={})),
]


@pytest.mark.parametrize(
    ("chosen", "metadata", "prefix", "expected"),
    [
        ({"d"}, {}, "", ["d"]),
        (set(), {"env": "prod", "tier": "gold"}, "", ["a", "c"]),
        (set(), {"env": "prod", "tier": "silver"}, "", []),  # every pair must match
        (set(), {}, "web-", ["a", "b"]),
        ({"c", "a"}, {}, "web-", ["a", "b", "c"]),  # any criterion; input order; each once
        ({"d"}, {"env": "dev"}, "db-", ["b", "c", "d"]),
        (set(), {}, "", []),  # empty criteria match nothing
        ({"zzz"}, {}, "", []),
    ],
)
def test_select_volumes_matches_any_criterion(
    chosen: set[str], metadata: dict[str, str], prefix: str, expected: list[str]
) -> None:
    selected = select_volumes(VOLUMES, chosen_ids=chosen, metadata=metadata, name_prefix=prefix)
    assert [v.id for v in selected] == expected


def test_selection_reason_says_why_a_volume_is_in_the_plan() -> None:
    web1, web2, _, nameless = VOLUMES
    criteria: dict[str, Any] = {
        "chosen_ids": {"d"},
        "metadata": {"env": "prod", "tier": "gold"},
        "name_prefix": "web-",
    }
    assert selection_reason(nameless, **criteria) == "chosen"
    assert selection_reason(web1, **criteria) == "metadata env=prod, tier=gold"
    assert selection_reason(web2, **criteria) == "name starts with web-"
    assert selection_reason(VOLUMES[2], chosen_ids=(), metadata={}, name_prefix="web-") is None


# --- which backup ---------------------------------------------------------------------------


def kind(vol: Volume, backups: list[Backup], **options: Any) -> tuple[bool, bool, bool, str]:
    settings: dict[str, Any] = {"mode": "incremental", "now": at(1000)} | options
    decision = backup_kind(vol, backups, PLAN, **settings)
    assert decision.volume_id == vol.id
    return decision.skip, decision.incremental, decision.force, decision.reason


def test_a_volume_that_cannot_be_backed_up_is_skipped_with_the_domain_reason() -> None:
    assert kind(volume("error"), []) == (True, False, False, "Cannot be backed up: it is in error.")


def test_an_attached_volume_is_skipped_unless_the_plan_forces() -> None:
    attached = volume("in-use")
    assert kind(attached, []) == (True, False, False, SKIP_ATTACHED)
    assert kind(attached, [], force_attached=True) == (
        False,
        False,
        True,
        "full: no available backup yet",
    )
    assert kind(volume(), [], force_attached=True)[2] is False  # force only where needed


def test_incremental_needs_an_available_backup_of_the_volume() -> None:
    failed = bk("failed", 0, status="error")
    elsewhere = bk("elsewhere", 0, volume=OTHER_VOL)  # another volume's backup is no parent
    assert kind(volume(), [failed, elsewhere]) == (
        False,
        False,
        False,
        "full: no available backup yet",
    )


def test_mode_full_always_makes_full_backups() -> None:
    backups = [bk("nightly", 999)]
    assert kind(volume(), backups, mode="full") == (
        False,
        False,
        False,
        "full: the plan makes full backups",
    )


def test_incremental_mode_starts_with_a_full_backup_of_its_own() -> None:
    by_hand = bk("by-hand", 0, plan=None)
    other = bk("other", 1, plan=OTHER_PLAN)
    reason = "full: the plan has no available full backup of this volume yet"
    assert kind(volume(), [by_hand, other]) == (False, False, False, reason)
    failed_full = bk("failed-full", 2, status="error")
    assert kind(volume(), [by_hand, failed_full]) == (False, False, False, reason)


def test_incremental_mode_builds_on_the_newest_chain() -> None:
    backups = [bk("nightly", 0), bk("hourly-1", 1, inc=True)]
    assert kind(volume(), backups) == (False, True, False, "incremental on the chain of nightly")
    by_hand = bk("by-hand", 2, plan=None)
    assert kind(volume(), [*backups, by_hand])[3] == "incremental on the chain of by-hand"


def test_every_nth_run_is_full() -> None:
    full, inc1, inc2 = bk("full", 0), bk("i1", 1, inc=True), bk("i2", 2, inc=True)
    assert kind(volume(), [full, inc1], full_every_runs=3)[:2] == (False, True)
    assert kind(volume(), [full, inc1, inc2], full_every_runs=3) == (
        False,
        False,
        False,
        "full: every 3 runs",
    )
    failed = bk("i2-failed", 2, inc=True, status="error")  # a failed run made nothing
    assert kind(volume(), [full, inc1, failed], full_every_runs=3)[:2] == (False, True)
    by_hand = bk("by-hand-inc", 2, inc=True, plan=None)  # nor does a backup made by hand
    assert kind(volume(), [full, inc1, by_hand], full_every_runs=3)[:2] == (False, True)
    assert kind(volume(), [full], full_every_runs=1)[3] == "full: every 1 run"


def test_a_full_backup_every_d_days() -> None:
    full = bk("full", 0)
    week = 7 * 24
    assert kind(volume(), [full], full_every_days=7, now=at(week - 0.01))[:2] == (False, True)
    assert kind(volume(), [full], full_every_days=7, now=at(week)) == (
        False,
        False,
        False,
        "full: the last full backup of this plan is 7 days old",
    )
    assert kind(volume(), [full], full_every_days=1, now=at(30))[3] == (
        "full: the last full backup of this plan is 1 day old"
    )


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        kind(volume(), [], mode="differential")


# --- which backups retention deletes --------------------------------------------------------

DAY = 24


def test_made_by_reads_the_stamp() -> None:
    assert made_by(bk("mine", 0), PLAN)
    assert not made_by(bk("theirs", 0, plan=OTHER_PLAN), PLAN)
    assert not made_by(bk("by-hand", 0, plan=None), PLAN)


def test_only_backups_made_by_the_plan_are_deleted() -> None:
    backups = [
        bk("by-hand", 0, plan=None),
        bk("other-plan", 1, plan=OTHER_PLAN),
        bk("old", 2),
        bk("new", 200),
    ]
    decision = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(201))
    assert deleted(decision) == ["old"]
    assert decision.deletions[0].reason == "past retention: at least 1 day old"
    assert kept(decision) == {"new": "younger than 1 day"}  # the plan's own backups only


@pytest.mark.parametrize("maker", [None, OTHER_PLAN])
def test_a_chain_holding_a_backup_the_plan_did_not_make_is_not_deleted(maker: str | None) -> None:
    backups = [
        bk("full", 0),
        bk("foreign", 1, plan=maker, inc=True),
        bk("inc", 2, inc=True),
        bk("new", 200),
    ]
    decision = retention(backups, PLAN, keep_last=1, keep_days=None, now=at(201))
    assert deleted(decision) == []
    held = "its chain holds foreign, made by hand or by another plan"
    assert kept(decision) == {
        "new": "among the plan's newest 1 available backup",
        "inc": held,
        "full": held,
    }


@pytest.mark.parametrize(
    ("hours", "keep_last", "keep_days", "gone"),
    [
        # keep the newest 2: the two older go, however young
        ([0, 1, 2, 3], 2, None, ["1", "0"]),
        ([195, 196, 197, 198], 2, None, ["196", "195"]),
        # keep 1 day: what is 24 h old or older goes
        ([0, 150, 176, 180, 190], None, 1, ["176", "150", "0"]),
        # both: kept when either keeps it (few young ones: the newest N keep older ones) …
        ([0, 10, 20, 195], 3, 1, ["0"]),
        # … (many young ones: the age keeps more than N)
        ([0, 185, 190, 195], 2, 1, ["0"]),
    ],
)
def test_past_retention_is_outside_both_the_newest_n_and_the_days(
    hours: list[int], keep_last: int | None, keep_days: int | None, gone: list[str]
) -> None:
    backups = [bk(str(h), h) for h in hours]
    decision = retention(backups, PLAN, keep_last=keep_last, keep_days=keep_days, now=at(200))
    assert deleted(decision) == gone
    assert set(kept(decision)) | set(gone) == {str(h) for h in hours}


def test_the_reasons_name_the_rule() -> None:
    backups = [bk("old", 0), bk("young", 190), bk("newest", 199)]
    decision = retention(backups, PLAN, keep_last=1, keep_days=1, now=at(200))
    assert decision.deletions[0].reason == (
        "past retention: not among the plan's newest 1 available backup and at least 1 day old"
    )
    assert kept(decision) == {
        "newest": "among the plan's newest 1 available backup",
        "young": "younger than 1 day",
    }


def test_without_keep_last_or_keep_days_nothing_is_past_retention() -> None:
    backups = [bk("ancient", 0), bk("new", 10_000)]
    decision = retention(backups, PLAN, keep_last=None, keep_days=None, now=at(20_000))
    assert deleted(decision) == []
    assert decision.held == NO_RETENTION
    assert kept(decision) == {"new": NO_RETENTION, "ancient": NO_RETENTION}


def test_a_chain_is_deleted_only_as_a_whole_newest_first() -> None:
    chain = [bk("full", 0), bk("i1", 1, inc=True), bk("i2", 190, inc=True)]
    backups = [*chain, bk("new", 195)]
    young_tail = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(200))
    assert deleted(young_tail) == []
    assert kept(young_tail)["full"] == "its chain holds i2, which the retention keeps"
    assert kept(young_tail)["i1"] == "its chain holds i2, which the retention keeps"
    assert kept(young_tail)["i2"] == "younger than 1 day"
    all_past = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(300))
    assert deleted(all_past) == ["i2", "i1", "full"]  # child first


def test_several_chains_go_newest_first_so_each_child_before_its_parent() -> None:
    backups = [
        bk("a-full", 0),
        bk("a-i1", 1, inc=True),
        bk("a-i2", 2, inc=True),
        bk("b-full", 10),
        bk("b-i1", 11, inc=True),
        bk("newest", 100),
    ]
    decision = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(decision) == ["b-i1", "b-full", "a-i2", "a-i1", "a-full"]


def test_a_chain_member_that_cannot_be_deleted_holds_its_chain() -> None:
    backups = [
        bk("full", 0),
        bk("stuck", 1, inc=True, status="error_deleting"),
        bk("newest", 100),
    ]
    decision = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(decision) == []
    assert kept(decision)["full"] == (
        "its chain holds stuck, which is in error after a failed delete"
    )
    assert kept(decision)["stuck"] == "it is in error after a failed delete"


def test_plan_backups_in_error_past_retention_are_deleted_alone() -> None:
    backups = [
        bk("full", 0),
        bk("failed-full", 3, status="error"),
        bk("failed-inc", 6, inc=True, status="error"),  # in the full's chain, holding nothing
        bk("failed-young", 197, status="error"),
        bk("inc", 198, inc=True),
    ]
    decision = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(200))
    assert deleted(decision) == ["failed-inc", "failed-full"]
    assert kept(decision) == {
        "inc": "younger than 1 day",
        "failed-young": "younger than 1 day",
        "full": "in the chain of the newest available backup of this volume (inc)",
    }


def test_the_newest_attempt_in_error_stays_so_the_volume_shows_failing() -> None:
    backups = [
        bk("old-failure", 5, status="error"),
        bk("full", 0),
        bk("failed", 10, status="error"),
    ]
    decision = retention(backups, PLAN, keep_last=1, keep_days=None, now=at(1000))
    assert deleted(decision) == ["old-failure"]
    assert kept(decision) == {
        "failed": NEWEST_FAILED,
        "full": "among the plan's newest 1 available backup",
    }


def test_the_newest_available_backup_is_never_deleted_nor_its_chain() -> None:
    paused = [bk("older", 0), bk("newest", 10)]  # the plan was paused for weeks
    decision = retention(paused, PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(decision) == ["older"]
    assert kept(decision) == {"newest": NEWEST}
    chained = [bk("full", 0), bk("inc", 10, inc=True)]
    decision = retention(chained, PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(decision) == []
    assert kept(decision) == {
        "inc": NEWEST,
        "full": "in the chain of the newest available backup of this volume (inc)",
    }


def test_a_newer_backup_made_by_hand_protects_only_its_own_chain() -> None:
    backups = [bk("plan-full", 0), bk("by-hand", 10, plan=None)]
    decision = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(decision) == ["plan-full"]


@pytest.mark.parametrize("status", ["creating", "deleting", "restoring"])
def test_nothing_is_deleted_while_a_backup_of_the_volume_is_in_flight(status: str) -> None:
    backups = [bk("old", 0), bk("newest", 10), bk("by-hand", 20, plan=None, status=status)]
    decision = retention(backups, PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(decision) == []
    assert decision.held == IN_FLIGHT == "a backup of this volume is in flight"
    assert kept(decision) == {"newest": IN_FLIGHT, "old": IN_FLIGHT}
    settled = replace(backups[2], status=BackupStatus.AVAILABLE)
    after = retention([*backups[:2], settled], PLAN, keep_last=None, keep_days=1, now=at(1000))
    assert deleted(after) == ["newest", "old"]  # the hand-made one is now the newest


def test_retention_refuses_mixed_volumes_and_empty_rules() -> None:
    with pytest.raises(ValueError, match="one volume"):
        retention(
            [bk("a", 0), bk("b", 0, volume=OTHER_VOL)], PLAN, keep_last=1, keep_days=None, now=at(1)
        )
    with pytest.raises(ValueError, match="keep_last"):
        retention([], PLAN, keep_last=0, keep_days=None, now=at(1))
    assert retention([], PLAN, keep_last=1, keep_days=None, now=at(1)) == RetentionDecision()


# --- three days of an hourly plan -------------------------------------------------------------


class VolumeApi:
    """The API's backup rules for one volume, as far as plans need them: an incremental's parent
    is the newest available backup; a parent has dependants; a parent cannot be deleted."""

    def __init__(self) -> None:
        self.backups: dict[str, Backup] = {}
        self.parent_of: dict[str, str] = {}  # backup id -> its parent's id

    def list(self) -> list[Backup]:
        return list(self.backups.values())

    def create(self, name: str, hours: float, *, incremental: bool, plan: str | None) -> None:
        backup = bk(name, hours, plan=plan, inc=incremental)
        if incremental:
            parent = domain.newest_available(self.list())
            assert parent is not None, "No backups available to do an incremental backup"
            self.parent_of[backup.id] = parent.id
            self.backups[parent.id] = replace(parent, has_dependent_backups=True)
        self.backups[backup.id] = backup

    def delete(self, backup_id: str) -> None:
        backup = self.backups[backup_id]
        assert domain.delete_blocker(backup) is None, (backup.name, domain.delete_blocker(backup))
        del self.backups[backup_id]
        parent_id = self.parent_of.pop(backup_id, None)
        if parent_id and parent_id not in self.parent_of.values():
            self.backups[parent_id] = replace(self.backups[parent_id], has_dependent_backups=False)

    def chains_are_whole(self) -> bool:
        """Every incremental's parent is there, and is the one the domain's guess names."""
        remaining = self.list()
        for backup in (b for b in remaining if b.is_incremental):
            parent = self.backups.get(self.parent_of[backup.id])
            if parent is None or domain.incremental_parent(backup, remaining) != parent:
                return False
        return True


def simulate(
    *, keep_last: int | None, keep_days: int | None
) -> tuple[VolumeApi, dict[int, list[str]], dict[int, str]]:
    """72 hourly runs, incremental with a full every 24 runs; a backup made by hand after run 36.
    Returns the volume's backups at the end, what each run deleted, and each run's reason."""
    api, deletions, reasons = VolumeApi(), {}, {}
    for run in range(72):
        now = at(run)
        decision = backup_kind(
            volume(), api.list(), PLAN, mode="incremental", full_every_runs=24, now=now
        )
        assert not decision.skip and not decision.force
        api.create(f"run-{run:02d}", run, incremental=decision.incremental, plan=PLAN)
        reasons[run] = decision.reason
        outcome = retention(api.list(), PLAN, keep_last=keep_last, keep_days=keep_days, now=now)
        newest = domain.newest_available(api.list())
        assert newest is not None and newest.id not in {b.id for b in outcome.delete}
        for backup in outcome.delete:
            api.delete(backup.id)
        if outcome.delete:
            deletions[run] = deleted(outcome)
        assert api.chains_are_whole()
        assert_the_plan_kept_what_its_retention_keeps(api, run, keep_last, keep_days)
        if run == 36:
            api.create("by-hand", 36.5, incremental=False, plan=None)
        if run >= 36:  # untouched (its dependants are the API's doing, not retention's)
            by_hand = replace(api.backups["id-by-hand"], has_dependent_backups=False)
            assert by_hand == bk("by-hand", 36.5, plan=None)
    return api, deletions, reasons


def assert_the_plan_kept_what_its_retention_keeps(
    api: VolumeApi, run: int, keep_last: int | None, keep_days: int | None
) -> None:
    """The plan's newest ``keep_last`` runs, and its runs of the last ``keep_days`` days, are
    all there (one backup a run, every one available at once)."""
    present = set(names(api.list()))
    if keep_last:
        assert {f"run-{r:02d}" for r in range(max(0, run - keep_last + 1), run + 1)} <= present
    if keep_days:
        assert {f"run-{r:02d}" for r in range(max(0, run - 24 * keep_days + 1), run + 1)} <= present


def runs(first: int, last: int) -> list[str]:
    return [f"run-{r:02d}" for r in range(last, first - 1, -1)]


def test_three_days_of_hourly_incrementals_with_a_daily_full_keeping_24_hours() -> None:
    api, deletions, reasons = simulate(keep_last=None, keep_days=1)
    # Every backup younger than a day remains; older ones only in a chain that must stay:
    # the chain of the backup made by hand (the plan's runs 37-47 built on it) is never
    # deleted, and the chain of run 48 holds backups younger than a day.
    assert sorted(names(api.list())) == sorted(["by-hand", *runs(37, 71)])
    assert deletions == {47: runs(0, 23), 60: runs(24, 36)}
    assert [r for r, why in reasons.items() if why.startswith("full")] == [0, 24, 48]
    assert reasons[0] == "full: no available backup yet"
    assert reasons[24] == reasons[48] == "full: every 24 runs"
    assert reasons[23] == "incremental on the chain of run-00"
    assert reasons[37] == "incremental on the chain of by-hand"
    assert api.backups["id-by-hand"].metadata == {"owner": "someone"}
    final = retention(api.list(), PLAN, keep_last=None, keep_days=1, now=at(71))
    assert final.delete == ()
    assert kept(final)["run-37"] == "its chain holds by-hand, made by hand or by another plan"


def test_three_days_of_hourly_incrementals_keeping_the_newest_five() -> None:
    api, deletions, reasons = simulate(keep_last=5, keep_days=None)
    # A chain goes once the newest five are all newer than it; the plan's own full went with
    # chain 24-36, so run 42 starts a chain of its own, and run 66 the next one.
    assert sorted(names(api.list())) == sorted(["by-hand", *runs(37, 41), *runs(66, 71)])
    assert deletions == {28: runs(0, 23), 41: runs(24, 36), 70: runs(42, 65)}
    assert [r for r, why in reasons.items() if why.startswith("full")] == [0, 24, 42, 66]
    assert reasons[42] == "full: the plan has no available full backup of this volume yet"
    assert api.backups["id-by-hand"].metadata == {"owner": "someone"}
    final = retention(api.list(), PLAN, keep_last=5, keep_days=None, now=at(71))
    assert final.delete == ()
    assert (
        kept(final)["run-66"]
        == "in the chain of the newest available backup of this volume (run-71)"
    )
