"""Request validation: every malformed request is a precise 400, never a 500."""

from __future__ import annotations

import json

import pytest

from emulator import seed
from tests.emulator.helpers import assert_error

VOL = seed.VOLUME_CACHE


@pytest.mark.parametrize(
    ("body", "message", "details"),
    [
        ({"volume_id": VOL, "incremental": "true"}, "Invalid request body",
         "Field 'incremental' must be a boolean (true or false), not string"),
        ({"volume_id": VOL, "force": 1}, "Invalid request body",
         "Field 'force' must be a boolean (true or false), not integer"),
        ({"volume_id": VOL, "name": None}, "Invalid request body",
         "Field 'name' must be a string, not null"),
        ({"volume_id": VOL, "name": 5}, "Invalid request body",
         "Field 'name' must be a string, not integer"),
        ({"volume_id": VOL, "name": "x" * 256}, "Invalid request body",
         "Field 'name' is 256 characters long; at most 255 allowed"),
        ({"volume_id": VOL, "description": "x" * 300}, "Invalid request body",
         "Field 'description' is 300 characters long; at most 255 allowed"),
        ({"volume_id": VOL, "container": "c" * 256}, "Invalid request body",
         "Field 'container' is 256 characters long; at most 255 allowed"),
        ({"volume_id": VOL, "colour": "red"}, "Invalid request body",
         "Unknown field(s): 'colour'"),
        ({"name": "x"}, "Invalid request body", "Field 'volume_id' is required"),
        ({"volume_id": 42}, "Invalid request body",
         "Field 'volume_id' must be a UUID string, not integer"),
        ({"volume_id": VOL, "snapshot_id": "snap"}, "Invalid request body",
         "Field 'snapshot_id' must be a UUID"),
        ({"volume_id": VOL, "metadata": ["a"]}, "Invalid request body",
         "Field 'metadata' must be an object of strings, not array"),
        ({"volume_id": VOL, "metadata": {"": "x"}}, "Invalid metadata", None),
        ({"volume_id": VOL, "metadata": {"k" * 256: "x"}}, "Invalid metadata", None),
        ({"volume_id": VOL, "metadata": {"bad*key": "x"}}, "Invalid metadata", None),
        ({"volume_id": VOL, "metadata": {"ünïcode": "x"}}, "Invalid metadata", None),
        ({"volume_id": VOL, "metadata": {"k": 1}}, "Invalid metadata",
         "Metadata value for 'k' must be a string"),
        ({"volume_id": VOL, "metadata": {"k": "v" * 256}}, "Invalid metadata",
         "Metadata value for 'k' is 256 characters; at most 255 allowed"),
    ],
)  # fmt: skip
def test_backup_body_rules(emulator, body, message, details):
    error = assert_error(emulator.demo.post("/v1/backups", json=body), 400, message)
    if details is not None:
        assert error["details"] == details
    assert emulator.demo.get("/v1/backups").json()["meta"]["total"] == 35


@pytest.mark.parametrize(
    ("data", "content_type", "message"),
    [
        ("{", "application/json", "Malformed JSON"),
        ('{"volume_id": }', "application/json", "Malformed JSON"),
        ("[]", "application/json", "Invalid request body"),
        ('"text"', "application/json", "Invalid request body"),
        ("null", "application/json", "Invalid request body"),
        ("", "application/json", "Request body is required"),
        (json.dumps({"volume_id": VOL}), "text/plain", "Unsupported content type"),
        (json.dumps({"volume_id": VOL}), None, "Unsupported content type"),
        (b"\xff\xfe{}", "application/json", "Malformed JSON"),
        ('{"volume_id": "\\ud800"}', "application/json", "Invalid request body"),
    ],
)
def test_malformed_bodies(emulator, data, content_type, message):
    headers = {"Content-Type": content_type} if content_type else {}
    response = emulator.demo.post("/v1/backups", data=data, headers=headers)
    assert_error(response, 400, message)


def test_json_content_type_with_charset_is_accepted(emulator):
    response = emulator.demo.post(
        "/v1/backups",
        data=json.dumps({"volume_id": VOL}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 202


def test_lone_surrogate_in_metadata_is_400_not_500(emulator):
    response = emulator.demo.post(
        "/v1/backups",
        data='{"volume_id": "' + VOL + '", "metadata": {"k": "\\udc00"}}',
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 400, "Invalid metadata")


@pytest.mark.parametrize(
    "body",
    [
        {"size": 0},
        {"size": -5},
        {"size": "10"},
        {"size": True},
        {"size": 1.5},
        {"size": 10**30},
        {},
        {"size": 1, "multiattach": "no"},
        {"size": 1, "image_id": "ubuntu"},
        {"size": 1, "volume_type": 7},
        {"size": 1, "extra": 1},
    ],
)
def test_volume_create_rules(emulator, body):
    assert_error(emulator.demo.post("/v1/volumes", json=body), 400)


@pytest.mark.parametrize(
    "body",
    [{"name": 1}, {"status": "available"}, {"metadata": {"k": None}}, {"description": "d" * 256}],
)
def test_volume_update_rules(emulator, body):
    assert_error(emulator.demo.patch(f"/v1/volumes/{VOL}", json=body), 400)


@pytest.mark.parametrize(
    "body", [{}, {"volume_id": VOL, "force": "yes"}, {"volume_id": VOL, "size": 3}]
)
def test_snapshot_create_rules(emulator, body):
    assert_error(emulator.demo.post("/v1/snapshots", json=body), 400)


def test_junk_never_causes_a_500(emulator):
    junk = [
        b"\x00\x01", b"{\"volume_id\": \"\x00\"}", b"1e999999", b"{" * 5000,
        json.dumps({"volume_id": VOL, "metadata": {"a": "\u0000"}}).encode(),
        json.dumps({"volume_id": VOL, "name": "\U0001f600" * 10}).encode(),
    ]  # fmt: skip
    for path in ("/v1/backups", "/v1/volumes", "/v1/snapshots", f"/v1/volumes/{VOL}"):
        for data in junk:
            method = "PATCH" if path.startswith("/v1/volumes/") else "POST"
            response = emulator.demo.request(
                method, path, data=data, headers={"Content-Type": "application/json"}
            )
            assert response.status_code < 500, (path, data[:20], response.text)
            assert response.headers["Content-Type"] == "application/json"
