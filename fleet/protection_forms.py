"""The protection overview's filters, read from the URL (a GET form that works without
JavaScript): the objective in hours, state, region, name and one ``key=value`` of metadata."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings

from backups.domain_protection import DEFAULT_RPO, STATES_BY_RISK
from fleet.protection_rows import RowFilter

#: A year: an objective longer than that is not an objective.
MAX_RPO_HOURS = 8760
RPO_ERROR = "Enter the objective as a whole number of hours from 1 to 8,760 (a year)."
METADATA_ERROR = "Write metadata as key=value, for example team=backend."
NAME_MAX_LENGTH = 255
#: The filters a URL (and the poll's URL) carries, in this order.
FIELDS = ("rpo", "state", "region", "name", "metadata")


class ProtectionFilterForm(forms.Form):
    rpo = forms.IntegerField(
        label="Objective (hours)",
        required=False,
        min_value=1,
        max_value=MAX_RPO_HOURS,
        help_text="A volume is at risk when its newest available backup is older. Default 24.",
        error_messages={
            "invalid": RPO_ERROR,
            "min_value": RPO_ERROR,
            "max_value": RPO_ERROR,
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "placeholder": "24"}),
    )
    state = forms.ChoiceField(label="State", required=False)
    region = forms.ChoiceField(label="Region", required=False)
    name = forms.CharField(
        label="Name contains",
        required=False,
        max_length=NAME_MAX_LENGTH,
        help_text="End with * for names that start with it, e.g. web-*.",
        widget=forms.SearchInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    metadata = forms.CharField(
        label="Metadata",
        required=False,
        max_length=600,
        help_text="key=value, e.g. team=backend.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "protection-filter-%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        state_field = self.fields["state"]
        region_field = self.fields["region"]
        assert isinstance(state_field, forms.ChoiceField)
        assert isinstance(region_field, forms.ChoiceField)
        state_field.choices = [("", "Any state")] + [(s.value, s.label) for s in STATES_BY_RISK]
        region_field.choices = [("", "Every region")] + [
            (name, str(region.get("label") or name))
            for name, region in settings.BYCLOUD_REGIONS.items()
        ]

    def clean_name(self) -> str:
        return str(self.cleaned_data.get("name") or "").strip()

    def clean_metadata(self) -> tuple[str, str] | None:
        text = str(self.cleaned_data.get("metadata") or "").strip()
        if not text:
            return None
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise forms.ValidationError(METADATA_ERROR, code="metadata")
        return key.strip(), value.strip()


class ProtectionQuery:
    """The filters in effect (a field that does not validate is ignored and its message shown)
    and the page number."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.form = ProtectionFilterForm({k: params.get(k, "") for k in FIELDS})
        self.form.is_valid()
        values = {
            name: (None if name in self.form.errors else self.form.cleaned_data.get(name))
            for name in FIELDS
        }
        hours = values["rpo"]
        self.rpo = timedelta(hours=hours) if hours else DEFAULT_RPO
        self.rpo_hours = int(self.rpo.total_seconds() // 3600)
        self.filter = RowFilter(
            state=values["state"] or "",
            region=values["region"] or "",
            name=values["name"] or "",
            metadata=values["metadata"],
        )
        raw_page = str(params.get("page") or "")
        self.page = int(raw_page) if raw_page.isascii() and raw_page.isdigit() else 1
        self.params = {k: str(params.get(k) or "").strip() for k in FIELDS}

    @property
    def is_filtered(self) -> bool:
        wanted = self.filter
        return bool(wanted.state or wanted.region or wanted.name or wanted.metadata)

    def query(self, **changes: Any) -> str:
        """This query string (filters as typed, page unless changed), with ``changes``."""
        values: dict[str, Any] = dict(self.params)
        values["page"] = self.page if self.page > 1 else ""
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})
