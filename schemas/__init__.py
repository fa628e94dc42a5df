"""The JSON Schemas and the OpenAPI document of the Inventory Device Diags API.

Every other package reads the schemas through this module, never from the files:

- ``load(name)`` gives one schema (``"diag"`` is ``diag.schema.json``);
- ``validator(name)`` gives a cached draft 2020-12 validator with format checking
  switched on, its ``$ref``s resolved offline from this folder;
- ``operation(method)`` and ``documented_statuses(method)`` read the OpenAPI document
  to say which status codes an operation may answer and with which schema;
- ``contract_openapi()`` is the contract's document: the two operations as any real server must
  answer them, for peer tools pointed at a real server;
- ``bundled(document)`` (``bundled_openapi()``, ``bundled_contract_openapi()``) is either document
  made self-contained by ``bundle``, every schema a named entry of ``components/schemas``, for
  tools, generators and browsers that want one URL. ``python -m schemas DOCUMENT`` prints it.

Schemas need nothing but ``jsonschema`` (and the format checkers of its
``format-nongpl`` extra).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from .bundle import bundle

SCHEMA_DIR = Path(__file__).resolve().parent
SUFFIX = ".schema.json"
RESOURCE_PATH = "/inventory_device_diags/"

#: The mock's OpenAPI document (its admin API and mock-only answers included), and the contract's:
#: only what the published documentation promises and what docs/contract.md requires of any real server.
MOCK_DOCUMENT = "openapi.json"
CONTRACT_DOCUMENT = "contract.openapi.json"
DOCUMENTS = (MOCK_DOCUMENT, CONTRACT_DOCUMENT)

#: The mock's error shape; a real server is held only to ``LENIENT_ERROR``.
STRICT_ERROR = "error"
LENIENT_ERROR = "any-error"


@cache
def _names() -> tuple[str, ...]:
    return tuple(sorted(path.name.removesuffix(SUFFIX) for path in SCHEMA_DIR.glob(f"*{SUFFIX}")))


def names() -> list[str]:
    """The names of every schema in this folder, sorted (the folder is read once)."""
    return list(_names())


@cache
def _load_file(filename: str) -> dict[str, Any]:
    with open(SCHEMA_DIR / filename, encoding="utf-8") as handle:
        document: dict[str, Any] = json.load(handle)
    return document


def load(name: str) -> dict[str, Any]:
    """One schema by name, as a dict (shared: do not mutate it)."""
    if name not in _names():
        raise KeyError(f"no schema named {name!r}; known: {', '.join(names())}")
    return _load_file(name + SUFFIX)


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document, with its ``$ref``s to the schema files left as they are."""
    return _load_file(MOCK_DOCUMENT)


def contract_openapi() -> dict[str, Any]:
    """The contract's OpenAPI 3.1 document (what any real server must do), its ``$ref``s as they are."""
    return _load_file(CONTRACT_DOCUMENT)


@cache
def bundled(document: str) -> dict[str, Any]:
    """``document`` (one of ``DOCUMENTS``), every schema inlined under ``components/schemas``.

    Shared: do not mutate it.
    """
    if document not in DOCUMENTS:
        raise KeyError(f"no OpenAPI document named {document!r}; known: {', '.join(DOCUMENTS)}")
    return bundle(_load_file(document), {name: load(name) for name in names()}, SUFFIX)


def bundled_openapi() -> dict[str, Any]:
    """The mock's OpenAPI document, bundled (shared: do not mutate it)."""
    return bundled(MOCK_DOCUMENT)


def bundled_contract_openapi() -> dict[str, Any]:
    """The contract's OpenAPI document, bundled (shared: do not mutate it)."""
    return bundled(CONTRACT_DOCUMENT)


@cache
def registry() -> Registry:  # type: ignore[type-arg]
    """Every schema, registered under its ``$id`` so ``$ref`` resolves without a network."""
    resources = [Resource.from_contents(load(name)) for name in names()]
    return Registry().with_resources((resource.id(), resource) for resource in resources)  # type: ignore[misc]


#: jsonschema's own ``email`` check only looks for an ``@``; an address also needs a dotted domain.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


def format_checker() -> FormatChecker:
    """The format checks the schemas rely on: jsonschema's, with a stricter ``email``."""
    checker = FormatChecker()
    checker.checks("email")(lambda instance: not isinstance(instance, str) or bool(_EMAIL.match(instance)))
    return checker


@cache
def validator(name: str) -> Draft202012Validator:
    """A ready validator for one schema, with ``date-time``, ``email`` and ``uri`` checked."""
    return Draft202012Validator(load(name), registry=registry(), format_checker=format_checker())


@dataclass(frozen=True)
class Response:
    """One documented response of an operation."""

    status: int
    description: str
    schema: str | None
    mock_only: bool


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1].removesuffix(SUFFIX)


def _resolve_response(raw: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in raw:
        resolved: dict[str, Any] = openapi()["components"]["responses"][_ref_name(raw["$ref"])]
        return resolved
    return raw


@cache
def operation(method: str) -> tuple[Response, ...]:
    """Every response the OpenAPI document gives ``method`` on the resource, mock-only ones too."""
    operations = openapi()["paths"][RESOURCE_PATH]
    key = method.lower()
    if key not in operations:
        raise KeyError(f"{method.upper()} {RESOURCE_PATH} is not a documented operation")
    found = []
    for status, raw in operations[key]["responses"].items():
        response = _resolve_response(raw)
        media = response.get("content", {}).get("application/json", {})
        ref = media.get("schema", {}).get("$ref")
        found.append(
            Response(
                status=int(status),
                description=response["description"],
                schema=_ref_name(ref) if ref else None,
                mock_only=bool(response.get("x-mock-only", raw.get("x-mock-only", False))),
            )
        )
    return tuple(found)


def documented_statuses(method: str, *, include_mock: bool = False) -> dict[int, str | None]:
    """Status code -> schema name for ``method``; mock-only codes only when asked for."""
    return {
        response.status: response.schema
        for response in operation(method)
        if include_mock or not response.mock_only
    }


def response_schema(method: str, status: int, *, strict: bool) -> str | None:
    """The schema a response must match; error bodies of a real server need only be objects."""
    schema = documented_statuses(method, include_mock=True).get(status)
    if schema == STRICT_ERROR and not strict:
        return LENIENT_ERROR
    return schema
