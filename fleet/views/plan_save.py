"""Saving the plan form: the region's volumes to choose from, the key checked with ByCloud, the
volumes that prove who may see the plan, and the rows written.

The key is checked with one read in the plan's region (a refused key never gets stored), then
asked to read one volume the session's own credential selected (a key of another organisation
would back up someone else's volumes). Nothing is saved unless every check passes; the secret
is kept only encrypted (``console.credential``), in the plan's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from audit.record import actor_of
from backups.api import ApiError, ApiKey, ByCloudClient, Forbidden, NotFound, Unauthorized, Volume
from backups.api.factory import client_for
from console.credential import decrypt_credential, encrypt_credential
from console.session import ConsoleSession
from fleet.jobs import PROBES
from fleet.lookup import PAGE_LIMIT
from fleet.models import Plan, PlanRule
from fleet.plan_forms import PlanForm
from fleet.plan_rule_forms import BaseRuleFormSet
from fleet.plan_runs import selected_volumes


def region_url(region: str) -> str:
    return str(settings.BYCLOUD_REGIONS[region]["url"])


def session_client(console: ConsoleSession, region: str) -> ByCloudClient:
    """The session's own credential in ``region`` (what it may read there)."""
    return client_for(region_url(region), console.credential)


@dataclass
class VolumeChoices:
    """The volumes the form offers (the region's first page of them), or why there are none."""

    region: str
    volumes: list[Volume]
    total: int = 0
    error: ApiError | None = None

    @property
    def truncated(self) -> bool:
        return self.total > len(self.volumes)

    @property
    def complete(self) -> bool:
        """Every volume of the region is listed (so a chosen one not listed is not there)."""
        return self.error is None and not self.truncated


def volume_choices(console: ConsoleSession, region: str) -> VolumeChoices:
    try:
        page = session_client(console, region).list_volumes(limit=PAGE_LIMIT)
    except Unauthorized:
        if region == console.region:
            raise  # the session itself has expired
        return VolumeChoices(region, [], error=_refused_in(region))
    except ApiError as error:
        return VolumeChoices(region, [], error=error)
    return VolumeChoices(region, list(page.items), page.total)


def _refused_in(region: str) -> ApiError:
    return Unauthorized(f"Your credential is not accepted in {region}")


def unsaved(form: PlanForm, plan: Plan | None) -> Plan:
    """The plan as the form describes it, not saved (to evaluate its selection)."""
    data = form.cleaned_data
    target = plan or Plan()
    shown = Plan(
        id=target.pk,
        name=data["name"],
        region=data["region"],
        volume_ids=list(data["volume_ids"]),
        metadata_match=data["metadata_match"],
        name_prefix=data["name_prefix"],
    )
    return shown


def probes_for(console: ConsoleSession, form: PlanForm, plan: Plan | None) -> list[str] | None:
    """The first volumes of the selection as the session reads them (who may see the plan);
    None, with the form's error, when the session could not read the region."""
    region = form.cleaned_data["region"]
    try:
        volumes = selected_volumes(session_client(console, region), unsaved(form, plan))
    except Unauthorized:
        if region == console.region:
            raise
        form.add_error("region", f"Your credential is not accepted in {region}.")
        return None
    except ApiError as error:
        form.add_error(
            None,
            f"The plan's volumes could not be read in {region}: {error.message} "
            f"(request ID {error.request_id or 'none'}). Nothing was saved.",
        )
        return None
    return [v.id for v in volumes[:PROBES]]


@sensitive_variables("secret", "key", "stored")
def plan_key(form: PlanForm, plan: Plan | None) -> ApiKey | None:
    """The key the plan will act with: the one typed, or the stored one when the secret was
    left blank on an edit; None (with the form's error) when the stored one is unreadable."""
    data = form.cleaned_data
    secret = data.get("key_secret") or ""
    if secret:
        return ApiKey(key_id=data["key_id"], secret=secret)
    stored = decrypt_credential(plan.key_encrypted) if plan is not None else None
    if not isinstance(stored, ApiKey):
        form.key_error("The stored secret can no longer be read (the console's key changed).")
        return None
    return stored


@sensitive_variables("key")
def check_key(form: PlanForm, key: ApiKey, probes: Sequence[str]) -> bool:
    """One read with the key in the plan's region, then one of a volume the session selected;
    False (with the form's error on the key) when ByCloud refuses or cannot be asked."""
    region = form.cleaned_data["region"]
    client = client_for(region_url(region), key)
    try:
        client.list_volumes(limit=1)
        if probes:
            client.get_volume(probes[0])
    except (Unauthorized, Forbidden) as error:
        form.key_error(
            f"ByCloud refused this key in {region} (request ID {error.request_id or 'none'})."
        )
        return False
    except NotFound:
        form.key_error(
            "This key cannot read the plan's volumes that your session reads: it belongs to "
            "another organisation."
        )
        return False
    except ApiError as error:
        form.key_error(
            f"The key could not be checked in {region}: {error.message} "
            f"(request ID {error.request_id or 'none'}). Nothing was saved."
        )
        return False
    return True


@sensitive_variables("key")
def save_plan(
    console: ConsoleSession,
    form: PlanForm,
    rules: BaseRuleFormSet,
    *,
    plan: Plan | None,
    key: ApiKey,
    probes: list[str],
    now: datetime,
) -> Plan:
    """Write the plan and its rules; new and changed rules start at ``now`` (no slot before
    it runs), unchanged ones keep where they were."""
    data = form.cleaned_data
    with transaction.atomic():
        target = plan or Plan(owner=actor_of(console.credential), created_at=now)
        target.name = data["name"]
        target.region = data["region"]
        target.volume_ids = list(data["volume_ids"])
        target.metadata_match = data["metadata_match"]
        target.name_prefix = data["name_prefix"]
        target.attached = data["attached"]
        target.stamp_metadata = data["stamp_metadata"]
        target.probe_volume_ids = probes
        if data.get("key_secret") or plan is None:
            target.key_id = key.key_id
            target.key_encrypted = encrypt_credential(key)
            target.consecutive_failures = 0
        target.updated_at = now
        target.save()
        _save_rules(target, rules, now)
    return target


def _save_rules(plan: Plan, rules: BaseRuleFormSet, now: datetime) -> None:
    existing = {r.pk: r for r in plan.rules.all()}
    kept: list[int] = []
    for position, row in enumerate(rules.forms):
        fields = row.rule_fields()
        rule = existing.get(row.cleaned_data.get("rule"))
        if rule is None:
            rule = PlanRule.objects.create(plan=plan, position=position, not_before=now, **fields)
        else:
            if any(getattr(rule, name) != value for name, value in fields.items()):
                rule.not_before = now
            for name, value in fields.items():
                setattr(rule, name, value)
            rule.position = position
            rule.save()
        kept.append(rule.pk)
    plan.rules.exclude(pk__in=kept).delete()
