"""When a plan's rule runs: its schedule, the instants it names, and what a scheduler tick does.

Pure: no Django, no database, no clock. The plan form (``Schedule.problems``), the plan page
(``Schedule.describe``, ``next_slot``) and the scheduler (``due``) all read the same rules.

A schedule is a preset (hourly, daily, weekly) or a 5-field cron expression, in an IANA time
zone. Every preset is a cron expression too (``cron_expression``), evaluated by cronsim (the
evaluator of Healthchecks.io), in the schedule's time zone, with its daylight-saving rules,
which mimic Debian cron for rules at a fixed hour and minute:

- spring forward: a daily 02:30 in a zone that skips 02:00-03:00 runs once that day, at the
  first instant that exists (03:00 local);
- fall back: a daily 02:30 in a zone that repeats 02:00-03:00 runs once, at the first 02:30;
- a rule with a ``*`` in its hour (hourly, ``0 */6 * * *``) follows the real clock: 23 runs of an
  hourly rule on the short day, 25 on the long one.

Instants are aware datetimes in UTC; naive datetimes are refused (``ValueError``).
"""

from __future__ import annotations

import functools
import itertools
import zoneinfo
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from cronsim import CronSim, CronSimError

KINDS = ("hourly", "daily", "weekly", "cron")
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: How many missed slots ``due`` lists (it counts them all).
MISSED_CAP = 1000
#: Zone names that exist on the host but are not IANA zones (they follow the host).
_HOST_ZONES = frozenset({"localtime", "posixrules", "Factory"})


class InvalidSchedule(ValueError):
    """A schedule with problems was asked for its slots; ``problems`` are the sentences."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Schedule:
    """When a rule runs. ``minute`` and ``hour`` serve the presets (``hour`` daily and weekly
    only), ``weekdays`` (0 = Monday … 6 = Sunday) weekly only, ``cron`` the cron kind only."""

    kind: str
    minute: int = 0
    hour: int = 0
    weekdays: tuple[int, ...] = ()
    cron: str = ""
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        object.__setattr__(self, "weekdays", tuple(sorted(set(self.weekdays))))
        object.__setattr__(self, "cron", " ".join(self.cron.split()))
        object.__setattr__(self, "timezone", self.timezone.strip())

    # --- construction --------------------------------------------------------------------

    @classmethod
    def hourly(cls, minute: int = 0, *, timezone: str = "UTC") -> Schedule:
        return cls("hourly", minute=minute, timezone=timezone)

    @classmethod
    def daily(cls, hour: int, minute: int = 0, *, timezone: str = "UTC") -> Schedule:
        return cls("daily", minute=minute, hour=hour, timezone=timezone)

    @classmethod
    def weekly(
        cls,
        weekdays: tuple[int, ...] | list[int],
        hour: int,
        minute: int = 0,
        *,
        timezone: str = "UTC",
    ) -> Schedule:
        return cls("weekly", minute=minute, hour=hour, weekdays=tuple(weekdays), timezone=timezone)

    @classmethod
    def from_cron(cls, expression: str, *, timezone: str = "UTC") -> Schedule:
        return cls("cron", cron=expression, timezone=timezone)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        """The schedule stored by ``as_dict`` (a JSON object). Wrong types raise
        ``TypeError``; out-of-range values are kept for ``problems`` to report."""
        weekdays = data.get("weekdays", ())
        if not isinstance(weekdays, list | tuple):
            raise TypeError("weekdays: expected a list")
        return cls(
            kind=_typed(data, "kind", str, ""),
            minute=_typed(data, "minute", int, 0),
            hour=_typed(data, "hour", int, 0),
            weekdays=tuple(_as_int(day, "weekdays") for day in weekdays),
            cron=_typed(data, "cron", str, ""),
            timezone=_typed(data, "timezone", str, "UTC"),
        )

    def as_dict(self) -> dict[str, Any]:
        """A JSON object holding only the fields the kind uses."""
        data: dict[str, Any] = {"kind": self.kind, "timezone": self.timezone}
        if self.kind == "cron":
            data["cron"] = self.cron
            return data
        data["minute"] = self.minute
        if self.kind in ("daily", "weekly"):
            data["hour"] = self.hour
        if self.kind == "weekly":
            data["weekdays"] = list(self.weekdays)
        return data

    # --- reading -------------------------------------------------------------------------

    def cron_expression(self) -> str:
        """The 5-field cron expression the schedule runs on (cron's weekdays: 0 = Sunday)."""
        if self.kind == "hourly":
            return f"{self.minute} * * * *"
        if self.kind == "daily":
            return f"{self.minute} {self.hour} * * *"
        if self.kind == "weekly":
            days = ",".join(str((day + 1) % 7) for day in self.weekdays)
            return f"{self.minute} {self.hour} * * {days}"
        return self.cron

    def describe(self) -> str:
        """What a person reads: "Daily at 02:00 Europe/Paris"."""
        at = f"{self.hour:02d}:{self.minute:02d} {self.timezone}"
        if self.kind == "hourly":
            zone = "" if self.timezone == "UTC" else f" {self.timezone}"
            return f"Every hour at :{self.minute:02d}{zone}"
        if self.kind == "daily":
            return f"Daily at {at}"
        if self.kind == "weekly":
            days = ", ".join(_weekday_name(day) for day in self.weekdays)
            return f"Weekly on {days} at {at}"
        return f"Cron {self.cron} ({self.timezone})"

    def problems(self) -> list[str]:
        """The sentences a form shows for this schedule; empty when it is valid."""
        if self.kind not in KINDS:
            return ["Choose how often the rule runs: hourly, daily, weekly or cron."]
        found = _zone_problems(self.timezone)
        if self.kind == "cron":
            return _cron_problems(self.cron) + found
        if not 0 <= self.minute <= 59:
            found.insert(0, "The minute must be between 0 and 59.")
        if self.kind != "hourly" and not 0 <= self.hour <= 23:
            found.insert(0, "The hour must be between 0 and 23.")
        if self.kind == "weekly":
            found += _weekday_problems(self.weekdays)
        return found

    @property
    def zone(self) -> tzinfo:
        """The time zone (``InvalidSchedule`` when unknown)."""
        if problems := _zone_problems(self.timezone):
            raise InvalidSchedule(problems)
        return UTC if self.timezone in ("UTC", "Etc/UTC") else zoneinfo.ZoneInfo(self.timezone)


def _typed(data: Mapping[str, Any], key: str, kind: type, default: Any) -> Any:
    value = data.get(key, default)
    if kind is int:
        return _as_int(value, key)
    if not isinstance(value, kind):
        raise TypeError(f"{key}: expected {kind.__name__}")
    return value


def _as_int(value: Any, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key}: expected an integer")
    return value


def _weekday_name(day: int) -> str:
    return WEEKDAY_NAMES[day] if 0 <= day <= 6 else str(day)


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _HOST_ZONES


def _zone_problems(name: str) -> list[str]:
    if not name:
        return ["Choose a time zone (an IANA name such as Europe/Paris, or UTC)."]
    if name in _HOST_ZONES or (_known_zones() and name not in _known_zones()):
        return [f"Unknown time zone “{name}”: use an IANA name such as Europe/Paris, or UTC."]
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [f"Unknown time zone “{name}”: use an IANA name such as Europe/Paris, or UTC."]
    return []


def _cron_problems(expression: str) -> list[str]:
    if not expression:
        return ["Enter a cron expression, such as “0 */6 * * *” (every six hours)."]
    count = len(expression.split())
    if count != 5:
        return [
            "A cron expression has 5 fields (minute, hour, day of month, month, day of week); "
            f"this one has {count}."
        ]
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as error:
        return [f"The cron expression is not valid: {error}."]
    return []


def _weekday_problems(weekdays: tuple[int, ...]) -> list[str]:
    if not weekdays:
        return ["Choose at least one weekday."]
    if any(not 0 <= day <= 6 for day in weekdays):
        return ["A weekday is a number from 0 (Monday) to 6 (Sunday)."]
    return []


# --- the instants a schedule names -----------------------------------------------------------


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got a naive one: {value!r}")
    return value.astimezone(UTC)


def _slots_after(schedule: Schedule, after: datetime) -> Iterator[datetime]:
    """Every slot strictly after ``after``, in UTC, increasing; endless (or up to cronsim's
    horizon of 50 years without a match)."""
    if problems := schedule.problems():
        raise InvalidSchedule(problems)
    start = _aware(after, "after")
    previous = start
    for local in CronSim(schedule.cron_expression(), start.astimezone(schedule.zone)):
        slot = local.astimezone(UTC)
        # cronsim evaluates fixed-hour rules on the local wall clock, which forgets on which
        # side of an autumn repeat ``after`` lay: a slot it gives that is not after ``after``
        # (or the previous slot) already happened.
        if slot > previous:
            previous = slot
            yield slot


def slots_between(
    schedule: Schedule, after: datetime, until: datetime, *, limit: int | None = None
) -> Iterator[datetime]:
    """The slots in the half-open interval (after, until], oldest first, lazily; at most
    ``limit`` of them when it is given."""
    end = _aware(until, "until")
    slots = itertools.takewhile(lambda slot: slot <= end, _slots_after(schedule, after))
    return slots if limit is None else itertools.islice(slots, limit)


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot strictly after ``after`` (None when the rule never runs again)."""
    return next(_slots_after(schedule, after), None)


@dataclass(frozen=True)
class Due:
    """What one scheduler tick does for a rule.

    ``run``: the slot to run now (the latest one that fell due), or None. ``missed``: the
    earlier slots that fell due but will not run, oldest first, the newest ``MISSED_CAP`` of
    them; ``missed_total`` counts them all and ``first_missed`` is the oldest of them (listed
    or not). ``next``: the first slot after the tick."""

    run: datetime | None
    missed: tuple[datetime, ...] = ()
    missed_total: int = 0
    first_missed: datetime | None = None
    next: datetime | None = field(default=None)

    @property
    def missed_truncated(self) -> bool:
        return self.missed_total > len(self.missed)


def due(
    schedule: Schedule,
    last_slot: datetime | None,
    now: datetime,
    *,
    not_before: datetime,
    missed_cap: int = MISSED_CAP,
) -> Due:
    """The slots that fell due in (start, now], where start is the later of ``last_slot`` (the
    last slot the scheduler handled, None before the first) and ``not_before`` (when the rule was
    created or resumed: a rule never runs, nor misses, slots from before it existed or while it
    was paused). The latest of them runs, once; the others are missed."""
    now = _aware(now, "now")
    start = _aware(not_before, "not_before")
    if last_slot is not None:
        start = max(start, _aware(last_slot, "last_slot"))
    kept: deque[datetime] = deque(maxlen=missed_cap + 1)
    total, first = 0, None
    for slot in slots_between(schedule, start, now):
        kept.append(slot)
        total += 1
        first = first or slot
    following = next_slot(schedule, max(now, start))
    if not kept:
        return Due(run=None, next=following)
    run = kept.pop()
    return Due(
        run=run,
        missed=tuple(kept),
        missed_total=total - 1,
        first_missed=first if total > 1 else None,
        next=following,
    )
