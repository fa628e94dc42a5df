"""The contract's claims, one small function each, and the checks every response must pass.

A claim returns ``None`` when it holds and a description of the break otherwise; the ``claim``
decorator records it for the coverage table and turns a break into a ``ContractViolation`` (the one
assertion type of the suite) that carries the claim's name, the break and the cURL reproduction.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec
from urllib.parse import urlsplit

import schemas

from .claims import Claim, lookup
from .contract_coverage import LOG
from .exchange import NOT_JSON, Exchange

P = ParamSpec("P")
_reproduction_hint = ""


def set_reproduction_hint(hint: str) -> None:
    """The line every violation ends with (the hypothesis seed and the target), set once per run."""
    global _reproduction_hint
    _reproduction_hint = hint


class ContractViolation(AssertionError):
    """A server broke a named claim of the contract."""

    def __init__(self, claim: Claim, problem: str, exchange: Exchange | None = None) -> None:
        self.claim = claim.name
        self.problem = problem
        self.exchange = exchange
        lines = [f"contract violated: {claim.name}", f"  {problem}"]
        if exchange is not None:
            lines += ["  " + line for line in exchange.describe().splitlines()]
        if _reproduction_hint:
            lines.append(f"  reproduce: {_reproduction_hint}")
        super().__init__("\n".join(lines))


def claim(func: Callable[Concatenate[Exchange, P], str | None]) -> Callable[Concatenate[Exchange, P], None]:
    """Make ``func`` a named claim: recorded on its exchange's (operation, status), raising on a break.
    Its name must be in the catalogue (``claims``): a misspelt one fails at import."""
    catalogued = lookup(func.__name__)

    @functools.wraps(func)
    def check(exchange: Exchange, *args: P.args, **kwargs: P.kwargs) -> None:
        LOG.record_check(exchange.operation, exchange.status, catalogued.name)
        problem = func(exchange, *args, **kwargs)
        if problem is not None:
            raise ContractViolation(catalogued, problem, exchange)

    return check


def expect_status(exchange: Exchange, expected: int | set[int], *, rule: Claim, why: str) -> None:
    """The status a rule of the contract prescribes; ``rule`` is its claim (``claims.X``)."""
    LOG.record_check(exchange.operation, exchange.status, rule.name)
    allowed = {expected} if isinstance(expected, int) else expected
    if exchange.status not in allowed:
        wanted = " or ".join(str(status) for status in sorted(allowed))
        raise ContractViolation(rule, f"expected {wanted} ({why}), got {exchange.status}", exchange)


@dataclass(frozen=True)
class Expect:
    """The status a test expects, checked before the shape of the body (it names the break better)."""

    statuses: int | set[int]
    rule: Claim
    why: str

    def __post_init__(self) -> None:
        if not isinstance(self.rule, Claim):
            raise TypeError(f"Expect(rule=...) takes a Claim of the catalogue, not {self.rule!r}")


@dataclass(frozen=True)
class CheckContext:
    """What the checks on every response need to know about the run."""

    base_url: str
    strict: bool


def _update_status_requested(exchange: Exchange) -> bool:
    return exchange.query.get("update_status", "").lower() in {"true", "1"}


@claim
def no_server_error(exchange: Exchange) -> str | None:
    if exchange.status < 500:
        return None
    if exchange.operation == "GET" and exchange.status == 500 and _update_status_requested(exchange):
        return None  # documented: the diagnostic helpers are misconfigured
    return f"{exchange.status} is a server error; only GET with update_status=true may answer 500"


@claim
def status_code_documented(exchange: Exchange, strict: bool) -> str | None:
    documented = schemas.documented_statuses(exchange.operation, include_mock=strict)
    if exchange.status in documented:
        return None
    listed = ", ".join(str(status) for status in sorted(documented))
    return f"{exchange.operation} answered {exchange.status}; documented: {listed}"


@claim
def content_type_is_json(exchange: Exchange) -> str | None:
    media_type = exchange.content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        return None
    return f"Content-Type is {exchange.content_type or '(missing)'!r}, not application/json"


@claim
def body_is_json_object(exchange: Exchange) -> str | None:
    if exchange.payload is NOT_JSON:
        return "the body does not parse as JSON"
    if not isinstance(exchange.payload, dict):
        return f"the body is JSON but not an object: {type(exchange.payload).__name__}"
    return None


@claim
def body_matches_schema(exchange: Exchange, strict: bool) -> str | None:
    name = schemas.response_schema(exchange.operation, exchange.status, strict=strict)
    if name is None:
        return None
    errors = sorted(schemas.validator(name).iter_errors(exchange.payload), key=lambda e: list(e.path))
    if not errors:
        return None
    shown = [f"at {_json_path(error.absolute_path)}: {error.message[:300]}" for error in errors[:5]]
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return f"the body does not match schema {name!r}{more}:\n    " + "\n    ".join(shown)


def _json_path(path: Any) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)


#: Fields a status refresh (update_status=true) may change; the others never change once created.
REFRESHABLE = frozenset({"status", "details", "issues", "updated_at", "next_check_due"})
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_rfc3339(value: Any) -> datetime | None:
    """The instant an RFC 3339 date-time names, or None when it is not one."""
    if not isinstance(value, str) or not RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return None


def records_of(exchange: Exchange) -> list[dict[str, Any]]:
    """The diagnostic records a response carries: a page's results, or the created record."""
    payload = exchange.payload
    if exchange.operation == "GET" and exchange.status == 200:
        return [record for record in exchange.results if isinstance(record, dict)]
    if exchange.operation == "POST" and exchange.status == 201 and isinstance(payload, dict):
        return [payload]
    return []


def _timestamps(record: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key in ("created_at", "updated_at"):
        yield key, record.get(key)
    if record.get("next_check_due") is not None:
        yield "next_check_due", record["next_check_due"]
    details = record.get("details")
    is_health_check = record.get("diagnostic_type") == "health_check"
    if is_health_check and isinstance(details, dict) and "last_ping" in details:
        yield "details.last_ping", details["last_ping"]


@claim
def datetimes_parse(exchange: Exchange) -> str | None:
    for record in records_of(exchange):
        for key, value in _timestamps(record):
            if parse_rfc3339(value) is None:
                return f"record {record.get('id')!r}: {key} = {value!r} is not an RFC 3339 date-time"
    return None


@claim
def timestamps_are_utc(exchange: Exchange) -> str | None:
    for record in records_of(exchange):
        for key in ("created_at", "updated_at"):
            instant = parse_rfc3339(record.get(key))
            if instant is not None and instant.utcoffset() != timedelta(0):
                return f"record {record.get('id')!r}: {key} = {record.get(key)!r} is not in UTC"
    return None


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    default_port = {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.hostname or "").lower(), parts.port or default_port


@claim
def page_links_absolute_same_host(exchange: Exchange, base_url: str) -> str | None:
    payload = exchange.payload
    for key in ("next", "previous"):
        link = payload.get(key)
        if link is None:
            continue
        parts = urlsplit(link) if isinstance(link, str) else None
        if parts is None or parts.scheme not in {"http", "https"} or not parts.netloc:
            return f"{key} = {link!r} is not an absolute http(s) URL"
        if _origin(link) != _origin(base_url):
            return f"{key} = {link!r} is not on the host of the base URL {base_url!r}"
        if not parts.path.rstrip("/").endswith("/inventory_device_diags"):
            return f"{key} = {link!r} does not point at the inventory_device_diags resource"
    return None


@claim
def unauthorized_names_bearer_scheme(exchange: Exchange) -> str | None:
    challenge = exchange.headers.get("www-authenticate", "")
    if challenge.split(" ", 1)[0].lower() == "bearer":
        return None
    return f"a 401 must carry WWW-Authenticate: Bearer (RFC 6750), got {challenge or '(none)'!r}"


def check_response(exchange: Exchange, context: CheckContext, expect: Expect | None = None) -> None:
    """What every response must satisfy (and the status the test expects, right after the 5xx check);
    for undocumented routes and methods, the JSON rules (first: they are all the contract says of them)
    and no 5xx."""
    documented = exchange.operation in ("GET", "POST")
    if not documented:
        content_type_is_json(exchange)
        body_is_json_object(exchange)
    no_server_error(exchange)
    if expect is not None:
        expect_status(exchange, expect.statuses, rule=expect.rule, why=expect.why)
    if not documented:
        return
    status_code_documented(exchange, context.strict)
    content_type_is_json(exchange)
    body_is_json_object(exchange)
    body_matches_schema(exchange, context.strict)
    if exchange.status in (200, 201):
        datetimes_parse(exchange)
        timestamps_are_utc(exchange)
    if exchange.operation == "GET" and exchange.status == 200:
        page_links_absolute_same_host(exchange, context.base_url)
    if exchange.status == 401 and context.strict:
        unauthorized_names_bearer_scheme(exchange)
