"""Audit tests reuse the view tests' fixtures: a test region, a strict API mock, signing in."""

from __future__ import annotations

import json

import pytest

from audit.models import AuditEntry
from tests.views.conftest import api, signed_in, test_regions  # noqa: F401 (fixtures)


@pytest.fixture(autouse=True)
def _regions(test_regions):  # noqa: F811 (the fixture)
    return test_regions


def entries(**filters) -> list[AuditEntry]:
    """Every entry (matching ``filters``), oldest first."""
    return list(AuditEntry.objects.filter(**filters).order_by("at", "id"))


def only_entry(**filters) -> AuditEntry:
    found = entries(**filters)
    assert len(found) == 1, found
    return found[0]


def strings_of(entry: AuditEntry) -> str:
    """Every string the entry holds, every column (the params as JSON), for secret checks."""
    values = []
    for field in entry._meta.concrete_fields:
        value = getattr(entry, field.attname)
        values.append(json.dumps(value) if isinstance(value, dict | list) else str(value))
    return "\n".join(values)
