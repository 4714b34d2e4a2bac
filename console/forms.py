"""The sign-in form: an access token or an API key, a region, and read-only for support staff."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from backups.api import ApiKey, BearerToken

METHOD_TOKEN = "token"  # noqa: S105 (a form choice, not a secret)
METHOD_API_KEY = "api_key"


def region_choices() -> list[tuple[str, str]]:
    return [(key, region["label"]) for key, region in settings.BYCLOUD_REGIONS.items()]


class SignInForm(forms.Form):
    method = forms.ChoiceField(
        label="Sign in with",
        choices=[(METHOD_TOKEN, "Access token"), (METHOD_API_KEY, "API key")],
        initial=METHOD_TOKEN,
        widget=forms.RadioSelect,
    )
    access_token = forms.CharField(
        label="Access token",
        required=False,
        max_length=4096,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Your ByCloud OAuth access token.",
    )
    api_key_id = forms.CharField(
        label="API key ID",
        required=False,
        max_length=255,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "username", "spellcheck": "false"}),
    )
    api_key_secret = forms.CharField(
        label="Secret",
        required=False,
        max_length=1024,
        strip=True,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
    )
    region = forms.ChoiceField(label="Region", choices=region_choices)
    read_only = forms.BooleanField(
        label="Read-only session",
        required=False,
        help_text="Nothing can be changed in this session (for looking things up safely).",
    )

    @sensitive_variables("cleaned")
    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("method") == METHOD_API_KEY:
            if not cleaned.get("api_key_id"):
                self.add_error("api_key_id", "Enter the API key ID.")
            if not cleaned.get("api_key_secret"):
                self.add_error("api_key_secret", "Enter the secret of the API key.")
            if ":" in (cleaned.get("api_key_id") or ""):
                self.add_error("api_key_id", "An API key ID cannot contain a colon.")
        elif cleaned.get("method") == METHOD_TOKEN and not cleaned.get("access_token"):
            self.add_error("access_token", "Enter your access token.")
        if not self.errors:
            try:
                self.credential()
            except ValueError:
                field = "access_token" if cleaned.get("method") == METHOD_TOKEN else "api_key_id"
                self.add_error(field, "This credential contains characters that are not allowed.")
        return cleaned

    @sensitive_variables("data")
    def credential(self) -> BearerToken | ApiKey:
        data = self.cleaned_data
        if data["method"] == METHOD_API_KEY:
            return ApiKey(key_id=data["api_key_id"], secret=data["api_key_secret"])
        return BearerToken(token=data["access_token"])
