"""A job as its page shows it: counts per outcome, the progress bar's figures, and rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleet.models import FINAL_ITEM_STATES, ItemState, Job, JobItem, JobKind
from fleet.planning import describe_backup_plan


@dataclass(frozen=True)
class ItemRow:
    item: JobItem
    action: str


@dataclass(frozen=True)
class JobProgress:
    job: Job
    items: list[JobItem]
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, job: Job) -> JobProgress:
        items = list(job.items.order_by("position"))
        counts: dict[str, int] = {}
        for item in items:
            counts[item.state] = counts.get(item.state, 0) + 1
        return cls(job, items, counts)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def settled(self) -> int:
        return sum(self.counts.get(s, 0) for s in FINAL_ITEM_STATES)

    @property
    def percent(self) -> int:
        return 100 if not self.total else int(100 * self.settled / self.total)

    def count(self, state: str) -> int:
        return self.counts.get(state, 0)

    @property
    def summary(self) -> list[tuple[str, int]]:
        """(label, count) of each outcome present, in a fixed order."""
        return [
            (ItemState(s).label, self.counts[s]) for s in ItemState.values if self.counts.get(s)
        ]

    @property
    def rows(self) -> list[ItemRow]:
        return [ItemRow(item, self.action_of(item)) for item in self.items]

    def action_of(self, item: JobItem) -> str:
        if self.job.kind == JobKind.DELETE:
            return "Delete" if not item.after else "Delete, after its incrementals"
        return describe_backup_plan(item.plan) if item.plan else "—"
