"""The signed-in ByCloud credential, encrypted at rest.

The session store (database, cache or Redis) holds the credential as a Fernet token whose key is
derived from SECRET_KEY, so a leaked session table or cache holds nothing usable on its own.

Rotation signs nobody out: a credential is encrypted with the key derived from SECRET_KEY and
decrypted with any of SECRET_KEY and SECRET_KEY_FALLBACKS (``DJANGO_SECRET_KEY_FALLBACKS``).
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.views.decorators.debug import sensitive_variables

from backups.api import ApiKey, BearerToken

#: The credentials a session can hold (``backups.api.Credential`` is the client's protocol).
StoredCredential = BearerToken | ApiKey


def _fernet() -> MultiFernet:
    """Encrypts with the current key; decrypts with the current key or any fallback."""
    keys = (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    return _multi_fernet_for(tuple(keys))


@lru_cache(maxsize=4)
def _multi_fernet_for(secret_keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([_fernet_for(key) for key in secret_keys])


@lru_cache(maxsize=8)
def _fernet_for(secret_key: str) -> Fernet:
    """The key derivation runs once per SECRET_KEY, not on every request."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"bycloud-ui", info=b"session-credential"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@sensitive_variables("credential", "payload")
def encrypt_credential(credential: StoredCredential) -> str:
    payload: dict[str, str]
    if isinstance(credential, ApiKey):
        payload = {"kind": "api_key", "key_id": credential.key_id, "secret": credential.secret}
    else:
        payload = {"kind": "bearer", "token": credential.token}
    return _fernet().encrypt(json.dumps(payload).encode()).decode()


@sensitive_variables("payload")
def decrypt_credential(token: str) -> StoredCredential | None:
    try:
        payload = json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return None
    if payload.get("kind") == "api_key":
        return ApiKey(key_id=payload["key_id"], secret=payload["secret"])
    return BearerToken(token=payload["token"])
