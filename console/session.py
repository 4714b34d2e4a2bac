"""The console session: who is signed in, to which region, and whether changes are allowed.

:class:`ConsoleMiddleware` sets ``request.console`` lazily (read from the session on first use),
the way Django's AuthenticationMiddleware sets ``request.user``: a :class:`ConsoleSession` when
signed in, :data:`SIGNED_OUT` (falsy) otherwise. Views act through ``request.console.client()``
and never see the session's storage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import rotate_token
from django.utils.crypto import salted_hmac
from django.utils.functional import SimpleLazyObject
from django.views.decorators.debug import sensitive_variables

from backups.api import ByCloudClient
from backups.api.factory import client_for, forget_client
from console.credential import StoredCredential, decrypt_credential, encrypt_credential

SESSION_KEY = "bycloud"


@dataclass(frozen=True)
class ConsoleSession:
    region: str
    region_label: str
    read_only: bool
    credential: StoredCredential = field(repr=False)
    signed_in = True

    @property
    def credential_kind(self) -> str:
        return self.credential.kind

    @property
    def region_url(self) -> str:
        return settings.BYCLOUD_REGIONS[self.region]["url"]

    def in_region(self, region: str) -> ConsoleSession:
        """The same credential and read-only flag in another configured region (to look there,
        or to check the credential before a switch); nothing is stored."""
        return replace(self, region=region, region_label=region_label(region))

    def client(self) -> ByCloudClient:
        """The API client acting for the signed-in user (views call this, never requests)."""
        return client_for(self.region_url, self.credential)

    def poll_client(self) -> ByCloudClient:
        """The client for polls: no retries of its own, since the next poll is the retry (under
        failure, retries inside a poll only multiply the traffic of every open tab)."""
        return client_for(self.region_url, self.credential, retries=0)

    def cache_key(self, namespace: str, *parts: str) -> str:
        """A cache key private to this credential and region: a salted HMAC (SECRET_KEY), so
        entries never cross organisations and never reveal the credential."""
        material = [
            self.region_url,
            *sorted(f"{k}:{v}" for k, v in self.credential.auth_headers().items()),
        ]
        digest = salted_hmac(
            "console.session.cache_key", "\n".join(material), algorithm="sha256"
        ).hexdigest()
        suffix = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32] if parts else ""
        return ":".join(filter(None, ("bycloud", namespace, digest, suffix)))


class SignedOut:
    """``request.console`` of a visitor who is not signed in (falsy, like an anonymous user)."""

    signed_in = False
    read_only = False

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "SIGNED_OUT"


SIGNED_OUT = SignedOut()
Console = ConsoleSession | SignedOut


def region_label(region: str) -> str:
    """The name a person reads for a configured region."""
    return str(settings.BYCLOUD_REGIONS[region]["label"])


def load_console(request: HttpRequest) -> Console:
    data = request.session.get(SESSION_KEY)
    if not data or data.get("region") not in settings.BYCLOUD_REGIONS:
        return SIGNED_OUT
    credential = decrypt_credential(data.get("credential", ""))
    if credential is None:
        return SIGNED_OUT
    region = data["region"]
    return ConsoleSession(
        region=region,
        region_label=region_label(region),
        read_only=bool(data.get("read_only")),
        credential=credential,
    )


@sensitive_variables("credential")
def start_session(
    request: HttpRequest, *, region: str, credential: StoredCredential, read_only: bool
) -> None:
    """Sign in: a new session id and CSRF token (no fixation), the credential encrypted inside."""
    request.session.cycle_key()
    rotate_token(request)
    request.session[SESSION_KEY] = {
        "region": region,
        "credential": encrypt_credential(credential),
        "read_only": read_only,
    }
    request.console = load_console(request)  # type: ignore[attr-defined]


def end_session(request: HttpRequest) -> None:
    """Sign out: the session and its row go, the CSRF token changes."""
    console = getattr(request, "console", SIGNED_OUT)
    if isinstance(console, ConsoleSession):  # a lazy request.console passes as its contents
        forget_client(console.credential)
    if request.session.session_key is not None:
        # Only a session that exists is flushed: a visitor who had none gets no row.
        request.session.flush()
    rotate_token(request)
    request.console = SIGNED_OUT  # type: ignore[attr-defined]


def switch_region(request: HttpRequest, region: str) -> None:
    """Move the signed-in session to another configured region: the same credential (kept
    encrypted as it was), the same read-only flag. Nothing else changes, not the session id nor
    the CSRF token: who is signed in stays the same (the caller checked the credential there)."""
    data = request.session.get(SESSION_KEY)
    if data and region in settings.BYCLOUD_REGIONS:
        request.session[SESSION_KEY] = {**data, "region": region}
    request.console = load_console(request)  # type: ignore[attr-defined]


def mark_read_only(request: HttpRequest) -> None:
    """The API answered 403 to a change: from now on the console shows the session read-only,
    starting with the page that answers this very request."""
    data = request.session.get(SESSION_KEY)
    if data and not data.get("read_only"):
        data["read_only"] = True
        request.session[SESSION_KEY] = data
    request.console = load_console(request)  # type: ignore[attr-defined]


class ConsoleMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.console = SimpleLazyObject(lambda: load_console(request))  # type: ignore[attr-defined]
        return self.get_response(request)
