"""When a plan's rule runs (fleet.schedule): presets, cron, time zones, daylight saving both
ways, and what a scheduler tick does after downtime, on a rule's first tick, and between slots."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fleet.schedule import (
    MISSED_CAP,
    InvalidSchedule,
    Schedule,
    due,
    next_slot,
    slots_between,
)

PARIS = ZoneInfo("Europe/Paris")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def local_days(slots: list[datetime], zone: ZoneInfo) -> list[date]:
    return [slot.astimezone(zone).date() for slot in slots]


# --- presets and cron ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "expression", "description"),
    [
        (Schedule.hourly(15), "15 * * * *", "Every hour at :15"),
        (
            Schedule.hourly(5, timezone="Asia/Kolkata"),
            "5 * * * *",
            "Every hour at :05 Asia/Kolkata",
        ),
        (Schedule.daily(2, 0, timezone="Europe/Paris"), "0 2 * * *", "Daily at 02:00 Europe/Paris"),
        (Schedule.weekly([3, 0], 3, 30), "30 3 * * 1,4", "Weekly on Mon, Thu at 03:30 UTC"),
        (Schedule.weekly([6], 23, 5), "5 23 * * 0", "Weekly on Sun at 23:05 UTC"),
        (Schedule.from_cron(" 0  */6 * * * "), "0 */6 * * *", "Cron 0 */6 * * * (UTC)"),
    ],
)
def test_presets_become_cron_and_say_what_they_do(
    schedule: Schedule, expression: str, description: str
) -> None:
    assert schedule.cron_expression() == expression
    assert schedule.describe() == description
    assert schedule.problems() == []


@pytest.mark.parametrize(
    ("schedule", "stored"),
    [
        (Schedule.hourly(15), {"kind": "hourly", "timezone": "UTC", "minute": 15}),
        (
            Schedule.daily(2, 30, timezone="Europe/Paris"),
            {"kind": "daily", "timezone": "Europe/Paris", "minute": 30, "hour": 2},
        ),
        (
            Schedule.weekly((4, 0, 0), 3, 30),
            {"kind": "weekly", "timezone": "UTC", "minute": 30, "hour": 3, "weekdays": [0, 4]},
        ),
        (
            Schedule.from_cron("0 */6 * * *"),
            {"kind": "cron", "timezone": "UTC", "cron": "0 */6 * * *"},
        ),
    ],
)
def test_a_schedule_is_stored_as_json_holding_only_what_its_kind_uses(
    schedule: Schedule, stored: dict[str, object]
) -> None:
    assert schedule.as_dict() == stored
    assert Schedule.from_dict(stored) == schedule


def test_from_dict_refuses_wrong_types_and_keeps_bad_values_for_the_form() -> None:
    with pytest.raises(TypeError, match="minute"):
        Schedule.from_dict({"kind": "daily", "minute": "2"})
    with pytest.raises(TypeError, match="weekdays"):
        Schedule.from_dict({"kind": "weekly", "weekdays": "0,1"})
    kept = Schedule.from_dict({"kind": "daily", "hour": 25})
    assert kept.problems() == ["The hour must be between 0 and 23."]


def test_daily_and_weekly_slots_in_utc() -> None:
    daily = list(slots_between(Schedule.daily(2, 0), utc(2026, 1, 1), utc(2026, 1, 4)))
    assert daily == [utc(2026, 1, 1, 2), utc(2026, 1, 2, 2), utc(2026, 1, 3, 2)]
    # 2026-01-05 is a Monday, 2026-01-08 a Thursday.
    weekly = Schedule.weekly([0, 3], 3, 30)
    assert list(slots_between(weekly, utc(2026, 1, 4), utc(2026, 1, 12))) == [
        utc(2026, 1, 5, 3, 30),
        utc(2026, 1, 8, 3, 30),
    ]


def test_cron_slots_and_hourly_minute() -> None:
    every_six = Schedule.from_cron("0 */6 * * *")
    assert list(slots_between(every_six, utc(2026, 1, 1), utc(2026, 1, 2))) == [
        utc(2026, 1, 1, 6),
        utc(2026, 1, 1, 12),
        utc(2026, 1, 1, 18),
        utc(2026, 1, 2, 0),
    ]
    hourly = list(slots_between(Schedule.hourly(15), utc(2026, 1, 1), utc(2026, 1, 1, 3)))
    assert hourly == [utc(2026, 1, 1, 0, 15), utc(2026, 1, 1, 1, 15), utc(2026, 1, 1, 2, 15)]


def test_the_interval_is_half_open() -> None:
    daily = Schedule.daily(2, 0)
    slots = list(slots_between(daily, utc(2026, 1, 1, 2), utc(2026, 1, 2, 2)))
    assert slots == [utc(2026, 1, 2, 2)]  # the slot at ``after`` excluded, at ``until`` kept
    assert next_slot(daily, utc(2026, 1, 1, 2)) == utc(2026, 1, 2, 2)
    assert next_slot(daily, utc(2026, 1, 1, 1, 59, 59, 999999)) == utc(2026, 1, 1, 2)


# --- time zones and daylight saving ----------------------------------------------------------


def test_a_daily_rule_keeps_its_local_time_across_seasons() -> None:
    daily = Schedule.daily(2, 0, timezone="Europe/Paris")
    assert next_slot(daily, utc(2026, 1, 10)) == utc(2026, 1, 10, 1)  # CET, UTC+1
    assert next_slot(daily, utc(2026, 7, 9, 12)) == utc(2026, 7, 10, 0)  # CEST, UTC+2


def test_spring_forward_a_skipped_time_runs_once_that_day_at_the_first_real_instant() -> None:
    # 2026-03-29 in Paris: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist.
    daily = Schedule.daily(2, 30, timezone="Europe/Paris")
    slots = list(slots_between(daily, utc(2026, 3, 27), utc(2026, 3, 31)))
    assert local_days(slots, PARIS) == [date(2026, 3, d) for d in (27, 28, 29, 30)]
    assert slots[2] == utc(2026, 3, 29, 1)  # 03:00 CEST, once
    assert slots[2].astimezone(PARIS).strftime("%H:%M %Z") == "03:00 CEST"
    assert slots[3] == utc(2026, 3, 30, 0, 30)  # 02:30 CEST the next day


def test_fall_back_a_repeated_time_runs_once() -> None:
    # 2026-10-25 in Paris: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    daily = Schedule.daily(2, 30, timezone="Europe/Paris")
    slots = list(slots_between(daily, utc(2026, 10, 24), utc(2026, 10, 27)))
    assert local_days(slots, PARIS) == [date(2026, 10, d) for d in (24, 25, 26)]
    assert slots[1] == utc(2026, 10, 25, 0, 30)  # the first 02:30 (CEST) only
    # A scheduler that last looked during the second 02:00-03:00 does not run it again.
    assert next_slot(daily, utc(2026, 10, 25, 1, 0)) == utc(2026, 10, 26, 1, 30)
    assert next_slot(daily, utc(2026, 10, 25, 1, 45)) == utc(2026, 10, 26, 1, 30)


@pytest.mark.parametrize(("day", "runs"), [(date(2026, 3, 29), 23), (date(2026, 10, 25), 25)])
def test_an_hourly_rule_follows_the_real_clock_on_short_and_long_days(day: date, runs: int) -> None:
    start = datetime(day.year, day.month, day.day, tzinfo=PARIS)
    end = start + timedelta(days=1)
    hourly = Schedule.hourly(15, timezone="Europe/Paris")
    slots = [s for s in slots_between(hourly, start, end) if s.astimezone(PARIS).date() == day]
    assert len(slots) == runs
    assert len(set(slots)) == runs
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(slots))


# --- long intervals --------------------------------------------------------------------------


def test_a_year_of_an_hourly_rule_is_counted_lazily_and_can_be_capped() -> None:
    hourly = Schedule.hourly(0)
    started = time.perf_counter()
    assert (
        sum(1 for _ in slots_between(hourly, utc(2025, 12, 31, 23), utc(2026, 12, 31, 23))) == 8760
    )
    assert time.perf_counter() - started < 5
    capped = list(slots_between(hourly, utc(2026, 1, 1), utc(2126, 1, 1), limit=3))
    assert capped == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2), utc(2026, 1, 1, 3)]
    endless = slots_between(hourly, utc(2026, 1, 1), utc(9999, 1, 1))
    assert next(endless) == utc(2026, 1, 1, 1)  # a generator: nothing computed ahead


def test_a_rare_rule_has_no_slot_in_a_year_and_its_next_slot_years_away() -> None:
    assert (
        list(slots_between(Schedule.from_cron("0 0 29 2 *"), utc(2026, 1, 1), utc(2027, 1, 1)))
        == []
    )
    assert next_slot(Schedule.from_cron("0 0 29 2 *"), utc(2026, 1, 1)) == utc(2028, 2, 29)


def test_naive_datetimes_and_invalid_schedules_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_slot(Schedule.hourly(0), datetime(2026, 1, 1))
    with pytest.raises(InvalidSchedule) as caught:
        next_slot(Schedule.hourly(75), utc(2026, 1, 1))
    assert caught.value.problems == ["The minute must be between 0 and 59."]


# --- a scheduler tick ------------------------------------------------------------------------


def test_after_downtime_the_latest_missed_slot_runs_once_and_the_rest_are_missed() -> None:
    nightly = Schedule.daily(2, 0)
    tick = due(nightly, utc(2026, 1, 1, 2), utc(2026, 1, 4, 10), not_before=utc(2025, 12, 1))
    assert tick.run == utc(2026, 1, 4, 2)
    assert tick.missed == (utc(2026, 1, 2, 2), utc(2026, 1, 3, 2))
    assert tick.missed_total == 2
    assert tick.first_missed == utc(2026, 1, 2, 2)
    assert not tick.missed_truncated
    assert tick.next == utc(2026, 1, 5, 2)
    # The next tick, with the slot it ran recorded, has nothing left to do.
    again = due(nightly, tick.run, utc(2026, 1, 4, 10, 1), not_before=utc(2025, 12, 1))
    assert again.run is None and again.missed == () and again.missed_total == 0


def test_a_missed_night_runs_once() -> None:
    nightly = Schedule.daily(2, 0, timezone="Europe/Paris")
    # The scheduler was down from 00:30 to 06:00 UTC; the 02:00 Paris (01:00 UTC) slot runs.
    tick = due(nightly, utc(2026, 1, 2, 1), utc(2026, 1, 3, 6), not_before=utc(2026, 1, 1))
    assert (tick.run, tick.missed, tick.missed_total) == (utc(2026, 1, 3, 1), (), 0)
    assert tick.first_missed is None


def test_the_first_tick_of_a_new_rule_never_runs_slots_from_before_it_existed() -> None:
    nightly = Schedule.daily(2, 0)
    created = utc(2026, 1, 3, 12)
    first = due(nightly, None, utc(2026, 1, 3, 12, 5), not_before=created)
    assert (first.run, first.missed, first.missed_total) == (None, (), 0)
    assert first.next == utc(2026, 1, 4, 2)
    later = due(nightly, None, utc(2026, 1, 4, 2, 0, 30), not_before=created)
    assert (later.run, later.missed_total) == (utc(2026, 1, 4, 2), 0)


def test_slots_while_a_rule_was_paused_are_neither_run_nor_missed() -> None:
    hourly = Schedule.hourly(0)
    resumed = utc(2026, 2, 1, 9, 30)
    tick = due(hourly, utc(2026, 1, 1), utc(2026, 2, 1, 10, 0, 5), not_before=resumed)
    assert (tick.run, tick.missed_total) == (utc(2026, 2, 1, 10), 0)


def test_no_slot_in_the_interval_means_nothing_to_do() -> None:
    tick = due(
        Schedule.daily(2, 0), utc(2026, 1, 1, 2), utc(2026, 1, 1, 23), not_before=utc(2026, 1, 1)
    )
    assert (tick.run, tick.missed, tick.missed_total) == (None, (), 0)
    assert tick.next == utc(2026, 1, 2, 2)


def test_a_year_of_downtime_lists_at_most_the_cap_and_counts_them_all() -> None:
    hourly = Schedule.hourly(0)
    started = time.perf_counter()
    tick = due(hourly, utc(2025, 1, 1), utc(2026, 1, 1, 0, 30), not_before=utc(2024, 1, 1))
    assert time.perf_counter() - started < 5
    assert tick.run == utc(2026, 1, 1)
    assert tick.missed_total == 8759
    assert len(tick.missed) == MISSED_CAP == 1000
    assert tick.missed[-1] == utc(2025, 12, 31, 23)  # the newest missed ones are listed
    assert tick.missed[0] == utc(2025, 12, 31, 23) - timedelta(hours=999)
    assert tick.first_missed == utc(2025, 1, 1, 1)  # the oldest, though not listed
    assert tick.missed_truncated


def test_ticks_every_seven_minutes_run_each_slot_exactly_once() -> None:
    hourly = Schedule.hourly(10, timezone="Europe/Paris")
    created = utc(2026, 10, 24, 12)
    now, last, ran = created, None, []
    while now < utc(2026, 10, 26, 12):
        now += timedelta(minutes=7)
        tick = due(hourly, last, now, not_before=created)
        assert tick.missed_total == 0
        if tick.run is not None:
            ran.append(tick.run)
            last = tick.run
    assert ran == list(slots_between(hourly, created, now))
    assert len(ran) == 48  # every real hour, in UTC …
    local = [slot.astimezone(PARIS).strftime("%d %H:%M") for slot in ran]
    assert local.count("25 02:10") == 2  # … so 02:10 twice on the night the clocks go back


# --- what a form shows -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "problems"),
    [
        (Schedule("monthly"), ["Choose how often the rule runs: hourly, daily, weekly or cron."]),
        (Schedule.hourly(60), ["The minute must be between 0 and 59."]),
        (
            Schedule.daily(24, -1),
            ["The hour must be between 0 and 23.", "The minute must be between 0 and 59."],
        ),
        (Schedule.weekly([], 3), ["Choose at least one weekday."]),
        (Schedule.weekly([7], 3), ["A weekday is a number from 0 (Monday) to 6 (Sunday)."]),
        (
            Schedule.daily(2, timezone="Europe/Pariss"),
            ["Unknown time zone “Europe/Pariss”: use an IANA name such as Europe/Paris, or UTC."],
        ),
        (
            Schedule.daily(2, timezone="../etc/passwd"),
            ["Unknown time zone “../etc/passwd”: use an IANA name such as Europe/Paris, or UTC."],
        ),
        (
            Schedule.daily(2, timezone="localtime"),
            ["Unknown time zone “localtime”: use an IANA name such as Europe/Paris, or UTC."],
        ),
        (
            Schedule.daily(2, timezone=""),
            ["Choose a time zone (an IANA name such as Europe/Paris, or UTC)."],
        ),
        (
            Schedule.from_cron(""),
            ["Enter a cron expression, such as “0 */6 * * *” (every six hours)."],
        ),
        (Schedule.from_cron("61 * * * *"), ["The cron expression is not valid: Bad minute."]),
        (Schedule.from_cron("0 25 * * *"), ["The cron expression is not valid: Bad hour."]),
        (Schedule.from_cron("0 0 31 2 *"), ["The cron expression is not valid: Bad day-of-month."]),
        (
            Schedule.from_cron("0 0 * * FUNDAY"),
            ["The cron expression is not valid: Bad day-of-week."],
        ),
        (
            Schedule.from_cron("0 0 * * * *"),
            [
                "A cron expression has 5 fields (minute, hour, day of month, month, day of week); "
                "this one has 6."
            ],
        ),
        (
            Schedule.from_cron("0 0 * * *", timezone="Nowhere"),
            ["Unknown time zone “Nowhere”: use an IANA name such as Europe/Paris, or UTC."],
        ),
    ],
)
def test_invalid_input_gets_the_sentences_a_form_shows(
    schedule: Schedule, problems: list[str]
) -> None:
    assert schedule.problems() == problems
    with pytest.raises(InvalidSchedule):
        next_slot(schedule, utc(2026, 1, 1))
