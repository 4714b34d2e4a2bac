"""The Activity page's filters: every one optional, all in the URL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.db.models import Q
from django.http import QueryDict

from audit.models import Action, Outcome

_ANY = [("", "Any")]


class ActivityFilterForm(forms.Form):
    action = forms.ChoiceField(label="Action", choices=_ANY + Action.choices, required=False)
    outcome = forms.ChoiceField(label="Outcome", choices=_ANY + Outcome.choices, required=False)
    target = forms.CharField(
        label="Target ID",
        required=False,
        max_length=64,
        help_text="A backup or volume ID.",
    )
    request_id = forms.CharField(
        label="Request ID",
        required=False,
        max_length=128,
        help_text="The console's or ByCloud's.",
    )
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label="To (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )

    def clean_target(self) -> str:
        return str(self.cleaned_data.get("target") or "").strip().lower()

    def clean_request_id(self) -> str:
        return str(self.cleaned_data.get("request_id") or "").strip()

    def applied(self) -> dict[str, Any]:
        """The filters that apply: valid and not empty (an invalid one is shown, not used)."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}

    def conditions(self) -> Q:
        applied = self.applied()
        condition = Q()
        if "action" in applied:
            condition &= Q(action=applied["action"])
        if "outcome" in applied:
            condition &= Q(outcome=applied["outcome"])
        if "target" in applied:
            condition &= Q(target_id=applied["target"])
        if "request_id" in applied:
            value = applied["request_id"]
            condition &= Q(request_id=value) | Q(bycloud_request_id=value)
        if "since" in applied:
            condition &= Q(at__gte=applied["since"])
        if "until" in applied:
            until = applied["until"]
            if until.second == 0 and until.microsecond == 0:  # "to 12:00" includes 12:00:59
                condition &= Q(at__lt=until + timedelta(minutes=1))
            else:
                condition &= Q(at__lte=until)
        return condition

    def query(self) -> QueryDict:
        """The applied filters as a query string (what the address bar and page links carry)."""
        query = QueryDict(mutable=True)
        for name in self.applied():
            query[name] = self.data.get(name, "").strip()
        return query
