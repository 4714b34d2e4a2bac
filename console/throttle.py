"""The sign-in throttle: few credential checks reach ByCloud per client, counted before the call.

Every sign-in that would cost an API call first **reserves** an attempt in two buckets, each a
fixed window of ``BYCLOUD_SIGNIN_WINDOW_SECONDS``:

- the *credential* bucket, keyed on the client address and the credential's id (a hash of the
  access token, or the API key's id; never a secret): ``BYCLOUD_SIGNIN_ATTEMPTS`` attempts, so one
  attacker's wrong tries never lock out another person's credential;
- the *address* bucket, keyed on the client address alone: ``BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS``
  attempts (0: off), because every wrong access token is a new credential id and a per-credential
  limit alone would let one address try tokens without end.

A reservation is a slot ``0..limit-1`` claimed with ``cache.add`` (atomic in LocMem, Redis and the
database cache, whose ``add`` is an INSERT on the primary key). Only ``add``, ``get``,
``get_many``, ``delete`` and ``touch`` are used: Django's database cache implements ``incr`` as a
get then a set, neither atomic nor keeping the expiry. So at most ``limit`` checks are ever in
flight or counted, however many requests arrive at once.

After the call the reservation is **kept** when ByCloud answered 401 (a failed attempt, counted
until the window ends) and **released** otherwise: a success, an outage, a timeout, a 5xx or any
other answer that says nothing about the credential. A success also starts the credential
bucket afresh (the address bucket is never reset by a success: an attacker with one valid token
must not be able to clear their own address).

The window opens with the first reservation of a bucket and never moves: later attempts neither
extend nor restart it. Slot keys carry the window's random id, so a new window never reuses an
old (expired but not yet culled) database cache row.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import secrets
import time
from dataclasses import dataclass, field
from functools import lru_cache

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from backups.api import ApiKey, BearerToken
from observability.metrics import SIGNIN_THROTTLED

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_SALT = "console.throttle"


# --- who is asking --------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "BYCLOUD_TRUSTED_PROXIES", ())))


def _parse_ip(value: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``[v6]``, ``[v6]:port`` or ``v4:port``."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_trusted(address: IPAddress, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def _as_key(address: IPAddress) -> str:
    """IPv6 clients are counted per /64: anyone holds a whole /64 of addresses."""
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def client_address(request: HttpRequest) -> str:
    """The address the throttle counts: REMOTE_ADDR, unless it is one of
    ``BYCLOUD_TRUSTED_PROXIES``; then the rightmost address of ``X-Forwarded-For`` that is not
    a trusted proxy (what the outermost trusted proxy saw; anything left of it the client wrote)."""
    raw_remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    remote = _parse_ip(raw_remote)
    if remote is None:
        return raw_remote[:64]
    networks = trusted_proxies()
    if not _is_trusted(remote, networks):
        return _as_key(remote)
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _parse_ip(hop)
        if address is None:
            return hop.strip()[:64]  # a trusted proxy wrote it as it saw it
        if not _is_trusted(address, networks):
            return _as_key(address)
    # Every hop is a trusted proxy (an internal request): the first one is the client.
    first = _parse_ip(hops[0]) if hops else None
    return _as_key(first or remote)


def credential_id(credential: BearerToken | ApiKey) -> str:
    """What names a credential in the throttle: a hash of the token, or the key's id."""
    if isinstance(credential, ApiKey):
        return f"api-key:{credential.key_id}"
    return "token:" + hashlib.sha256(credential.token.encode()).hexdigest()


# --- buckets --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bucket:
    key: str
    limit: int

    def _window_key(self) -> str:
        return f"{self.key}:window"

    def _slot_keys(self, window_id: str) -> list[str]:
        return [f"{self.key}:{window_id}:{slot}" for slot in range(self.limit)]

    def window(self, seconds: int) -> tuple[str, float]:
        """The open window (its id and end), opening one when there is none."""
        now = time.time()
        candidate = (secrets.token_hex(8), now + seconds)
        if cache.add(self._window_key(), candidate, timeout=seconds):
            return candidate
        current = cache.get(self._window_key())
        return tuple(current) if current else candidate  # type: ignore[return-value]

    def reserve(self, seconds: int) -> tuple[str | None, float]:
        """A slot in the open window (None when every slot is taken) and the window's end."""
        window_id, ends_at = self.window(seconds)
        timeout = max(1, math.ceil(ends_at - time.time()))
        keys = self._slot_keys(window_id)
        taken = cache.get_many(keys)
        for key in keys:
            if key not in taken and cache.add(key, 1, timeout=timeout):
                return key, ends_at
        return None, ends_at

    def reset(self) -> None:
        """Forget every attempt (a new window id leaves the old slots to expire unread)."""
        cache.delete(self._window_key())


def _bucket_key(kind: str, *parts: str) -> str:
    digest = salted_hmac(_SALT, "\n".join(parts), algorithm="sha256").hexdigest()
    return f"signin:{kind}:{digest}"


# --- an attempt -----------------------------------------------------------------------------


@dataclass
class Attempt:
    """The reservation one sign-in holds while its credential is checked."""

    credential_bucket: Bucket
    address_bucket: Bucket | None
    slots: list[str] = field(default_factory=list)
    retry_after: int = 0

    @property
    def refused(self) -> bool:
        return self.retry_after > 0

    def failed(self) -> None:
        """ByCloud said 401: the reservations stay, counted until their windows end."""
        self.slots = []

    def release(self) -> None:
        """ByCloud did not judge the credential (outage, timeout, 5xx...): nothing is counted."""
        if self.slots:
            cache.delete_many(self.slots)
        self.slots = []

    def succeeded(self) -> None:
        """The credential is good: nothing is counted, and its own failures are forgotten."""
        self.release()
        self.credential_bucket.reset()


def reserve(request: HttpRequest, credential: BearerToken | ApiKey) -> Attempt:
    """Reserve a check of ``credential`` for this client, or refuse with ``retry_after`` set."""
    address = client_address(request)
    seconds = int(settings.BYCLOUD_SIGNIN_WINDOW_SECONDS)
    address_limit = int(getattr(settings, "BYCLOUD_SIGNIN_ADDRESS_ATTEMPTS", 0))
    attempt = Attempt(
        credential_bucket=Bucket(
            _bucket_key("credential", address, credential_id(credential)),
            int(settings.BYCLOUD_SIGNIN_ATTEMPTS),
        ),
        address_bucket=Bucket(_bucket_key("address", address), address_limit)
        if address_limit > 0
        else None,
    )
    for bucket in filter(None, (attempt.credential_bucket, attempt.address_bucket)):
        slot, ends_at = bucket.reserve(seconds)
        if slot is None:
            scope = "credential" if bucket is attempt.credential_bucket else "address"
            SIGNIN_THROTTLED.labels(scope=scope).inc()
            attempt.release()
            attempt.retry_after = max(1, math.ceil(ends_at - time.time()))
            return attempt
        attempt.slots.append(slot)
    return attempt
