"""Hypothesis strategies for queries and request bodies, kept inside what the contract makes unambiguous.

Valid bodies never hold empty or blank strings, nulls, unknown fields, NUL characters or integers
beyond +-2**53, and their e-mails are plain ``a.b@example.com`` ones: the contract leaves a real
server free to reject those. Invalid bodies break exactly one documented rule per fault.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hypothesis import Phase, settings
from hypothesis import strategies as st

from . import claims
from .claims import Claim
from .client import json_bytes

SEVERITIES = ("low", "medium", "high", "critical")
PRIORITIES = SEVERITIES
STANDARD_TYPES = ("health_check", "maintenance", "issue_report")
SERVER_OWNED = ("id", "device_name", "device_serial", "created_at", "updated_at")
MAX_SAFE_INTEGER = 2**53
NON_ASCII_SAMPLES = (
    "Impresora de oficina — planta 2",
    "診断レポート ディスク残量低下",
    "Ünïcödé ✓ naïve café",
    "printer on fire 🖨️🔥",
    "Ελληνικά κείμενα",
    "עברית וערבית العربية",
    "e\u0301 (a combining accent)",
    "tab\tand\nnewline",
)

_characters = st.characters(exclude_categories=("Cs", "Cn"), exclude_characters="\x00")


def texts(max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-blank strings: at least one letter or digit, any other character but NUL."""
    return st.text(_characters, min_size=1, max_size=max_size).filter(
        lambda text: any(char.isalnum() for char in text)
    )


def long_texts() -> st.SearchStrategy[str]:
    return st.builds(lambda unit, times: unit * times, texts(12), st.integers(40, 250))


def free_texts() -> st.SearchStrategy[str]:
    return st.one_of(texts(), st.sampled_from(NON_ASCII_SAMPLES), long_texts())


def emails() -> st.SearchStrategy[str]:
    local = st.from_regex(r"[a-z][a-z0-9]{0,9}(\.[a-z][a-z0-9]{0,9})?", fullmatch=True)
    domain = st.sampled_from(("example.com", "example.org", "company.com", "mail.example.net"))
    return st.builds(lambda name, host: f"{name}@{host}", local, domain)


def rfc3339_instants() -> st.SearchStrategy[str]:
    moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31))
    return moments.map(lambda moment: moment.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))


def json_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.booleans(),
        st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
        st.sampled_from((0, -1, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER)),
        st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False),
        texts(),
    )


def json_values() -> st.SearchStrategy[Any]:
    return st.recursive(
        json_scalars(),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(texts(20), children, max_size=4),
        max_leaves=8,
    )


def free_details() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(texts(20), json_values(), max_size=6)


HEALTH_KEYS = ("cpu_usage", "memory_usage", "disk_space", "network_connectivity", "last_ping")


def health_details() -> st.SearchStrategy[dict[str, Any]]:
    """Details a health check may carry: percentages within 0..100, an RFC 3339 last_ping."""
    percent = st.one_of(st.integers(0, 100), st.floats(0, 100, allow_nan=False), st.sampled_from((0, 100)))
    known = st.fixed_dictionaries({}, optional={
        "cpu_usage": percent, "memory_usage": percent, "disk_space": percent,
        "network_connectivity": texts(), "last_ping": rfc3339_instants(),
    })
    extra = st.dictionaries(texts(20).filter(lambda key: key not in HEALTH_KEYS), json_values(), max_size=3)
    return st.builds(lambda first, second: {**second, **first}, known, extra)


def issues() -> st.SearchStrategy[list[dict[str, str]]]:
    issue = st.fixed_dictionaries(
        {"severity": st.sampled_from(SEVERITIES), "message": free_texts(), "code": texts(20)}
    )
    return st.lists(issue, max_size=3)


def notes(tag: str) -> st.SearchStrategy[str]:
    """Notes starting with the run's tag, so the records a run created can be found."""
    return st.one_of(st.just(tag), free_texts().map(lambda text: f"{tag} {text}"))


def create_bodies(device_id: str, tag: str) -> st.SearchStrategy[dict[str, Any]]:
    """Valid POST bodies for ``device_id``, every optional field sometimes present."""

    def with_type(diagnostic_type: str) -> st.SearchStrategy[dict[str, Any]]:
        details = health_details() if diagnostic_type == "health_check" else free_details()
        return st.fixed_dictionaries(
            {"device_id": st.just(device_id), "diagnostic_type": st.just(diagnostic_type),
             "notes": notes(tag)},
            optional={
                "status": st.one_of(st.sampled_from(("warning", "completed", "open", "ok")), texts()),
                "details": details,
                "issues": issues(),
                "reported_by": emails(),
                "performed_by": emails(),
                "priority": st.sampled_from(PRIORITIES),
            },
        )

    return st.one_of(st.sampled_from(STANDARD_TYPES), texts()).flatmap(with_type)


def unknown_device_ids() -> st.SearchStrategy[str]:
    """Ids no inventory holds: a fixed prefix, a random part, sometimes characters that need quoting."""
    suffix = st.text(st.sampled_from("abcdef0123456789-_.é日+&=/?#% "), min_size=8, max_size=24)
    return st.builds(lambda random_part, tail: f"diags-kit-unknown-{random_part}{tail}",
                     st.uuids().map(lambda value: value.hex[:12]), suffix | st.just(""))


def query_params(
    device_ids: list[str], *, allow_refresh: bool, max_limit: int
) -> st.SearchStrategy[dict[str, Any]]:
    """Any combination of the documented query parameters, with valid values."""
    refresh = ("true", "false") if allow_refresh else ("false",)
    optional: dict[str, st.SearchStrategy[Any]] = {
        "update_status": st.sampled_from(refresh),
        "limit": st.one_of(st.integers(1, 10), st.integers(1, max_limit)),
        "offset": st.one_of(st.integers(0, 30), st.integers(0, 10**6)),
    }
    if device_ids:
        optional["id"] = st.sampled_from(device_ids)
    return st.fixed_dictionaries({}, optional=optional)


@dataclass(frozen=True)
class BadBody:
    """A POST body that breaks the contract's rules, and the status the contract prescribes for it."""

    content: bytes
    expected: int
    rule: Claim
    why: str
    fields: tuple[str, ...] = ()
    unknown_device: str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class Fault:
    field: str
    kind: str  # "missing" (400), "wrong" (422) or "unknown" (404)
    value: Any = None

    def describe(self) -> str:
        if self.kind == "missing":
            return f"{self.field} missing"
        if self.kind == "unknown":
            return f"device_id {self.value!r} names no device"
        return f"{self.field} = {_short(self.value)} has the wrong type or format"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:80] + "..."


def _safe_integers() -> st.SearchStrategy[int]:
    # Past +-2**53 a server may fail to read the number at all (a 400, not a 422): I-JSON, RFC 7493.
    return st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)


def _non_strings() -> st.SearchStrategy[Any]:
    return st.one_of(
        _safe_integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.lists(st.integers(0, 99), max_size=2),
        st.dictionaries(texts(8), st.integers(0, 99), max_size=2),
    )


GOOD_ISSUE = {"severity": "low", "message": "fine", "code": "OK"}


def _in_issue_list(items: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    """A list holding one bad item, sometimes after a good one."""
    return st.builds(lambda item, before: [GOOD_ISSUE] * before + [item], items, st.integers(0, 1))


def _issues_lacking_a_key() -> st.SearchStrategy[dict[str, str]]:
    return st.sampled_from(tuple(GOOD_ISSUE)).map(
        lambda gone: {key: value for key, value in GOOD_ISSUE.items() if key != gone}
    )


def _not_email() -> st.SearchStrategy[Any]:
    return st.one_of(texts().filter(lambda text: "@" not in text), _non_strings())


#: Every way a field can have "the wrong type or format" (422), one rule of docs/contract.md each.
WRONG_VALUES: dict[str, tuple[str, st.SearchStrategy[Any]]] = {
    "device_id not a string": ("device_id", _non_strings()),
    "diagnostic_type not a string": ("diagnostic_type", _non_strings()),
    "details not an object": ("details", st.one_of(texts(), _safe_integers(), st.booleans(),
                                                   st.lists(json_scalars(), max_size=3))),
    "issues not an array": ("issues", st.one_of(texts(), _safe_integers(), st.just(GOOD_ISSUE),
                                                st.booleans())),
    "issue not an object": ("issues", _in_issue_list(st.one_of(texts(), _safe_integers(), st.booleans(),
                                                               st.lists(_safe_integers(), max_size=2)))),
    "issue lacking severity, message or code": ("issues", _in_issue_list(_issues_lacking_a_key())),
    "issue severity outside the set": ("issues", _in_issue_list(st.one_of(
        texts().filter(lambda text: text not in SEVERITIES), _non_strings()
    ).map(lambda severity: {**GOOD_ISSUE, "severity": severity}))),
    "issue message or code not a string": ("issues", _in_issue_list(st.tuples(
        st.sampled_from(("message", "code")), _non_strings()
    ).map(lambda pair: {**GOOD_ISSUE, pair[0]: pair[1]}))),
    "priority outside its set": ("priority", texts().filter(lambda text: text not in PRIORITIES)),
    "priority not a string": ("priority", _non_strings()),
    "reported_by not an e-mail": ("reported_by", _not_email()),
    "performed_by not an e-mail": ("performed_by", _not_email()),
}


def wrong_fault(case: str) -> st.SearchStrategy[Fault]:
    name, values = WRONG_VALUES[case]
    return values.map(lambda value: Fault(name, "wrong", value))


def faults(kind: str) -> st.SearchStrategy[Fault]:
    """A "missing" required field (400), "wrong" type or format (422), "unknown" device (404)."""
    if kind == "missing":
        return st.sampled_from(("device_id", "diagnostic_type")).map(lambda name: Fault(name, "missing"))
    if kind == "wrong":
        return st.sampled_from(sorted(WRONG_VALUES)).flatmap(wrong_fault)
    return unknown_device_ids().map(lambda device: Fault("device_id", "unknown", device))


def fault_lists(kind: str) -> st.SearchStrategy[list[Fault]]:
    """One or two faults of one kind, on different fields."""
    return st.lists(faults(kind), min_size=1, max_size=2, unique_by=lambda fault: fault.field)


def precedence_pairs() -> st.SearchStrategy[list[Fault]]:
    """Two faults of different kinds on different fields: the contract says which status wins."""
    kinds = st.sampled_from((("missing", "wrong"), ("missing", "unknown"), ("wrong", "unknown")))
    pairs = kinds.flatmap(lambda pair: st.tuples(faults(pair[0]), faults(pair[1])))
    return pairs.filter(lambda pair: pair[0].field != pair[1].field).map(list)


def _verdict(chosen: list[Fault]) -> tuple[int, Claim, tuple[str, ...]]:
    kinds = {fault.kind for fault in chosen}
    winner = "missing" if "missing" in kinds else "wrong" if "wrong" in kinds else "unknown"
    status = {"missing": 400, "wrong": 422, "unknown": 404}[winner]
    names = {"missing": claims.MISSING_REQUIRED_FIELD_IS_400, "wrong": claims.WRONG_TYPE_OR_FORMAT_IS_422,
             "unknown": claims.UNKNOWN_DEVICE_IS_404}
    rule = names[winner]
    losers = sorted(kinds - {winner}, key=["missing", "wrong", "unknown"].index)
    if losers:
        loser_status = {"wrong": 422, "unknown": 404}[losers[0]]
        rule = claims.PRECEDENCE[(status, loser_status)]
    return status, rule, tuple(fault.field for fault in chosen if fault.kind == winner)


def faulty_objects(
    device_id: str, marker: str, chosen: st.SearchStrategy[list[Fault]]
) -> st.SearchStrategy[BadBody]:
    """A valid body for a known device, its notes set to ``marker``, then the ``chosen`` faults."""

    def apply(base: dict[str, Any], chosen: list[Fault]) -> BadBody:
        body = dict(base)
        for fault in chosen:
            if fault.kind == "missing":
                body.pop(fault.field, None)
            else:
                body[fault.field] = fault.value
        status, rule, named = _verdict(chosen)
        unknown = next((fault.value for fault in chosen if fault.kind == "unknown"), None)
        return BadBody(
            content=json_bytes(body), expected=status, rule=rule,
            why="; ".join(fault.describe() for fault in chosen), fields=named,
            unknown_device=unknown,
        )

    bases = create_bodies(device_id, marker).map(lambda body: {**body, "notes": marker})
    return st.builds(apply, bases, chosen)


def non_object_bodies(device_id: str, marker: str) -> st.SearchStrategy[BadBody]:
    """JSON that is not an object (an array holding a valid body among them): 400."""
    valid = {"device_id": device_id, "diagnostic_type": "maintenance", "notes": marker}
    values = st.one_of(
        st.just([valid]), st.just(json.dumps(valid)), st.lists(json_scalars(), max_size=3), texts(),
        st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.none(),
    )
    return values.map(lambda value: BadBody(
        content=json_bytes(value), expected=400, rule=claims.NON_OBJECT_BODY_IS_400,
        why=f"the body is JSON {type(value).__name__}, not an object",
    ))


def malformed_bodies(device_id: str, marker: str) -> st.SearchStrategy[BadBody]:
    """Bytes that are not JSON at all: 400."""
    start = json.dumps({"device_id": device_id, "diagnostic_type": "maintenance", "notes": marker})[:-1]
    samples = (
        start.encode(),  # truncated
        (start + ",}").encode(),  # trailing comma
        (start + "}}").encode(),  # trailing garbage
        start.replace('"', "'").encode() + b"}",  # single quotes
        b"",
        b"not json",
        b"\xff\xfe{\x00}\x00",
        b"{device_id: 1}",
    )
    return st.sampled_from(samples).map(lambda content: BadBody(
        content=content, expected=400, rule=claims.MALFORMED_JSON_IS_400,
        why=f"the body is not JSON: {content[:60]!r}",
    ))


def write_settings(examples: int, *, limited: bool) -> settings:
    """Settings of a property that creates records: with a write budget, no shrinking (each shrink
    step would create more) and a single reported failure (each report replays its example)."""
    if not limited:
        return settings(max_examples=examples)
    return settings(max_examples=examples, phases=(Phase.explicit, Phase.generate),
                    report_multiple_bugs=False)


def scaled_examples(fraction: float) -> int:
    """A share of the loaded profile's ``max_examples`` (at least 3), for the costlier properties."""
    current = settings.default
    examples = current.max_examples if current is not None else 100
    return max(3, round(examples * fraction))
