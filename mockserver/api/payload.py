"""Reading and checking the body of ``POST /inventory_device_diags/``.

Two forms are accepted (docs/contract.md): the diagnostic object itself as JSON, and the documented
``data`` parameter, a JSON string holding it, sent in a JSON body or form-encoded. Validation is
driven by the ``diag-create`` schema: a body that is not an object or lacks a required field is a
400, any other violation a 422, and ``errors`` names each field with the validator's JSON path.
Messages are in plain words (``must be a string, not null``), and ``detail`` names every field at
fault.
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


#: JSON's names for what a body holds, with their article, for messages.
_JSON_KINDS = {"string": "a string", "object": "an object", "array": "a list", "number": "a number",
               "integer": "an integer", "boolean": "true or false", "null": "null"}
_FORMAT_NAMES = {"email": "an e-mail address", "date-time": "an RFC 3339 date-time (2024-01-15T14:25:00Z)"}


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return ("a string" if isinstance(value, str) else "an object" if isinstance(value, dict)
            else "a list" if isinstance(value, list) else "a number")


def _shown(value: Any) -> str:
    """``value`` as JSON, shortened: what the client sent, in the client's notation."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def plain_message(error: ValidationError) -> str:
    """What is wrong, in words rather than the validator's Python notation (``None is not of type ...``)."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        wanted = [expected] if isinstance(expected, str) else list(expected)
        kinds = " or ".join(_JSON_KINDS.get(name, name) for name in wanted)
        return f"must be {kinds}, not {_json_kind(value)}"
    if kind == "format":
        return f"must be {_FORMAT_NAMES.get(str(expected), f'a valid {expected}')}, not {_shown(value)}"
    if kind == "enum":
        return f"must be one of {', '.join(map(str, expected))}, not {_shown(value)}"
    if kind == "required":
        missing = [name for name in expected if isinstance(value, dict) and name not in value]
        return f"lacks the required field{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    if kind == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters long"
    if kind == "maximum":
        return f"must be at most {expected}, not {_shown(value)}"
    if kind == "minimum":
        return f"must be at least {expected}, not {_shown(value)}"
    if kind == "const":
        return f"must be {_shown(expected)}, not {_shown(value)}"
    return error.message


def _where(error: ValidationError) -> str:
    """The field's place, as the client would write it: ``issues[0].severity``."""
    return error.json_path.removeprefix("$.").removeprefix("$") or "body"


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
    first_problem: dict[str, str] = {}
    for error in errors:
        if error.validator == "required" and not error.absolute_path:
            continue
        message = plain_message(error)
        by_field[_field_of(error)].append(_shorten(f"{error.json_path}: {message}"))
        first_problem.setdefault(_field_of(error), f"{_where(error)} {message}")
    # The detail names every field at fault, not only the first the validator found.
    problems = "; ".join(_shorten(problem) for problem in first_problem.values())
    if missing:
        also = f" Also invalid: {problems}." if problems else ""
        raise bad_request(f"Missing required field(s): {', '.join(missing)}.{also}", by_field)
    best = _field_of(best_match(errors))
    ordered = [best, *(field for field in first_problem if field != best)]
    detail = "; ".join(_shorten(first_problem[field]) for field in ordered)
    heading = "Invalid value" if len(ordered) == 1 else f"{len(ordered)} fields are invalid"
    raise unprocessable(f"{heading}: {detail}.", by_field)


def checked_body(mimetype: str, raw: bytes, form: Mapping[str, str], max_depth: int) -> dict[str, Any]:
    """Read and validate a POST body: the client's fields, server-owned ones dropped."""
    body = parse_body(mimetype, raw, form, max_depth)
    validate_create(body)
    return {key: value for key, value in body.items() if key not in SERVER_OWNED}


__all__ = ["SERVER_OWNED", "ApiError", "checked_body", "parse_body", "parse_json", "validate_create"]
