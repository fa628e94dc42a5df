"""Reading and checking the body of ``POST /inventory_device_diags/``.

Two forms are accepted (contract.md): the diagnostic object itself as JSON, and the documented
``data`` parameter, a JSON string holding it, sent in a JSON body or form-encoded. Validation is
driven by the ``diag-create`` schema: a body that is not an object or lacks a required field is a
400, any other violation a 422, and ``errors`` names each field with the validator's JSON path.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import cache, partial
from typing import Any

import jsonschema_rs
import orjson
from jsonschema.exceptions import ValidationError, best_match

import schemas

from ..core.responses import ApiError, bad_request, unprocessable

CREATE_SCHEMA = "diag-create"
#: The formats the create schema (and the schemas it refers to) uses.
CHECKED_FORMATS = ("email", "date-time")
JSON_TYPES = ("application/json",)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: Set by the server, never by a client; sent values are ignored.
SERVER_OWNED = frozenset({"id", "device_name", "device_serial", "created_at", "updated_at", "next_check_due"})
MESSAGE_LIMIT = 300
#: The integers the store (orjson) writes exactly: signed 64-bit minimum to unsigned 64-bit maximum.
WIDEST_INTEGER = (-(2**63), 2**64 - 1)
_LONG_DIGITS = re.compile(rb"[0-9]{19,}")


def _shorten(message: str) -> str:
    return message if len(message) <= MESSAGE_LIMIT else message[: MESSAGE_LIMIT - 3] + "..."


def _is_wide(literal: str) -> bool:
    # Decided on the digits first: int() refuses literals past a few thousand digits.
    lowest, highest = WIDEST_INTEGER
    return len(literal.lstrip("-")) > len(str(highest)) or not lowest <= int(literal) <= highest


def _has_wide_integer(raw: bytes) -> bool:
    """Whether the (valid, shallow) JSON document ``raw`` holds an integer the store cannot keep exactly."""
    found = False

    def note(literal: str) -> int:
        nonlocal found
        found = found or _is_wide(literal)
        return 0

    json.loads(raw, parse_int=note)
    return found


def parse_json(raw: bytes, max_depth: int) -> Any:
    """Parse a JSON document, or raise a 400 that says why it is not one."""
    if not raw.strip():
        raise bad_request("The request body is empty: send the diagnostic as a JSON object.")
    try:
        # orjson alone decides: it refuses lone surrogates, NaN and overflowing numbers, which the store
        # (orjson too) could not write back, so a body it accepts can be echoed unchanged.
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"The request body is not valid JSON: {_shorten(str(error))}") from None
    if _depth_exceeds(document, max_depth):
        raise bad_request(f"The JSON body is nested deeper than {max_depth} levels.")
    # orjson reads an integer past 64 bits as a float, silently; such bodies are refused, not altered.
    if _LONG_DIGITS.search(raw) and _has_wide_integer(raw):
        raise bad_request(
            "The request body holds an integer beyond 64 bits, which the mock cannot store exactly.",
            {"body": ["Integers must lie between -2**63 and 2**64 - 1."]},
        )
    return document


def _depth_exceeds(document: Any, max_depth: int) -> bool:
    level: list[Any] = [document]
    for _ in range(max_depth):
        level = [
            child
            for node in level
            if isinstance(node, dict | list)
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return False
    return any(isinstance(node, dict | list) for node in level)


def _unwrap_data(value: Any, max_depth: int) -> Any:
    if isinstance(value, str):
        return parse_json(value.encode("utf-8", "surrogatepass"), max_depth)
    return value


def parse_body(mimetype: str, raw: bytes, form: Mapping[str, str], max_depth: int) -> dict[str, Any]:
    """The diagnostic object a POST carries, in either accepted form."""
    if mimetype in FORM_TYPES and "data" in form:
        body = _unwrap_data(form["data"], max_depth)
    elif mimetype in FORM_TYPES or mimetype in JSON_TYPES or mimetype.endswith("+json") or not mimetype:
        # A form content type with a JSON body is what `curl -d` sends when the header is forgotten.
        body = parse_json(raw, max_depth)
        # Only a string is the documented data parameter; {"data": {...}} is a diagnostic missing its fields.
        if (isinstance(body, dict) and isinstance(body.get("data"), str)
                and not body.keys() & {"device_id", "diagnostic_type"}):
            body = _unwrap_data(body["data"], max_depth)
    else:
        raise bad_request(
            f"Unsupported Content-Type {mimetype!r}: send application/json "
            "(or the data parameter form-encoded)."
        )
    if not isinstance(body, dict):
        raise bad_request(
            f"The body must be a JSON object, not {type(body).__name__ if body is not None else 'null'}.",
            {"body": ["Expected a JSON object holding the diagnostic."]},
        )
    return body


def _field_of(error: ValidationError) -> str:
    return str(error.absolute_path[0]) if error.absolute_path else "body"


@cache
def _compiled_check() -> Callable[[Any], bool]:
    """The create schema compiled by jsonschema-rs: whether a body is valid, in a few microseconds.

    python-jsonschema takes ~130 µs for a full body, more than a bare Flask request costs. Its
    format checks are the ones compiled in (``email`` is stricter than the usual), so both say the
    same; python-jsonschema still has the last word and explains every refusal.
    """
    checker = schemas.format_checker()
    formats: dict[str, Callable[[str], bool]] = {
        name: partial(checker.conforms, format=name) for name in CHECKED_FORMATS
    }
    documents = [schemas.load(name) for name in schemas.names()]
    registry = jsonschema_rs.Registry([(document["$id"], document) for document in documents])
    compiled = jsonschema_rs.validator_for(schemas.load(CREATE_SCHEMA), registry=registry, formats=formats,
                                           validate_formats=True)
    return compiled.is_valid


def validate_create(body: dict[str, Any]) -> None:
    """Raise 400 for missing required fields, 422 for any other violation of the create schema."""
    if _compiled_check()(body):
        return
    validator = schemas.validator(CREATE_SCHEMA)
    errors = list(validator.iter_errors(body))
    if not errors:
        return
    by_field: dict[str, list[str]] = defaultdict(list)
    missing = [name for name in schemas.load(CREATE_SCHEMA)["required"] if name not in body]
    for name in missing:
        by_field[name].append("This field is required.")
    for error in errors:
        if error.validator == "required" and not error.absolute_path:
            continue
        by_field[_field_of(error)].append(_shorten(f"{error.json_path}: {error.message}"))
    if missing:
        raise bad_request(f"Missing required field(s): {', '.join(missing)}.", by_field)
    best = best_match(errors)
    raise unprocessable(_shorten(f"Invalid value at {best.json_path}: {best.message}"), by_field)


def checked_body(mimetype: str, raw: bytes, form: Mapping[str, str], max_depth: int) -> dict[str, Any]:
    """Read and validate a POST body: the client's fields, server-owned ones dropped."""
    body = parse_body(mimetype, raw, form, max_depth)
    validate_create(body)
    return {key: value for key, value in body.items() if key not in SERVER_OWNED}


__all__ = ["SERVER_OWNED", "ApiError", "checked_body", "parse_body", "parse_json", "validate_create"]
