"""A change the console made, written as the equivalent ``curl`` command ("Copy as curl").

Built from what the client sent (:class:`backups.api.Sent`: method, region URL + path, JSON body)
and the credential's *kind* only, never the credential: the command reads the secret from the
shell's environment (``$BYCLOUD_TOKEN``, or ``$BYCLOUD_KEY_ID:$BYCLOUD_SECRET`` for an API key),
in double quotes so the shell expands it. Every other word is quoted with :func:`shlex.quote`,
so a hostile backup name or metadata value stays one argument. The body is serialised exactly as
``requests`` serialised it (``json.dumps`` with its defaults), so the command sends the same bytes.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from backups.api import ApiKey, Sent

TOKEN_HEADER = '"Authorization: Bearer $BYCLOUD_TOKEN"'  # noqa: S105 (a variable's name)
API_KEY_HEADER = '"X-Api-Key: $BYCLOUD_KEY_ID:$BYCLOUD_SECRET"'


def json_body(body: Mapping[str, Any]) -> str:
    """The body as ``requests`` sends it for ``json=body``."""
    return json.dumps(body, allow_nan=False)


def as_curl(
    method: str,
    base_url: str,
    path: str,
    body: Mapping[str, Any] | None,
    credential_kind: str,
) -> str:
    """The one-line curl command of a call. ``credential_kind``: ``ApiKey.kind`` for an API
    key, anything else for an access token."""
    auth = API_KEY_HEADER if credential_kind == ApiKey.kind else TOKEN_HEADER
    words = [
        "curl",
        "-X",
        shlex.quote(method.upper()),
        shlex.quote(base_url.rstrip("/") + path),
        "-H",
        auth,
        "-H",
        shlex.quote("Accept: application/json"),
    ]
    if body is not None:
        words += ["-H", shlex.quote("Content-Type: application/json")]
        words += ["-d", shlex.quote(json_body(body))]
    return " ".join(words)


def curl_for(sent: Sent[Any], credential_kind: str) -> str:
    return as_curl(sent.method, sent.base_url, sent.path, sent.body, credential_kind)
