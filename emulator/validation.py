"""Request validation: JSON bodies, query strings and identifiers. Every failure is a precise 400."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from emulator.errors import ApiError, bad_request

MAX_STRING = 255
MAX_BODY_BYTES = 1024 * 1024
MAX_VOLUME_SIZE_GB = 16384
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
_METADATA_KEY_RE = re.compile(r"^[A-Za-z0-9 _:./-]{1,255}$")


def is_uuid(value: object) -> bool:
    return isinstance(value, str) and bool(_UUID_RE.match(value))


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True)
class Field:
    """One documented body field. kind: string, uuid, boolean, size or metadata."""

    kind: str
    required: bool = False


def _type_error(name: str, expected: str, value: object) -> ApiError:
    got = "null" if value is None else type(value).__name__
    got = {"str": "string", "bool": "boolean", "int": "integer", "float": "number"}.get(got, got)
    got = {"dict": "object", "list": "array"}.get(got, got)
    return bad_request("Invalid request body", f"Field '{name}' must be {expected}, not {got}")


def check_string(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(name, "a string", value)
    if len(value) > MAX_STRING:
        raise bad_request(
            "Invalid request body",
            f"Field '{name}' is {len(value)} characters long; at most {MAX_STRING} allowed",
        )
    if not _encodable(value):
        raise bad_request("Invalid request body", f"Field '{name}' is not valid Unicode")
    return value


def check_uuid(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(name, "a UUID string", value)
    if not is_uuid(value):
        raise bad_request("Invalid request body", f"Field '{name}' must be a UUID")
    return value.lower()


def check_metadata(name: str, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _type_error(name, "an object of strings", value)
    result: dict[str, str] = {}
    for key, item in value.items():
        if not _METADATA_KEY_RE.match(key):
            raise bad_request(
                "Invalid metadata",
                f"Metadata key {key[:40]!r} must be 1-255 characters of letters, digits, "
                "space and - _ : . /",
            )
        if not isinstance(item, str):
            raise bad_request("Invalid metadata", f"Metadata value for {key!r} must be a string")
        if len(item) > MAX_STRING:
            raise bad_request(
                "Invalid metadata",
                f"Metadata value for {key!r} is {len(item)} characters; at most 255 allowed",
            )
        if not _encodable(item):
            raise bad_request(
                "Invalid metadata", f"Metadata value for {key!r} is not valid Unicode"
            )
        result[key] = item
    return result


def validate_body(body: Mapping[str, Any], spec: Mapping[str, Field]) -> dict[str, Any]:
    """Check a decoded JSON object against a field spec; return the cleaned values given."""
    unknown = sorted(k for k in body if k not in spec)
    if unknown:
        names = ", ".join(repr(k[:60]) for k in unknown[:5])
        raise bad_request("Invalid request body", f"Unknown field(s): {names}")
    missing = [name for name, field in spec.items() if field.required and name not in body]
    if missing:
        raise bad_request("Invalid request body", f"Field '{missing[0]}' is required")
    clean: dict[str, Any] = {}
    for name, value in body.items():
        kind = spec[name].kind
        if kind == "string":
            clean[name] = check_string(name, value)
        elif kind == "uuid":
            clean[name] = check_uuid(name, value)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise _type_error(name, "a boolean (true or false)", value)
            clean[name] = value
        elif kind == "size":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _type_error(name, "an integer", value)
            if not 1 <= value <= MAX_VOLUME_SIZE_GB:
                raise bad_request(
                    "Invalid request body",
                    f"Field '{name}' must be between 1 and {MAX_VOLUME_SIZE_GB} (GB)",
                )
            clean[name] = value
        elif kind == "metadata":
            clean[name] = check_metadata(name, value)
        else:  # pragma: no cover - programming error
            raise AssertionError(kind)
    return clean


def parse_json_body(raw: bytes, content_type: str | None, *, required: bool) -> dict[str, Any]:
    """Decode a request body that must be a JSON object (or be absent when not required)."""
    if not raw.strip() and not required:
        return {}
    if not raw:
        raise bad_request("Request body is required", "Send a JSON object")
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise bad_request(
            "Unsupported content type",
            f"Content-Type must be application/json, not {media_type or 'missing'}",
        )
    if len(raw) > MAX_BODY_BYTES:
        raise bad_request("Request body too large", f"At most {MAX_BODY_BYTES} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad_request("Malformed JSON", str(exc)[:200]) from None
    if not isinstance(body, dict):
        raise bad_request("Invalid request body", "The body must be a JSON object")
    return body


def parse_query(query_string: str) -> dict[str, str]:
    """Decode a query string; a parameter given twice or badly encoded is a 400."""
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise bad_request("Invalid query string", "The query string is not valid UTF-8") from None
    result: dict[str, str] = {}
    for key, value in pairs:
        if key in result:
            raise bad_request(
                "Invalid query parameter", f"Parameter '{key}' is given more than once"
            )
        if not _encodable(value) or not _encodable(key):
            raise bad_request("Invalid query parameter", f"Parameter '{key}' is not valid Unicode")
        result[key] = value
    return result


def parse_limit(value: str | None, default: int = 20) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,7}", value):
        raise bad_request("Invalid query parameter", "'limit' must be an integer from 1 to 1000")
    limit = int(value)
    if not 1 <= limit <= 1000:
        raise bad_request("Invalid query parameter", "'limit' must be an integer from 1 to 1000")
    return limit


def parse_uuid_param(name: str, value: str) -> str:
    if not is_uuid(value):
        raise bad_request("Invalid query parameter", f"'{name}' must be a UUID")
    return value.lower()


def parse_bool_param(name: str, value: str) -> bool:
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise bad_request("Invalid query parameter", f"'{name}' must be true or false")
