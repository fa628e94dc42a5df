"""The documented request shapes, checked on what a client sends through the proxy.

A request outside them is the client's fault, not the server's: it becomes a request-side violation,
named by one of the ``REQUEST_*`` names here (they describe the client, so they are not claims of the
contract's catalogue). ``classify`` also says what the contract then expects of the server: a 400 for a
body that is not a JSON object or lacks a required field, a 422 for a field of the wrong type or
format, a 401 without a bearer token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from jsonschema.exceptions import best_match

import schemas
from contract_tests import claims
from contract_tests.claims import Claim

REQUEST_METHOD_DOCUMENTED = "request_method_documented"
REQUEST_ROUTE_DOCUMENTED = "request_route_documented"
REQUEST_AUTHENTICATED = "request_authenticated"
REQUEST_QUERY_DOCUMENTED = "request_query_documented"
REQUEST_BODY_MATCHES_SCHEMA = "request_body_matches_schema"

QUERY_PARAMETERS = ("id", "update_status", "limit", "offset")
BOOLEANS = ("true", "false", "1", "0")
REQUIRED_FIELDS = ("device_id", "diagnostic_type")


@dataclass
class Verdict:
    """What is wrong with one request, and the statuses the contract then allows the server."""

    problems: list[tuple[str, str]] = field(default_factory=list)  # (name, message)
    expected: set[int] | None = None
    rule: Claim | None = None
    why: str = ""
    authenticated: bool = True
    body: dict[str, object] | None = None  # a valid POST body

    @property
    def outside_shapes(self) -> bool:
        """Whether the request breaks a documented shape other than authentication."""
        return any(name != REQUEST_AUTHENTICATED for name, _ in self.problems)

    def expect(self, statuses: set[int], rule: Claim, why: str) -> None:
        if self.expected is None:
            self.expected, self.rule, self.why = statuses, rule, why


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Bearer <token>``, or None for any other header (or none)."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _query_problem(query: str) -> str | None:
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in QUERY_PARAMETERS:
            return f"query parameter {name!r} is not documented (documented: {', '.join(QUERY_PARAMETERS)})"
        if name in ("limit", "offset") and not value.isdigit():
            return f"{name}={value!r} is not a non-negative integer"
        if name == "update_status" and value.lower() not in BOOLEANS:
            return f"update_status={value!r} is not a boolean"
        if name == "id" and not value:
            return "id= is empty"
    return None


WRAPPED = ("the body wraps the diagnostic in 'data' (a form docs/contract.md lets only the mock accept): "
           "a real server may refuse it")


def _wrapped(raw: bytes, body: object) -> bool:
    """The (mock) forms of docs/contract.md: ``{"data": "<JSON>"}``, or form-encoded ``data=<JSON>``."""
    if body is None:
        return raw.startswith(b"data=")
    return isinstance(body, dict) and set(body) == {"data"} and isinstance(body["data"], str)


def _case_variant(validator: object, value: object, allowed: object) -> bool:
    """Whether a schema error is an enumerated value in another case ('Critical')."""
    return validator == "enum" and isinstance(value, str) and isinstance(allowed, list) \
        and value.lower() in {str(option).lower() for option in allowed}


def _classify_body(raw: bytes, verdict: Verdict) -> None:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        if _wrapped(raw, None):
            verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, WRAPPED))
            return
        verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, "the body is not JSON"))
        verdict.expect({400}, claims.MALFORMED_JSON_IS_400, "a body that is not JSON")
        return
    if not isinstance(body, dict):
        verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, f"the body is JSON {type(body).__name__}, "
                                                              "not an object"))
        verdict.expect({400}, claims.NON_OBJECT_BODY_IS_400, "JSON that is not an object")
        return
    if _wrapped(raw, body):
        verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, WRAPPED))
        return
    missing = [name for name in REQUIRED_FIELDS if name not in body]
    error = best_match(schemas.validator("diag-create").iter_errors(body))
    if missing:
        verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, f"required field(s) missing: {missing}"))
        verdict.expect({400}, claims.MISSING_REQUIRED_FIELD_IS_400, f"{missing} missing")
    elif error is not None:
        where = "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.path)
        verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, f"at {where}: {error.message[:300]}"))
        if _case_variant(error.validator, error.instance, error.validator_value):
            verdict.expect({422}, claims.ENUM_CASE_VARIANT_IS_422,
                           f"{error.instance!r} at {where}: an enumerated value in another case")
        verdict.expect({422}, claims.WRONG_TYPE_OR_FORMAT_IS_422,
                       f"a field of the wrong type or format at {where}")
    else:
        verdict.body = body


#: The media types a POST body may come in: JSON, and the form encoding of the (mock) ``data`` form.
BODY_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded")


def classify(method: str, on_resource: bool, query: str, authorization: str | None, body: bytes,
             content_type: str | None = None) -> Verdict:
    """Check a request to the API against the documented shapes (``on_resource``: its path is the
    resource's; ``content_type``: the request's Content-Type header, if any)."""
    verdict = Verdict()
    if bearer_token(authorization) is None:
        verdict.authenticated = False
        verdict.problems.append((REQUEST_AUTHENTICATED, "no 'Authorization: Bearer <token>' header"))
    if not on_resource:
        verdict.problems.append((REQUEST_ROUTE_DOCUMENTED, "the API documents one route: "
                                                           "/inventory_device_diags/"))
    elif method not in ("GET", "POST"):
        verdict.problems.append((REQUEST_METHOD_DOCUMENTED, f"{method} is not documented (GET and POST are)"))
    elif method == "GET":
        problem = _query_problem(query)
        if problem:
            verdict.problems.append((REQUEST_QUERY_DOCUMENTED, problem))
    else:
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        if media_type and media_type not in BODY_MEDIA_TYPES and not media_type.endswith("+json"):
            # Outside the documented shapes, but no rule of the contract says which refusal it gets.
            verdict.problems.append((REQUEST_BODY_MATCHES_SCHEMA, f"the body is sent as {media_type!r}, "
                                                                  "not as application/json"))
        else:
            _classify_body(body, verdict)
    if not verdict.authenticated:
        # The token is checked first: a request both unauthenticated and malformed is a 401 too.
        rule = claims.AUTH_CHECKED_FIRST if len(verdict.problems) > 1 else claims.UNAUTHENTICATED_IS_401
        verdict.expected, verdict.rule, verdict.why = {401}, rule, "no bearer token"
    return verdict
