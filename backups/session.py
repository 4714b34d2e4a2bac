"""The signed-in ByCloud credential, kept only on the server and encrypted at rest.

The session store (database, cache or Redis) holds the credential as a Fernet token whose key is
derived from SECRET_KEY, so a leaked session table or cache holds nothing usable on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.http import HttpRequest

from backups.api import ApiKey, BearerToken, ByCloudClient
from backups.api.factory import client_for, forget_client

SESSION_KEY = "bycloud"
#: The credentials a session can hold (``backups.api.Credential`` is the client's protocol).
StoredCredential = BearerToken | ApiKey


@dataclass(frozen=True)
class ConsoleSession:
    region: str
    region_label: str
    credential_kind: str
    read_only: bool
    credential: StoredCredential

    @property
    def region_url(self) -> str:
        return settings.BYCLOUD_REGIONS[self.region]["url"]


def _fernet() -> Fernet:
    return _fernet_for(settings.SECRET_KEY)


@lru_cache(maxsize=4)
def _fernet_for(secret_key: str) -> Fernet:
    """The key derivation runs once per SECRET_KEY, not on every request."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"bycloud-ui", info=b"session-credential"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def _encrypt_credential(credential: StoredCredential) -> str:
    if isinstance(credential, ApiKey):
        payload = {"kind": "api_key", "key_id": credential.key_id, "secret": credential.secret}
    else:
        payload = {"kind": "bearer", "token": credential.token}
    return _fernet().encrypt(json.dumps(payload).encode()).decode()


def _decrypt_credential(token: str) -> StoredCredential | None:
    try:
        payload = json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return None
    if payload.get("kind") == "api_key":
        return ApiKey(key_id=payload["key_id"], secret=payload["secret"])
    return BearerToken(token=payload["token"])


def start_session(
    request: HttpRequest, *, region: str, credential: StoredCredential, read_only: bool
) -> None:
    """Sign in: a new session id (no fixation), the credential encrypted inside it."""
    request.session.cycle_key()
    request.session[SESSION_KEY] = {
        "region": region,
        "credential": _encrypt_credential(credential),
        "read_only": read_only,
    }


def end_session(request: HttpRequest) -> None:
    console = current_session(request)
    if console is not None:
        forget_client(console.credential)
    request.session.flush()


def mark_read_only(request: HttpRequest) -> None:
    """The API answered 403 to a change: from now on the console shows the session read-only."""
    data = request.session.get(SESSION_KEY)
    if data and not data.get("read_only"):
        data["read_only"] = True
        request.session[SESSION_KEY] = data
    # The page answering this very request must show it too (its header is rendered later).
    request.__dict__.pop("_console_session", None)


def current_session(request: HttpRequest) -> ConsoleSession | None:
    cached = getattr(request, "_console_session", None)
    if cached is not None:
        return cached
    data = request.session.get(SESSION_KEY)
    if not data or data.get("region") not in settings.BYCLOUD_REGIONS:
        return None
    credential = _decrypt_credential(data.get("credential", ""))
    if credential is None:
        return None
    region = data["region"]
    console = ConsoleSession(
        region=region,
        region_label=settings.BYCLOUD_REGIONS[region]["label"],
        credential_kind=credential.kind,
        read_only=bool(data.get("read_only")),
        credential=credential,
    )
    request._console_session = console  # type: ignore[attr-defined]
    return console


def api_client(request: HttpRequest) -> ByCloudClient:
    """The API client acting for the signed-in user (views call this, never requests)."""
    console = current_session(request)
    if console is None:
        raise PermissionError("Not signed in")
    return client_for(console.region_url, console.credential)


def credential_cache_key(request: HttpRequest, namespace: str, *parts: str) -> str | None:
    """A cache key private to the signed-in credential and region: an HMAC keyed with
    SECRET_KEY, so entries never cross organisations and never reveal the credential."""
    console = current_session(request)
    if console is None:
        return None
    material = [
        console.region_url,
        *sorted(f"{k}:{v}" for k, v in console.credential.auth_headers().items()),
    ]
    digest = hmac.new(
        settings.SECRET_KEY.encode(), "\n".join(material).encode(), hashlib.sha256
    ).hexdigest()
    suffix = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32] if parts else ""
    return ":".join(filter(None, ("bycloud", namespace, digest, suffix)))
