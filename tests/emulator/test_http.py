"""HTTP-level rules: the vendored contract, errors, headers, routing, auth and isolation."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from emulator import seed
from tests.emulator.helpers import assert_common_headers, assert_error

REPO = Path(__file__).resolve().parents[2]
VENDORED = REPO / "emulator" / "contract" / "openapi.yaml"
SHARED = REPO.parent / "shared" / "bycloud-api" / "openapi.yaml"


def test_vendored_contract_is_byte_identical_to_shared_copy():
    if not SHARED.exists():
        pytest.skip("../shared/bycloud-api/openapi.yaml is not present here")
    assert VENDORED.read_bytes() == SHARED.read_bytes()


def test_unknown_path_is_a_json_404(emulator):
    for path in ("/", "/v1/instances", "/v1/backups/x/y/z", "/v2/backups", "/v1/backups/"):
        error = assert_error(emulator.demo.get(path), 404)
        assert "No such endpoint" in error["details"]


def test_unknown_path_404_without_credentials_too(emulator):
    assert_error(emulator.anonymous.get("/nothing-here"), 404)


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/backups", "GET, POST"),
        ("DELETE", "/v1/volumes", "GET, POST"),
        ("POST", "/v1/volumes/" + seed.VOLUME_CACHE, "GET, PATCH"),
        ("PATCH", "/v1/backups/" + seed.BACKUP_ERROR, "DELETE, GET"),
        ("GET", "/v1/backups/" + seed.BACKUP_ERROR + "/restore", "POST"),
        ("OPTIONS", "/v1/snapshots", "GET, POST"),
        ("TRACE", "/v1/snapshots/" + seed.SNAPSHOT_MEDIA, "GET"),
    ],
)
def test_unsupported_method_is_405_with_allow(emulator, method, path, allow):
    response = emulator.demo.request(method, path)
    assert_error(response, 405, "Method not allowed")
    assert response.headers["Allow"] == allow


def test_head_is_405(emulator):
    response = emulator.demo.request("HEAD", "/v1/backups")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic ZGVtbzpkZW1v"},
        {"Authorization": "demo-token"},
        {"X-Api-Key": "demo-key-id:wrong"},
        {"X-Api-Key": "demo-key-id"},
        {"X-Api-Key": "demo-key-id:"},
        {"X-Api-Key": "unknown:demo-secret"},
    ],
)
def test_missing_or_invalid_credentials_are_401(emulator, headers):
    response = requests.get(f"{emulator.url}/v1/backups", headers=headers, timeout=5)
    error = assert_error(response, 401, "Authentication required")
    assert "Bearer" in error["details"]


def test_bearer_token_and_api_key_both_authenticate(emulator):
    for client in (emulator.demo, emulator.apikey, emulator.viewer):
        response = client.get("/v1/backups")
        assert response.status_code == 200
        assert_common_headers(response)
        assert response.json()["meta"]["total"] == 35


def test_api_key_can_write(emulator):
    response = emulator.apikey.post(
        "/v1/backups", json={"volume_id": seed.VOLUME_CACHE, "name": "by-key"}
    )
    assert response.status_code == 202
    assert response.json()["backup"]["status"] == "creating"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/backups", {"volume_id": seed.VOLUME_CACHE}),
        ("POST", "/v1/volumes", {"size": 1}),
        ("PATCH", "/v1/volumes/" + seed.VOLUME_CACHE, {"name": "x"}),
        ("POST", "/v1/snapshots", {"volume_id": seed.VOLUME_CACHE}),
        ("DELETE", "/v1/backups/" + seed.BACKUP_ERROR, None),
        ("POST", "/v1/backups/" + seed.BACKUP_CHAIN_FULL + "/restore", None),
    ],
)
def test_read_only_credential_gets_403_on_every_change(emulator, method, path, body):
    response = emulator.viewer.request(method, path, json=body)
    error = assert_error(response, 403, "Forbidden")
    assert "read-only" in error["details"]
    # Nothing changed.
    assert emulator.demo.get("/v1/backups").json()["meta"]["total"] == 35
    assert emulator.demo.get(f"/v1/backups/{seed.BACKUP_ERROR}").json()["backup"]["status"] == (
        "error"
    )


def test_read_only_credential_can_read(emulator):
    response = emulator.viewer.get(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}")
    assert response.status_code == 200
    assert response.json()["backup"]["name"] == "app-data-full"


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/backups/{seed.BACKUP_CHAIN_FULL}",
        f"/v1/volumes/{seed.VOLUME_WEB_01}",
        f"/v1/snapshots/{seed.SNAPSHOT_MEDIA}",
    ],
)
def test_other_organization_sees_404_for_demo_ids(emulator, path):
    assert emulator.demo.get(path).status_code == 200
    assert_error(emulator.other.get(path), 404)


def test_other_organization_cannot_change_demo_resources(emulator):
    assert_error(emulator.other.delete(f"/v1/backups/{seed.BACKUP_ERROR}"), 404)
    assert_error(emulator.other.post("/v1/backups", json={"volume_id": seed.VOLUME_CACHE}), 404)
    restore = emulator.other.post(f"/v1/backups/{seed.BACKUP_CHAIN_FULL}/restore")
    assert_error(restore, 404)
    patch = emulator.other.patch(f"/v1/volumes/{seed.VOLUME_CACHE}", json={"name": "stolen"})
    assert_error(patch, 404)
    # Restoring their own backup onto a demo volume is not possible either.
    restore = emulator.other.post(
        f"/v1/backups/{seed.OTHER_BACKUP_1}/restore", json={"volume_id": seed.VOLUME_DB_REPLICA}
    )
    assert_error(restore, 404)


def test_lists_are_per_organization(emulator):
    demo = emulator.demo.get("/v1/volumes?limit=100").json()
    other = emulator.other.get("/v1/volumes?limit=100").json()
    demo_ids = {v["id"] for v in demo["volumes"]}
    other_ids = {v["id"] for v in other["volumes"]}
    assert len(demo_ids) == 15 and len(other_ids) == 3
    assert not demo_ids & other_ids
    other_backups = emulator.other.get("/v1/backups").json()
    assert other_backups["meta"]["total"] == 4
    assert {b["volume_id"] for b in other_backups["backups"]} <= other_ids
    assert emulator.other.get("/v1/snapshots").json()["meta"]["total"] == 1


def test_marker_of_other_organization_is_unknown(emulator):
    response = emulator.other.get(f"/v1/backups?marker={seed.BACKUP_CHAIN_FULL}")
    assert_error(response, 400, "Invalid marker")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/volumes"),
        ("GET", "/v1/backups/" + seed.BACKUP_CHAIN_INC1),
        ("GET", "/v1/backups/00000000-0000-4000-8000-000000000000"),
        ("POST", "/v1/backups"),
        ("GET", "/_emulator/state"),
        ("GET", "/nowhere"),
    ],
)
def test_every_answer_is_json_with_rate_limit_headers(emulator, method, path):
    response = emulator.demo.request(method, path)
    assert_common_headers(response)
    response.json()


def test_malformed_path_ids(emulator):
    # GET/DELETE document no 400, so a non-UUID ID names nothing: 404.
    error = assert_error(emulator.demo.get("/v1/backups/not-a-uuid"), 404, "Backup not found")
    assert "not a valid backup ID" in error["details"]
    assert_error(emulator.demo.get("/v1/volumes/123"), 404, "Volume not found")
    assert_error(emulator.demo.get("/v1/snapshots/123"), 404, "Snapshot not found")
    assert_error(emulator.demo.delete("/v1/backups/123"), 404, "Backup not found")
    # PATCH and restore document 400.
    error = assert_error(emulator.demo.patch("/v1/volumes/123", json={}), 400, "Invalid ID")
    assert "not a valid volume ID" in error["details"]
    assert_error(emulator.demo.post("/v1/backups/123/restore"), 400, "Invalid ID")


def test_uppercase_uuid_is_accepted(emulator):
    response = emulator.demo.get(f"/v1/backups/{seed.BACKUP_CHAIN_FULL.upper()}")
    assert response.status_code == 200
    assert response.json()["backup"]["id"] == seed.BACKUP_CHAIN_FULL
