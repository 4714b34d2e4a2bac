"""/v1 requests checked against the contract (contract/openapi.yaml) with openapi-core.

The OpenAPI file is the only source of the request rules it can express: which fields exist,
their types, lengths and formats, required and unknown fields, parameter types and ranges.
openapi-core validates and unmarshals each request against its operation; `Contract.validate`
turns its errors into ByCloud's error body with a message naming the field.

What the schema cannot express lives here too, each marked: rules of HTTP and JSON themselves
(a query parameter given twice, a query string or a JSON text that is not UTF-8, a lone
surrogate in a string, a body over 1 MiB). The contract's prose rules that OpenAPI 3.0 cannot
state (metadata key characters) and the emulator's own limits are in views.py, the domain.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl
from uuid import UUID

import yaml
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_core import Config, OpenAPI
from openapi_core.casting.schemas import oas30_casters_dict
from openapi_core.casting.schemas.casters import AnyCaster, BooleanCaster, TypesCaster
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.datatypes import RequestParameters
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.unmarshalling.request.datatypes import RequestUnmarshalResult
from openapi_core.validation.request.exceptions import (
    MissingRequiredRequestBody,
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.schemas import oas30_write_schema_validators_factory
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from werkzeug.datastructures import Headers, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from emulator.errors import ApiError, bad_request
from emulator.request import Call

CONTRACT = Path(__file__).resolve().parent / "contract" / "openapi.yaml"
# HTTP, not the contract: the emulator reads at most this much of a request body.
MAX_BODY_BYTES = 1024 * 1024
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class EmulatorRequest(Request):
    max_content_length = MAX_BODY_BYTES


@dataclass(frozen=True)
class Operation:
    """One operation of the contract, as routing and error messages need it."""

    operation_id: str
    method: str  # upper case
    template: str  # the OpenAPI path, e.g. /v1/backups/{backup_id}
    documents_400: bool
    query: dict[str, dict[str, Any]]  # parameter name -> schema


class _FormBooleanCaster(BooleanCaster):
    """A boolean in a query string is `true` or `false` (RFC 6570 form style), in any case;
    openapi-core's own caster also takes yes/no/on/off/1/0, which the contract does not."""

    def validate(self, value: Any) -> None:
        if not isinstance(value, bool) and str(value).lower() not in ("true", "false"):
            raise ValueError("not true or false")


def _json_loads(value: bytes, **parameters: str) -> Any:
    """JSON: UTF-8 only (RFC 8259 section 8.1); too deep a nesting is malformed, not a crash."""
    try:
        return json.loads(value.decode("utf-8"))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


Pairs = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Key:
    """All that the validation of a request without a body depends on."""

    operation_id: str
    query: Pairs
    path: Pairs


class _OpenAPIRequest:
    """A request as openapi-core reads one (its `Request` protocol).

    Routing is done (Werkzeug's map, built from the same file): `path_pattern` names the
    operation's path, and the host is the contract's server, which the emulator stands in for.
    Headers are left out: the contract has no header parameters, and credentials are the
    app's to check (see `_CheckedByTheApp`).
    """

    def __init__(
        self, server_url: str, op: Operation, key: _Key, content_type: str, body: bytes | None
    ) -> None:
        self.host_url = server_url
        self.path = self.path_pattern = op.template
        self.method = op.method.lower()
        self.content_type = content_type.lower()
        self.body = body
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(key.query),
            header=Headers(),
            cookie=ImmutableMultiDict(),
            path=dict(key.path),
        )


class _Authenticated(BaseProvider):
    def __call__(self, parameters: RequestParameters) -> Any:
        return None


class _CheckedByTheApp(SecurityProviderFactory):
    """Every /v1 request is authenticated by the app (app.identify: a known token or key, else
    401) before it is validated; openapi-core would only look for the header again."""

    def create(self, scheme: Any) -> Any:
        return _Authenticated(scheme)


class Contract:
    """The contract file, loaded once: its operations, and request validation against it."""

    def __init__(self, path: Path = CONTRACT) -> None:
        spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.server_url: str = spec["servers"][0]["url"]
        self.operations: dict[str, Operation] = {}
        for template, item in spec["paths"].items():
            for method in METHODS:
                if method not in item:
                    continue
                operation = item[method]
                parameters = [_resolve(spec, p) for p in item.get("parameters", [])]
                parameters += [_resolve(spec, p) for p in operation.get("parameters", [])]
                self.operations[operation["operationId"]] = Operation(
                    operation_id=operation["operationId"],
                    method=method.upper(),
                    template=template,
                    documents_400="400" in operation["responses"],
                    query={p["name"]: p["schema"] for p in parameters if p["in"] == "query"},
                )
        casters = SchemaCastersFactory(
            oas30_write_schema_validators_factory,
            TypesCaster({**oas30_casters_dict, "boolean": _FormBooleanCaster}, AnyCaster),
        )
        self.openapi = OpenAPI.from_dict(
            spec,
            config=Config(
                security_provider_factory=_CheckedByTheApp(),
                schema_casters_factory=casters,
                extra_media_type_deserializers={"application/json": _json_loads},
            ),
        )

        # A request without a body is validated by its operation, query and path alone: the
        # result is kept (openapi-core walks the spec for every parameter, ~1.5 ms for a list).
        self._without_body = lru_cache(maxsize=4096)(self._unmarshal)

    def validate(self, request: Request, operation_id: str, path: dict[str, str]) -> Call:
        """The request's typed parameters and body, or an ApiError (400, or 404 for a path ID)."""
        op = self.operations[operation_id]
        raw_query = parse_query(request.query_string)
        try:
            raw_body = request.get_data()
        except RequestEntityTooLarge:
            raise bad_request("Request body too large", f"At most {MAX_BODY_BYTES} bytes") from None
        key = _Key(operation_id, tuple(raw_query.items()), tuple(path.items()))
        if raw_body:
            result = self._unmarshal(key, request.content_type or "", raw_body)
        else:
            result = self._without_body(key)
        if result.errors:
            raise _api_error(_first(result.errors), op, path)
        body = _plain(result.body) if result.body is not None else {}
        _check_unicode(body, [])
        params = result.parameters
        return Call(
            path=request.path,
            base_url=request.host_url.rstrip("/"),
            raw_query=raw_query,
            query=_plain(dict(params.query)),
            params=_plain(dict(params.path)),
            body=body,
        )

    def _unmarshal(
        self, key: _Key, content_type: str = "", body: bytes | None = None
    ) -> RequestUnmarshalResult:
        op = self.operations[key.operation_id]
        request = _OpenAPIRequest(self.server_url, op, key, content_type, body)
        return self.openapi.unmarshal_request(request)


@cache
def load_contract(path: Path = CONTRACT) -> Contract:
    """The contract, loaded once per process (it does not change while the emulator runs)."""
    return Contract(path)


def _resolve(spec: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    """A local `$ref` (`#/components/...`) to the object it names."""
    while "$ref" in item:
        node: Any = spec
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def _plain(value: Any) -> Any:
    """Unmarshalled values back to JSON shapes: a `format: uuid` string comes back a UUID."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


# HTTP and JSON rules the schema cannot express ---------------------------------------------
def parse_query(query_string: bytes) -> dict[str, str]:
    """Decode a query string; a parameter given twice or not UTF-8 is a 400.

    OpenAPI's form style has one value per parameter; Werkzeug's own parsing would keep both
    values and replace bad bytes, so the raw string is decoded here, strictly.
    """
    try:
        pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise bad_request("Invalid query string", "The query string is not valid UTF-8") from None
    result: dict[str, str] = {}
    for key, value in pairs:
        if key in result:
            raise bad_request(
                "Invalid query parameter", f"Parameter '{key}' is given more than once"
            )
        result[key] = value
    return result


def _check_unicode(value: Any, path: list[Any]) -> None:
    """JSON may carry a lone surrogate (`"\\ud800"`), which is no Unicode text: a 400."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            message, subject = _subject(path)
            raise bad_request(message, f"{subject} is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_unicode(item, [*path, key])


# openapi-core's errors to ByCloud's ------------------------------------------------------------
def _first(errors: Iterable[Exception]) -> Exception:
    """Path parameters first (a bad ID names nothing), then the query, then the body."""
    order = {"path": 0, "query": 1}
    return min(
        errors,
        key=lambda e: order.get(e.location, 2) if isinstance(e, ParameterValidationError) else 3,
    )


def _api_error(error: Exception, op: Operation, path: dict[str, str]) -> ApiError:
    if isinstance(error, ParameterValidationError):
        if error.location == "path":
            return _bad_path_id(error.name, path.get(error.name, ""), op)
        return bad_request("Invalid query parameter", _query_rule(error.name, op))
    if isinstance(error, MissingRequiredRequestBody):
        return bad_request("Request body is required", "Send a JSON object")
    cause = error.__cause__
    if isinstance(error, RequestBodyValidationError) and isinstance(cause, MediaTypeNotFound):
        given = (cause.mimetype or "").split(";", 1)[0].strip() or "missing"
        wanted = ", ".join(cause.availableMimetypes)
        return bad_request(
            "Unsupported content type", f"Content-Type must be {wanted}, not {given}"
        )
    if isinstance(cause, MediaTypeDeserializeError):
        reason = cause.__context__
        return bad_request("Malformed JSON", str(reason)[:200] if reason else "Not JSON")
    if isinstance(cause, InvalidSchemaValue) and cause.schema_errors:
        return _body_error(cause.schema_errors, cause.value)
    return bad_request("Invalid request", str(error)[:200])


def _bad_path_id(name: str, value: str, op: Operation) -> ApiError:
    """A path ID that is not a UUID names nothing: 404, or 400 where the operation documents it."""
    kind = name.removesuffix("_id").capitalize()
    details = f"'{value[:80]}' is not a valid {kind.lower()} ID (a UUID)"
    if op.documents_400:
        return bad_request("Invalid ID", details)
    return ApiError(404, f"{kind} not found", details)


def _query_rule(name: str, op: Operation) -> str:
    """The parameter's rule, read from its schema: `'limit' must be an integer from 1 to 1000`."""
    schema = op.query.get(name, {})
    kind = schema.get("type")
    if kind == "boolean":
        return f"'{name}' must be true or false"
    if kind == "string" and schema.get("format") == "uuid":
        return f"'{name}' must be a UUID"
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            return f"'{name}' must be an integer from {low} to {high}"
        return f"'{name}' must be an integer"
    return f"'{name}' is not valid"


_ROOT_ORDER = {"type": 0, "nullable": 0, "additionalProperties": 1, "required": 2}
_NAMES = {
    "string": "a string", "integer": "an integer", "number": "a number", "object": "an object",
    "array": "an array",
}  # fmt: skip
_JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _body_error(errors: Iterable[SchemaError], body: Any) -> ApiError:
    """The first schema error, in the order a reader fixes them: the body's shape, unknown and
    missing fields, then each field in the order it was sent."""
    sent = list(body) if isinstance(body, dict) else []

    def rank(error: SchemaError) -> tuple[int, int]:
        if not error.path:
            return (0, _ROOT_ORDER.get(str(error.validator), 3))
        field = error.path[0]
        return (1, sent.index(field) if field in sent else len(sent))

    first = min(errors, key=rank)
    where = list(first.path)
    instance, schema, validator = first.instance, first.schema, first.validator
    message, subject = _subject(where)
    nested = len(where) > 1
    if not where and validator in ("type", "nullable"):
        return bad_request(message, "The body must be a JSON object")
    if validator == "additionalProperties" and isinstance(instance, dict):
        known = schema.get("properties", {})
        unknown = sorted(key for key in instance if key not in known)
        names = ", ".join(repr(key[:60]) for key in unknown[:5])
        return bad_request(message, f"Unknown field(s): {names}")
    if validator == "required" and isinstance(instance, dict):
        missing = [name for name in first.validator_value if name not in instance]
        return bad_request(message, f"Field '{missing[0]}' is required")
    if validator in ("type", "nullable"):
        expected = _expected(schema)
        if nested:
            return bad_request(message, f"{subject} must be {expected}")
        return bad_request(message, f"{subject} must be {expected}, not {_json_type(instance)}")
    if validator == "maxLength" and isinstance(instance, str):
        size = "characters" if nested else "characters long"
        return bad_request(
            message, f"{subject} is {len(instance)} {size}; at most {first.validator_value} allowed"
        )
    if validator == "format" and first.validator_value == "uuid":
        return bad_request(message, f"{subject} must be a UUID")
    if validator == "minimum":
        return bad_request(message, f"{subject} must be at least {first.validator_value}")
    if validator == "maximum":
        return bad_request(message, f"{subject} must be at most {first.validator_value}")
    return bad_request(message, f"{subject}: {first.message}"[:300])


def _subject(path: list[Any]) -> tuple[str, str]:
    """The error's message and how its details name the value: field, or value in a map field."""
    if len(path) >= 2:
        field, key = path[0], path[1]
        return f"Invalid {field}", f"{str(field).capitalize()} value for {key!r}"
    if path:
        return "Invalid request body", f"Field '{path[0]}'"
    return "Invalid request body", "The body"


def _expected(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string" and schema.get("format") == "uuid":
        return "a UUID string"
    if kind == "boolean":
        return "a boolean (true or false)"
    values = schema.get("additionalProperties")
    if kind == "object" and isinstance(values, dict) and values.get("type") in _NAMES:
        return f"an object of {values['type']}s"
    return _NAMES.get(str(kind), f"of type {kind}")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), type(value).__name__)
