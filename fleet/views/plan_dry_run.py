"""The dry run: what each rule's next run would create, skip, delete and keep, and why.

It asks ``fleet.plan_runs.preview`` (the very decisions a run carries out) with the plan's own
key, since that is what the run will see, at the rule's next slot (its retention's ages are
those of that moment), over the volumes and backups as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from backups.api import ApiError, ApiKey, Backup, Unauthorized
from backups.api.factory import client_for
from console.credential import decrypt_credential
from fleet.models import Plan
from fleet.plan_runs import Preview, VolumePlan, preview
from fleet.views.plan_present import RuleView, When, when
from fleet.views.plan_save import region_url

KEY_UNREADABLE = (
    "The plan's stored key can no longer be read (the console's secret key changed): edit the "
    "plan and enter the key's secret again."
)


@dataclass(frozen=True)
class RuleDryRun:
    view: RuleView
    at: When
    #: Whether ``at`` is the rule's next slot (else: now, as "Run now" would).
    scheduled: bool
    result: Preview

    @property
    def creates(self) -> list[VolumePlan]:
        return [c for c in self.result.creates if not c.skip]

    @property
    def skips(self) -> list[VolumePlan]:
        return [c for c in self.result.creates if c.skip]

    @property
    def deletions(self) -> list[tuple[Backup, str, str]]:
        """(backup, its volume's name, why), in the order the run would delete them."""
        return self._named(self.result.deletions)

    @property
    def kept(self) -> list[tuple[Backup, str, str]]:
        return self._named(self.result.kept)

    def _named(self, verdicts: list[tuple[Backup, str]]) -> list[tuple[Backup, str, str]]:
        names = {c.volume.id: c.volume.display_name for c in self.result.creates}
        return [(b, names.get(b.volume_id, b.volume_id), why) for b, why in verdicts]


@dataclass
class DryRun:
    rules: list[RuleDryRun] = field(default_factory=list)
    error: str = ""
    request_id: str = ""


def dry_run_of(plan: Plan, views: list[RuleView], now: datetime) -> DryRun:
    key = decrypt_credential(plan.key_encrypted)
    if not isinstance(key, ApiKey):
        return DryRun(error=KEY_UNREADABLE)
    client = client_for(region_url(plan.region), key)
    found = DryRun()
    try:
        for view in views:
            moment = view.next_run.at if view.next_run is not None else now
            shown = when(moment, view.schedule)
            assert shown is not None
            result = preview(plan, view.rule, client, moment)
            found.rules.append(RuleDryRun(view, shown, view.next_run is not None, result))
    except Unauthorized as error:
        found.error = (
            f"ByCloud refused the plan's key ({plan.key_id}) in {plan.region}: its runs will "
            "fail until the key is replaced (Edit)."
        )
        found.request_id = error.request_id or ""
    except ApiError as error:
        found.error = f"ByCloud could not be read with the plan's key: {error.message}."
        found.request_id = error.request_id or ""
    return found
