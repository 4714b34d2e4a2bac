"""The machine's PostgreSQL and Redis for a throwaway cluster: a database of its own (created,
then dropped) and a Redis database number 8-15 that no other run holds (an owner key with an
expiry, flushed before and after). Used by ``bench.cluster`` and ``tests/cluster/conftest.py``.

Anything missing raises :class:`Unavailable` with the reason; each caller decides what that means
(the bench reports the figure as n/a, the tests skip, or fail under CI).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

POSTGRES_URL = os.environ.get("BYCLOUD_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS_BASE = os.environ.get("BYCLOUD_TEST_REDIS", "redis://127.0.0.1:6379")
REDIS_OWNER_KEY = "bycloud-test-owner"
REDIS_CLAIM_SECONDS = 900


class Unavailable(Exception):
    """PostgreSQL, Redis (or their client libraries) cannot be used; the message says why."""


def postgres_admin(base: str = POSTGRES_URL) -> Any:
    """An autocommit connection to the server's maintenance database ``postgres``."""
    try:
        import psycopg
    except ImportError as error:
        raise Unavailable("psycopg is not installed (pip install -e '.[test]')") from error
    try:
        return psycopg.connect(f"{base}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        raise Unavailable(f"PostgreSQL is not reachable at {base}: {error}".strip()) from error


def create_database(admin: Any, prefix: str = "bycloud_test") -> str:
    """A new empty database ``<prefix>_<random>``; its name."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(admin: Any, name: str) -> None:
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db(base: str = REDIS_BASE) -> tuple[Any, int]:
    """A database number 8-15 that no other run holds, flushed; the client and the number."""
    try:
        import redis
    except ImportError as error:
        raise Unavailable("the redis client is not installed") from error
    for number in range(8, 16):
        client = redis.Redis.from_url(f"{base}/{number}", socket_connect_timeout=3)
        try:
            if client.set(REDIS_OWNER_KEY, str(os.getpid()), nx=True, ex=REDIS_CLAIM_SECONDS):
                client.flushdb()
                client.set(REDIS_OWNER_KEY, str(os.getpid()), ex=REDIS_CLAIM_SECONDS)
                return client, number
        except redis.exceptions.ConnectionError as error:
            raise Unavailable(f"Redis is not reachable at {base}: {error}") from error
    raise Unavailable("every Redis database 8-15 is held by another run")
