"""backups.curl: the curl command of a change, quoted for a POSIX shell, never with a secret."""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
import responses

from backups.api import ApiKey, BearerToken, ByCloudClient
from backups.curl import as_curl, curl_for

BASE = "https://api.example.test"
VOLUME = "0c0e2d6b-1d1c-4c9b-9d8e-3d9a4b1e2f30"
BACKUP = "7b3f9a2e-5c4d-4e8f-9a1b-2c3d4e5f6a7b"
HOSTILE = "x'; rm -rf / #$(whoami)`id`\"\n\t\u00e9"


def argv(command: str) -> list[str]:
    return shlex.split(command)


def test_a_post_with_a_bearer_token() -> None:
    body = {"volume_id": VOLUME, "name": "nightly"}
    command = as_curl("POST", BASE + "/", "/v1/backups", body, BearerToken.kind)
    assert argv(command) == [
        "curl",
        "-X",
        "POST",
        f"{BASE}/v1/backups",
        "-H",
        "Authorization: Bearer $BYCLOUD_TOKEN",
        "-H",
        "Accept: application/json",
        "-H",
        "Content-Type: application/json",
        "-d",
        json.dumps(body),
    ]


def test_an_api_key_is_the_key_header_from_the_environment() -> None:
    command = as_curl("DELETE", BASE, f"/v1/backups/{BACKUP}", None, ApiKey.kind)
    words = argv(command)
    assert words[:4] == ["curl", "-X", "DELETE", f"{BASE}/v1/backups/{BACKUP}"]
    assert "X-Api-Key: $BYCLOUD_KEY_ID:$BYCLOUD_SECRET" in words
    assert "-d" not in words and "Content-Type: application/json" not in words


def test_hostile_names_and_metadata_stay_one_argument() -> None:
    body = {"volume_id": VOLUME, "name": HOSTILE, "metadata": {HOSTILE: HOSTILE}}
    command = as_curl("POST", BASE, "/v1/backups", body, BearerToken.kind)
    words = argv(command)
    assert json.loads(words[words.index("-d") + 1]) == body
    assert "\n" not in command.replace("\\n", "")  # json escapes the newline: one line
    # A real shell gives curl the same words (echo them instead of running curl).
    shown = subprocess.run(
        ["sh", "-c", 'printf "%s\\0" "$@"', "sh", *words[1:]],
        env={"BYCLOUD_TOKEN": "T"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")[:-1]
    assert json.loads(shown[shown.index("-d") + 1]) == body


def test_the_shell_expands_only_the_credential_variables() -> None:
    body = {"volume_id": VOLUME, "name": "$HOME `id` $(id)"}
    command = as_curl("POST", BASE, "/v1/backups", body, ApiKey.kind)
    out = subprocess.run(
        ["sh", "-c", command.replace("curl ", 'printf "%s\\0" ', 1)],
        env={"BYCLOUD_KEY_ID": "kid", "BYCLOUD_SECRET": "sec", "HOME": "/home/x"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    assert "X-Api-Key: kid:sec" in out
    assert json.loads(out[out.index("-d") + 1])["name"] == "$HOME `id` $(id)"


@pytest.mark.parametrize(
    "credential", [BearerToken("tok-SECRET-123"), ApiKey("key-id-1", "SECRET-456")]
)
@responses.activate
def test_the_command_of_a_real_call_has_the_bytes_sent_and_no_secret(credential) -> None:
    backup = {
        "id": BACKUP,
        "name": HOSTILE,
        "status": "creating",
        "volume_id": VOLUME,
        "size": 1,
        "object_count": 0,
        "is_incremental": False,
        "has_dependent_backups": False,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "crn": "crn:v1:bycloud:backup:" + BACKUP,
    }
    responses.post(
        BASE + "/v1/backups",
        json={"backup": backup},
        status=202,
        headers={"X-Request-Id": "req-ok-1"},
    )
    with ByCloudClient(BASE, credential) as client:
        sent = client.create_backup_with_request_id(
            volume_id=VOLUME, name=HOSTILE, metadata={"k'": 'v"$x'}
        )
    assert sent.request_id == "req-ok-1"
    assert sent.value.id == BACKUP
    command = curl_for(sent, credential.kind)
    words = argv(command)
    wire = responses.calls[0].request.body
    wire = wire.decode() if isinstance(wire, bytes) else wire
    assert words[words.index("-d") + 1] == wire
    for secret in credential.secrets():
        assert secret not in command
