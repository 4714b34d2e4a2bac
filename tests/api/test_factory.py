"""client_for builds clients from settings (defaults when unset)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from backups.api import BearerToken, ByCloudClient, factory

from .conftest import TOKEN


def test_client_for_uses_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        factory, "settings", SimpleNamespace(BYCLOUD_API_TIMEOUT=7, BYCLOUD_API_RETRIES=0)
    )
    client = factory.client_for("http://localhost:8001/", BearerToken(TOKEN))
    assert isinstance(client, ByCloudClient)
    assert client.base_url == "http://localhost:8001"
    assert client.timeout == (3.05, 7.0)
    assert client.retries == 0


def test_client_for_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "settings", SimpleNamespace())
    client = factory.client_for("http://localhost:8001", BearerToken(TOKEN))
    assert client.timeout == (3.05, 10.0)
    assert client.retries == 2


def test_small_timeout_caps_connect_timeout_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "settings", SimpleNamespace(BYCLOUD_API_TIMEOUT=0.5))
    assert factory.client_for("http://x", BearerToken(TOKEN)).timeout == (0.5, 0.5)


def test_only_the_factory_imports_django() -> None:
    import pathlib

    import backups.api

    package = pathlib.Path(backups.api.__file__).parent
    importers = sorted(
        p.name for p in package.glob("*.py") if "django" in p.read_text(encoding="utf-8")
    )
    assert importers == ["factory.py"]


def test_clients_are_reused_per_region_and_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "settings", SimpleNamespace())
    factory.forget_clients()
    first = factory.client_for("http://localhost:8001", BearerToken(TOKEN))
    assert factory.client_for("http://localhost:8001", BearerToken(TOKEN)) is first
    assert factory.client_for("http://localhost:8001", BearerToken("other-token")) is not first
    assert factory.client_for("http://localhost:9999", BearerToken(TOKEN)) is not first


def test_forgetting_a_credential_drops_its_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "settings", SimpleNamespace())
    factory.forget_clients()
    first = factory.client_for("http://localhost:8001", BearerToken(TOKEN))
    kept = factory.client_for("http://localhost:8001", BearerToken("other-token"))
    factory.forget_client(BearerToken(TOKEN))
    assert factory.client_for("http://localhost:8001", BearerToken(TOKEN)) is not first
    assert factory.client_for("http://localhost:8001", BearerToken("other-token")) is kept


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(factory, "settings", SimpleNamespace())
    monkeypatch.setattr(factory, "MAX_CACHED_CLIENTS", 2)
    factory.forget_clients()
    oldest = factory.client_for("http://localhost:8001", BearerToken("token-a"))
    factory.client_for("http://localhost:8001", BearerToken("token-b"))
    factory.client_for("http://localhost:8001", BearerToken("token-c"))
    assert len(factory._clients) == 2
    assert factory.client_for("http://localhost:8001", BearerToken("token-a")) is not oldest


def test_proxies_and_ca_bundle_come_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/private-ca.pem")
    client = ByCloudClient("https://api.spo1.mycloud.com", BearerToken(TOKEN))
    session = client._session()
    assert session.trust_env is False
    assert session.proxies["https"] == "http://proxy.internal:3128"
    assert session.verify == "/etc/ssl/private-ca.pem"
