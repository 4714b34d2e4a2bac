"""What a pasted search text is: a backup or volume ID, a CRN, a ByCloud request ID or a name.

Pure parsing, no API call: the search page (``backups.views.search``) and the backups list's
"This looks like an ID" hint both ask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from backups.forms import canonical_uuid

#: What a customer's clipboard adds around a value: spaces, quotes of any kind, backticks.
_WRAPPING = " \t\r\n\"'`\u2018\u2019\u201c\u201d\u00ab\u00bb<>"
#: ``crn:<region>:storage:<kind>:<id>`` (shared/bycloud-api/openapi.yaml, emulator/serialize.py).
_CRN = re.compile(r"^crn:([a-z0-9-]+):storage:(backup|volume|snapshot):(.+)$", re.IGNORECASE)
_REQUEST_ID = re.compile(r"^req-[A-Za-z0-9._:-]{1,120}$")
MAX_LENGTH = 255


class Kind(StrEnum):
    EMPTY = "empty"
    ID = "id"
    CRN = "crn"
    REQUEST_ID = "request_id"
    NAME = "name"


@dataclass(frozen=True)
class Term:
    kind: Kind
    text: str  # what was typed, stripped
    id: str = ""  # canonical UUID (ID and CRN)
    region: str = ""  # CRN
    resource: str = ""  # CRN: backup, volume or snapshot

    @property
    def is_exact(self) -> bool:
        """An ID or a CRN: it names one thing."""
        return self.kind in (Kind.ID, Kind.CRN)


def clean(text: str) -> str:
    return (text or "").strip(_WRAPPING)[:MAX_LENGTH]


def parse(text: str) -> Term:
    value = clean(text)
    if not value:
        return Term(Kind.EMPTY, value)
    if found := canonical_uuid(value):
        return Term(Kind.ID, value, id=found)
    if match := _CRN.match(value):
        region, resource, rest = match.groups()
        if found := canonical_uuid(rest):
            return Term(Kind.CRN, value, found, region.lower(), resource.lower())
    if _REQUEST_ID.match(value):
        return Term(Kind.REQUEST_ID, value)
    return Term(Kind.NAME, value)


def looks_exact(text: str) -> bool:
    return parse(text).is_exact
