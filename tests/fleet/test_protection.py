"""The protection rules (``backups.domain_protection``) with the sentence a user reads, and the
page-by-page aggregation checked against the domain's own chain and newest-backup rules."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from backups import domain
from backups.api import Backup
from backups.domain_protection import (
    DEFAULT_RPO,
    BackupFold,
    ProtectionState,
    VolumeBackups,
    assess,
    chain_text,
    format_duration,
    format_rpo,
    state_of,
)
from fleet.protection_rows import (
    RowFilter,
    decode_result,
    encode_result,
    judged,
    select,
)
from tests.api.conftest import backup_json

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VOL_A = "aaaaaaaa-0000-4000-8000-000000000001"
VOL_B = "bbbbbbbb-0000-4000-8000-000000000002"
_counter = iter(range(1, 10**9))


def backup(
    hours_ago: float,
    *,
    volume: str = VOL_A,
    status: str = "available",
    incremental: bool = False,
    fail_reason: str | None = None,
) -> Backup:
    n = next(_counter)
    created = (NOW - timedelta(hours=hours_ago)).isoformat().replace("+00:00", "Z")
    return Backup.from_api(
        backup_json(
            id=f"cccccccc-0000-4000-8000-{n:012d}",
            name=f"b{n}",
            volume_id=volume,
            status=status,
            is_incremental=incremental,
            fail_reason=fail_reason,
            created_at=created,
            updated_at=created,
        )
    )


def newest_first(backups: list[Backup]) -> list[Backup]:
    return sorted(backups, key=lambda b: (b.created_at, b.id), reverse=True)


def fold(backups: list[Backup], page: int = 1000) -> BackupFold:
    folded = BackupFold()
    ordered = newest_first(backups)
    for start in range(0, len(ordered), page):
        folded.add(ordered[start : start + page])
    return folded


# --- the states and their reasons -----------------------------------------------------------


def test_a_recent_backup_is_protected_and_says_how_old() -> None:
    summary = fold([backup(2.5)]).get(VOL_A)
    result = assess(summary, DEFAULT_RPO, NOW)
    assert result.state is ProtectionState.PROTECTED
    assert result.reason == (
        "The newest available backup is 2 hours 30 minutes old, within the objective of 24 hours."
    )
    assert result.age == timedelta(hours=2.5)


def test_an_old_backup_is_at_risk() -> None:
    summary = fold([backup(49)]).get(VOL_A)
    result = assess(summary, DEFAULT_RPO, NOW)
    assert result.state is ProtectionState.AT_RISK
    assert result.reason == (
        "The newest available backup is 2 days 1 hour old, older than the objective of 24 hours."
    )


def test_the_objective_decides_between_protected_and_at_risk() -> None:
    summary = fold([backup(30)]).get(VOL_A)
    assert state_of(summary, timedelta(hours=24), NOW) is ProtectionState.AT_RISK
    assert state_of(summary, timedelta(hours=48), NOW) is ProtectionState.PROTECTED
    # Exactly the objective's age is still within it.
    assert state_of(summary, timedelta(hours=30), NOW) is ProtectionState.PROTECTED


def test_no_backup_at_all_is_unprotected() -> None:
    result = assess(BackupFold().get(VOL_A), DEFAULT_RPO, NOW)
    assert result.state is ProtectionState.UNPROTECTED
    assert result.reason == "No available backup: this volume has never been backed up."
    assert result.age is None


def test_backups_none_of_them_available_is_unprotected() -> None:
    summary = fold([backup(1, status="creating"), backup(3, status="deleting")]).get(VOL_A)
    result = assess(summary, DEFAULT_RPO, NOW)
    assert result.state is ProtectionState.UNPROTECTED
    assert result.reason == "No available backup: none of its backups can be restored."


def test_a_failed_newest_attempt_is_failing_even_with_a_fresh_older_backup() -> None:
    summary = fold([backup(1, status="error", fail_reason="Quota exceeded."), backup(2)]).get(VOL_A)
    result = assess(summary, DEFAULT_RPO, NOW)
    assert result.state is ProtectionState.FAILING
    assert result.reason == "The newest backup attempt failed: Quota exceeded."
    assert summary.newest_at == NOW - timedelta(hours=2)  # still shown


def test_a_failure_without_a_reason_says_so() -> None:
    summary = fold([backup(1, status="error")]).get(VOL_A)
    assert assess(summary, DEFAULT_RPO, NOW).reason == (
        "The newest backup attempt failed: ByCloud gave no reason."
    )


def test_an_older_failure_does_not_make_a_volume_failing() -> None:
    summary = fold([backup(1), backup(2, status="error")]).get(VOL_A)
    assert state_of(summary, DEFAULT_RPO, NOW) is ProtectionState.PROTECTED


def test_states_by_risk() -> None:
    ranks = [s.rank for s in ProtectionState]
    assert [s.value for s in sorted(ProtectionState, key=lambda s: s.rank)] == [
        "failing",
        "unprotected",
        "at-risk",
        "protected",
    ]
    assert sorted(ranks) == [0, 1, 2, 3]
    assert ProtectionState.AT_RISK.label == "At risk"


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(seconds=30), "under a minute"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=5, minutes=10, seconds=59), "5 hours 10 minutes"),
        (timedelta(hours=1), "1 hour"),
        (timedelta(days=2, hours=3, minutes=59), "2 days 3 hours"),
        (timedelta(days=1, minutes=3), "24 hours 3 minutes"),
        (timedelta(days=1, hours=23), "47 hours"),
        (timedelta(days=2), "2 days"),
        (timedelta(days=400), "400 days"),
        (timedelta(days=1500, hours=1), "1,500 days 1 hour"),
        (timedelta(seconds=-5), "under a minute"),
    ],
)
def test_format_duration(span: timedelta, text: str) -> None:
    assert format_duration(span) == text


@pytest.mark.parametrize(
    ("hours", "text"), [(1, "1 hour"), (24, "24 hours"), (36, "36 hours"), (168, "7 days")]
)
def test_format_rpo(hours: int, text: str) -> None:
    assert format_rpo(timedelta(hours=hours)) == text


# --- chain length ---------------------------------------------------------------------------


def test_chain_of_a_full_backup_is_one() -> None:
    summary = fold([backup(1), backup(5, incremental=True), backup(9)]).get(VOL_A)
    assert (summary.chain_length, summary.chain_complete) == (1, True)
    assert chain_text(summary) == "1 (full)"


def test_chain_counts_the_incrementals_back_to_the_full() -> None:
    summary = fold(
        [
            backup(1, status="error"),  # the newest attempt: not read by a restore
            backup(2, incremental=True),
            backup(3, incremental=True, status="error"),  # not a parent
            backup(4, incremental=True),
            backup(5),  # the full
            backup(6, incremental=True),  # an older chain
            backup(7),
        ]
    ).get(VOL_A)
    assert (summary.chain_length, summary.chain_complete) == (3, True)
    assert chain_text(summary) == "3 (full and 2 incremental)"


def test_chain_without_its_full_backup_is_marked() -> None:
    summary = fold([backup(1, incremental=True), backup(2, incremental=True)]).get(VOL_A)
    assert (summary.chain_length, summary.chain_complete) == (2, False)
    assert chain_text(summary) == "2 incremental (full backup not found)"
    assert chain_text(VolumeBackups()) == ""


def test_a_restoring_backup_is_a_parent() -> None:
    summary = fold([backup(1, incremental=True), backup(2, status="restoring")]).get(VOL_A)
    assert (summary.chain_length, summary.chain_complete) == (2, True)


def test_only_keeps_listed_volumes_and_counts_every_backup() -> None:
    folded = BackupFold()
    folded.add(newest_first([backup(1), backup(2, volume=VOL_B)]), only={VOL_A})
    assert set(folded.volumes) == {VOL_A}
    assert folded.backups == 2
    folded.keep_only([])
    assert folded.volumes == {}


def random_backups(rng: random.Random) -> list[Backup]:
    statuses = ["available"] * 6 + ["error", "creating", "deleting", "restoring", "error_deleting"]
    hours = rng.sample(range(1, 2000), rng.randint(0, 25))
    return [
        backup(
            h,
            volume=rng.choice([VOL_A, VOL_B]),
            status=rng.choice(statuses),
            incremental=rng.random() < 0.6,
        )
        for h in hours
    ]


def expected_chain(backups: list[Backup], newest: Backup) -> tuple[int, bool]:
    """What ``backups.domain.backup_chains`` says: the data-holding backups of the newest
    available backup's chain created no later than it, and whether the chain has its full."""
    chain = next(c for c in domain.backup_chains(backups) if newest in c.backups)
    read = [
        b
        for b in chain.backups
        if domain.can_be_parent(b) and (b.created_at, b.id) <= (newest.created_at, newest.id)
    ]
    return len(read), chain.full is not None


def cases() -> Iterator[int]:
    yield from range(300)


@pytest.mark.parametrize("seed", list(cases()))
def test_the_fold_agrees_with_the_domain_whatever_the_pages(seed: int) -> None:
    rng = random.Random(seed)
    backups = random_backups(rng)
    folded = fold(backups, page=rng.randint(1, 7))
    newest = domain.newest_available_by_volume(backups)
    assert folded.backups == len(backups)
    for volume in (VOL_A, VOL_B):
        own = [b for b in backups if b.volume_id == volume]
        summary = folded.get(volume)
        assert summary.count == len(own)
        assert summary.newest_id == (newest[volume].id if volume in newest else None)
        attempt = max(own, key=lambda b: (b.created_at, b.id), default=None)
        assert summary.attempt_status == (attempt.status.value if attempt else "")
        if volume in newest:
            assert (summary.chain_length, summary.chain_complete) == expected_chain(
                own, newest[volume]
            )
        else:
            assert summary.chain_length == 0


# --- the stored result: round trip, judged, filtered, sorted --------------------------------


def row_summary(*backups: Backup) -> VolumeBackups:
    return fold(list(backups)).get(backups[0].volume_id if backups else VOL_A)


def sample_result() -> dict:
    volumes = [
        ("spo1", VOL_A, ("web-01", "in-use", {"team": "web"}), row_summary(backup(2))),
        ("spo1", VOL_B, ("db-01", "available", {"team": "db"}), row_summary()),
        (
            "spo2",
            "dddddddd-0000-4000-8000-000000000003",
            ("web-02", "available", {"team": "web"}),
            row_summary(backup(50, volume="dddddddd-0000-4000-8000-000000000003")),
        ),
        (
            "spo2",
            "eeeeeeee-0000-4000-8000-000000000004",
            ("logs", "available", {}),
            row_summary(
                backup(1, volume="eeeeeeee-0000-4000-8000-000000000004", status="error"),
            ),
        ),
        (
            "spo2",
            "ffffffff-0000-4000-8000-000000000005",
            ("web-old", "available", {"team": "web"}),
            row_summary(backup(90, volume="ffffffff-0000-4000-8000-000000000005")),
        ),
    ]
    return encode_result(NOW, [{"name": "spo1"}, {"name": "spo2"}], volumes)


def test_result_round_trip_keeps_every_field() -> None:
    data = sample_result()
    result = decode_result(data)
    assert result.as_of == NOW
    assert [r.name for r in result.rows] == ["web-01", "db-01", "web-02", "logs", "web-old"]
    web = result.rows[0]
    assert web.region == "spo1" and web.metadata == {"team": "web"} and web.status == "in-use"
    assert web.backups.newest_at == NOW - timedelta(hours=2)
    assert web.backups.chain_length == 1 and web.backups.chain_complete


def test_judged_rows_are_sorted_by_risk_then_oldest_first() -> None:
    result = decode_result(sample_result())
    rows = judged("scan-sort", result, DEFAULT_RPO)
    assert [(j.row.name, j.state.value) for j in rows] == [
        ("logs", "failing"),
        ("db-01", "unprotected"),
        ("web-old", "at-risk"),
        ("web-02", "at-risk"),
        ("web-01", "protected"),
    ]
    longer = judged("scan-sort", result, timedelta(hours=60))
    assert [j.state.value for j in longer][2:] == ["at-risk", "protected", "protected"]


def test_filters_and_totals() -> None:
    rows = judged("scan-filter", decode_result(sample_result()), DEFAULT_RPO)
    everything = select(rows, RowFilter())
    assert everything.count == 5
    assert {s.value: n for s, n in everything.totals.items()} == {
        "failing": 1,
        "unprotected": 1,
        "at-risk": 2,
        "protected": 1,
    }
    web = select(rows, RowFilter(metadata=("team", "web")))
    assert [j.row.name for j in web.rows] == ["web-old", "web-02", "web-01"]
    at_risk_web = select(rows, RowFilter(state="at-risk", name="WEB"))
    assert [j.row.name for j in at_risk_web.rows] == ["web-old", "web-02"]
    assert at_risk_web.totals[ProtectionState.PROTECTED] == 1  # totals ignore the state filter
    assert [j.row.name for j in select(rows, RowFilter(name="web-0*")).rows] == [
        "web-02",
        "web-01",
    ]
    assert [j.row.name for j in select(rows, RowFilter(name="0*")).rows] == []
    assert [j.row.name for j in select(rows, RowFilter(region="spo1")).rows] == [
        "db-01",
        "web-01",
    ]
