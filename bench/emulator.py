"""The emulator as the bench sees it: its control endpoint and direct API calls (the baseline)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import requests

DEMO_TOKEN = "demo-token"  # noqa: S105 (the emulator's public demo credential)
DEMO_ORG = "demo"
#: Bench volumes are created big so that their backups stay `creating` for hours of emulated work.
BENCH_VOLUME_GB = 1000


@dataclass
class Emulator:
    url: str
    control: requests.Session = field(default_factory=requests.Session)
    api: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.api.headers.update(
            {"Authorization": f"Bearer {DEMO_TOKEN}", "Accept": "application/json"}
        )

    # control --------------------------------------------------------------------------------
    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        # A change is sent as JSON ({} without a body): the control endpoint refuses anything else.
        if body is None and method != "GET":
            body = {}
        response = self.control.request(
            method, f"{self.url}/_emulator/{path}", json=body, timeout=120
        )
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._control("POST", "reset")

    def set_latency(self, latency_ms: int) -> None:
        if latency_ms:
            self._control("POST", "faults", {"latency_ms": latency_ms})
        else:
            self._control("DELETE", "faults")

    def set_rate_limit(self, limit: int) -> None:
        self._control("POST", "rate-limit", {"limit": limit})

    def backup_count(self) -> int:
        return int(self._control("GET", "state")["counters"]["backups"])

    def seed_to(self, total: int) -> int:
        """Add bulk backups to the demo organisation until it holds ``total`` (if fewer)."""
        response = self.api.get(f"{self.url}/v1/backups", params={"limit": 1}, timeout=30)
        response.raise_for_status()
        current = int(response.json()["meta"]["total"])
        if current < total:
            self._control("POST", "seed", {"backups": total - current, "org": DEMO_ORG})
            current = total
        return current

    def set_faults(self, faults: dict[str, Any]) -> None:
        self._control("POST", "faults", faults)

    def seed(self, count: int, org: str = DEMO_ORG, **options: Any) -> None:
        """Add ``count`` bulk backups (``name_prefix``, ``metadata_entries``, … as options)."""
        self._control("POST", "seed", {"backups": count, "org": org, **options})

    def list_backups_named(self, pattern: str) -> list[dict[str, Any]]:
        response = self.api.get(
            f"{self.url}/v1/backups", params={"limit": 1, "name": pattern}, timeout=60
        )
        response.raise_for_status()
        items: list[dict[str, Any]] = response.json()["backups"]
        return items

    def settle(self) -> None:
        self._control("POST", "settle")

    def reset_stats(self) -> None:
        self._control("POST", "stats/reset")

    def api_requests(self) -> int:
        return int(self._control("GET", "stats")["requests"])

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control("GET", "stats")
        return result

    # API ------------------------------------------------------------------------------------
    def list_backups(self, limit: int = 20) -> requests.Response:
        """The baseline: one direct API list call, as the console would make it."""
        response = self.api.get(f"{self.url}/v1/backups", params={"limit": limit}, timeout=30)
        response.raise_for_status()
        return response

    def first_backup_id(self) -> str:
        items = self.list_backups(limit=1).json()["backups"]
        return str(items[0]["id"])

    def create_volume(self, name: str) -> str:
        response = self.api.post(
            f"{self.url}/v1/volumes", json={"size": BENCH_VOLUME_GB, "name": name}, timeout=30
        )
        response.raise_for_status()
        return str(response.json()["volume"]["id"])

    def create_backup(self, volume_id: str, name: str) -> str:
        response = self.api.post(
            f"{self.url}/v1/backups", json={"volume_id": volume_id, "name": name}, timeout=30
        )
        response.raise_for_status()
        return str(response.json()["backup"]["id"])

    def available_volumes(self, count: int, prefix: str) -> list[str]:
        """``count`` fresh volumes, made available at once (the clock jumps over their creation).

        Call this before creating any backup that must stay transitional: ``settle`` would
        complete those too.
        """
        volumes = [self.create_volume(f"{prefix}-{i:02d}") for i in range(count)]
        self.settle()
        return volumes

    def create_backups(self, volume_ids: list[str], prefix: str) -> list[str]:
        """One backup per volume; they stay `creating` (tiny ``--speed``, clock left alone)."""
        return [self.create_backup(v, f"{prefix}-{v[:8]}") for v in volume_ids]
