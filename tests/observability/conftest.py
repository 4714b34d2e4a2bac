"""Fixtures: JSON log lines captured as production writes them, and a lenient API mock."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses

from observability import health
from observability.logs import RequestContextFilter, json_formatter

# The view tests' region, session and payload helpers.
from tests.views.conftest import sign_in, test_regions  # noqa: F401

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_logs() -> Iterator[Lines]:
    """Every log line (DEBUG and up) through the production handler's filter and JSON
    formatter; the fixture returns a function giving the lines written so far, parsed."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line]
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def mock_api() -> Iterator[responses.RequestsMock]:
    """The API mocked at the HTTP level, stubs optional (pages may or may not use each)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _fresh_readiness() -> Iterator[None]:
    health.forget()
    yield
    health.forget()
