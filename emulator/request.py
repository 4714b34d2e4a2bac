"""What a view is given: the caller's credential, the context it runs in, and the request as the
contract's validation left it (emulator/validation.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.lifecycle import Durations
from emulator.serialize import Shapes
from emulator.store import Store


@dataclass(frozen=True)
class Credential:
    key: str  # the rate-limit bucket
    org: str
    read_only: bool
    label: str


@dataclass(frozen=True)
class Call:
    """A /v1 request that the contract accepted: typed parameters (defaults applied) and body."""

    path: str
    base_url: str  # scheme://host[:port], for links
    raw_query: dict[str, str]  # as sent, for links
    query: dict[str, Any]  # typed by the contract: limit is an int, bootable a bool
    params: dict[str, Any]  # path parameters (UUIDs in their canonical, lower-case form)
    body: dict[str, Any]  # {} when the operation's body is optional and none was sent


@dataclass
class Context:
    """What a /v1 view may use: the store (lock held), the time, the caller's organization, and
    the shapes of answers (with the region's CRNs)."""

    store: Store
    now: float
    durations: Durations
    org: str
    take_failure: Callable[[], bool]
    shapes: Shapes
