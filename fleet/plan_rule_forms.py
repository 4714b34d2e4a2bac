"""A plan's rules on its form: a formset of rows, each a schedule (a preset or a cron
expression, in a time zone), full or incremental backups, and a retention.

A schedule's rules are ``fleet.schedule.Schedule.problems``, each sentence shown next to the
field it is about (the time zone's beside the time zone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import time
from typing import Any

from django import forms

from fleet.models import BackupMode, PlanRule
from fleet.schedule import WEEKDAY_NAMES, Schedule

MAX_RULES = 10
#: The most any count or number of days may be (about 27 years of days).
MAX_COUNT = 10_000

KIND_CHOICES = [
    ("hourly", "Hourly"),
    ("daily", "Daily at a time"),
    ("weekly", "Weekly on chosen days at a time"),
    ("cron", "Cron expression"),
]
WEEKDAY_CHOICES = [(str(n), name) for n, name in enumerate(WEEKDAY_NAMES)]
NO_RETENTION_HELP = (
    "Keep the newest N and/or keep for D days. With neither, the rule deletes nothing: "
    "every backup it makes stays."
)


def _count(label: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=MAX_COUNT,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class RuleForm(forms.Form):
    rule = forms.IntegerField(required=False, widget=forms.HiddenInput)
    kind = forms.ChoiceField(label="Runs", choices=KIND_CHOICES, widget=forms.RadioSelect)
    minute = forms.IntegerField(
        label="Minute past the hour (hourly)",
        required=False,
        min_value=0,
        max_value=59,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    at = forms.TimeField(
        label="Time of day (daily, weekly)",
        required=False,
        input_formats=["%H:%M"],
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        error_messages={"invalid": "Enter the time as HH:MM, e.g. 02:30."},
    )
    weekdays = forms.MultipleChoiceField(
        label="Days (weekly)",
        required=False,
        choices=WEEKDAY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
    )
    cron = forms.CharField(
        label="Cron expression (cron)",
        required=False,
        max_length=200,
        help_text="5 fields: minute hour day-of-month month day-of-week, e.g. 0 */6 * * *.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    timezone = forms.CharField(
        label="Time zone",
        max_length=64,
        initial="UTC",
        help_text="An IANA name such as Europe/Paris, or UTC.",
        widget=forms.TextInput(
            attrs={"list": "time-zones", "autocomplete": "off", "spellcheck": "false"}
        ),
    )
    mode = forms.ChoiceField(
        label="Backups",
        choices=BackupMode.choices,
        initial=BackupMode.FULL,
        widget=forms.RadioSelect,
    )
    full_every_runs = _count("Full backup every N runs (incremental)")
    full_every_days = _count("Full backup every N days (incremental)")
    keep_last = _count("Keep the newest N backups")
    keep_days = _count("Keep backups for D days", NO_RETENTION_HELP)

    def __init__(self, *args: Any, number: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.number = number

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        if kind in ("daily", "weekly") and cleaned.get("at") is None and "at" not in self.errors:
            self.add_error("at", "Enter the time of day as HH:MM.")
        if kind == "hourly" and cleaned.get("minute") is None and "minute" not in self.errors:
            cleaned["minute"] = 0
        if kind == "weekly" and not cleaned.get("weekdays") and "weekdays" not in self.errors:
            self.add_error("weekdays", "Choose at least one day.")
        if kind and not self.errors:
            self._check_schedule(cleaned)
        if cleaned.get("mode") == BackupMode.INCREMENTAL:
            self._check_fulls(cleaned)
        else:
            cleaned["full_every_runs"] = cleaned["full_every_days"] = None
        return cleaned

    def _check_fulls(self, cleaned: dict[str, Any]) -> None:
        given = cleaned.get("full_every_runs") or cleaned.get("full_every_days")
        if not given and not ({"full_every_runs", "full_every_days"} & set(self.errors)):
            self.add_error(
                "full_every_runs",
                "An incremental rule needs a full backup every N runs and/or every N days "
                "(each incremental builds on the last full one).",
            )

    def _check_schedule(self, cleaned: dict[str, Any]) -> None:
        schedule = schedule_of(cleaned)
        problems = schedule.problems()
        without_zone = set(dataclasses.replace(schedule, timezone="UTC").problems())
        field = {"cron": "cron", "hourly": "minute"}.get(schedule.kind, "at")
        for problem in problems:
            self.add_error(field if problem in without_zone else "timezone", problem)
        cleaned["schedule"] = schedule

    def rule_fields(self) -> dict[str, Any]:
        """The PlanRule fields this row sets (after validation)."""
        data = self.cleaned_data
        return {
            "schedule": data["schedule"].as_dict(),
            "mode": data["mode"],
            "full_every_runs": data["full_every_runs"],
            "full_every_days": data["full_every_days"],
            "keep_last": data["keep_last"],
            "keep_days": data["keep_days"],
        }


def schedule_of(cleaned: Mapping[str, Any]) -> Schedule:
    kind, zone = cleaned["kind"], str(cleaned.get("timezone") or "").strip()
    at: time = cleaned.get("at") or time(0, 0)
    if kind == "hourly":
        return Schedule.hourly(cleaned.get("minute") or 0, timezone=zone)
    if kind == "daily":
        return Schedule.daily(at.hour, at.minute, timezone=zone)
    if kind == "weekly":
        days = [int(d) for d in cleaned.get("weekdays") or ()]
        return Schedule.weekly(days, at.hour, at.minute, timezone=zone)
    return Schedule.from_cron(str(cleaned.get("cron") or ""), timezone=zone)


def rule_initial(rule: PlanRule) -> dict[str, Any]:
    """A stored rule as the form's row shows it."""
    schedule = Schedule.from_dict(rule.schedule)
    return {
        "rule": rule.pk,
        "kind": schedule.kind,
        "minute": schedule.minute,
        "at": time(schedule.hour, schedule.minute)
        if schedule.kind in ("daily", "weekly")
        else None,
        "weekdays": [str(d) for d in schedule.weekdays],
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "mode": rule.mode,
        "full_every_runs": rule.full_every_runs,
        "full_every_days": rule.full_every_days,
        "keep_last": rule.keep_last,
        "keep_days": rule.keep_days,
    }


NEW_RULE = {"kind": "daily", "at": time(2, 0), "timezone": "UTC", "mode": BackupMode.FULL}
RULE_FIELDS = tuple(RuleForm.base_fields)


class BaseRuleFormSet(forms.BaseFormSet):
    """The plan's rules as rows ``rules-<n>-…``; every row is checked, none is silently
    dropped (a row left as it was is a rule too)."""

    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_few_forms": "A plan needs at least one rule.",
        "too_many_forms": f"A plan has at most {MAX_RULES} rules.",
    }

    @classmethod
    def get_default_prefix(cls) -> str:
        return "rules"

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {"number": (index or 0) + 1, "empty_permitted": False}

    def typed_rows(self) -> list[dict[str, Any]]:
        """Every row as typed, in order (for re-rendering after adding or removing one)."""
        return [{name: form[name].value() for name in RULE_FIELDS} for form in self.forms]

    def edited(self, *, add: bool = False, remove: int | None = None) -> BaseRuleFormSet:
        rows = self.typed_rows()
        if remove is not None and 0 <= remove < len(rows) and len(rows) > 1:
            del rows[remove]
        if add and len(rows) < MAX_RULES:
            zone = (rows[-1].get("timezone") if rows else None) or "UTC"
            rows.append({**NEW_RULE, "timezone": zone})
        return type(self)(initial=rows)

    @property
    def can_add(self) -> bool:
        return self.total_form_count() < MAX_RULES

    def clean(self) -> None:
        if any(self.errors):
            return
        stored = [f.cleaned_data.get("rule") for f in self.forms if f.cleaned_data.get("rule")]
        if len(stored) != len(set(stored)):
            raise forms.ValidationError("The same rule is in two rows: reload the page.")


RuleFormSet = forms.formset_factory(
    RuleForm,
    formset=BaseRuleFormSet,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_RULES,
    validate_max=True,
    absolute_max=MAX_RULES * 2,
)
