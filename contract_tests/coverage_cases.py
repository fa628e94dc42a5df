"""The coverage phase's cases: chosen on purpose from ``schemas/`` and the contract, not drawn at random.

Together the valid bodies hold every value of every enumerated field, every JSON type inside the
free-form ``details`` (nested several levels deep), arrays of 0, 1 and several items in an order
that shows any reordering, the e-mail forms real people use, non-ASCII and long text. The invalid
bodies hold every enumerated value in another case ("Critical"), which is outside its set.
Each is a plain value: a proxy or another tool can replay them without pytest or hypothesis.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import schemas

from . import claims
from .claims import Claim


def _enum(schema: str, *path: str) -> list[str]:
    node: Any = schemas.load(schema)
    for key in path:
        node = node[key]
    return [value for value in node["enum"] if isinstance(value, str)]


SEVERITIES = _enum("issue", "properties", "severity")
PRIORITIES = _enum("diag-create", "properties", "priority")
STANDARD_TYPES = ("health_check", "maintenance", "issue_report")
#: E-mail forms real people use, each one a valid address (RFC 5321 local part up to 64 characters).
EMAILS = (
    "first.last+diags@example.com",  # plus-addressing
    "ops@eu.mail.example.co.uk",  # sub-domains
    "tech42@example2.org",  # digits
    "field-tech@my-company.example.net",  # hyphens
    "maintenance.team.lead.north.building.floor.three.room42@example.org",  # a long local part
    "Help.Desk@Example.COM",  # capitals
)
NON_ASCII = "Impresora de oficina — planta 2 · 診断レポート · Ünïcödé ✓ · Ελληνικά · עברית · 🖨️🔥 · e\u0301"
#: Long enough to pass any plausible short-column limit (VARCHAR(255)) on the way to the store.
LONG_TEXT = ("Device experiencing intermittent network connectivity issues during peak hours; "
             "users report slow responses. ") * 20
DEEP = {"level1": {"level2": {"level3": {"level4": {"level5": {"value": 1.5, "flags": [True, False, None],
                                                                  "empty": {}}}}}}}


def _issue(severity: str, code: str, message: str | None = None) -> dict[str, str]:
    return {"severity": severity, "message": message or f"{severity} issue {code}", "code": code}


def valid_bodies(device_id: str, tag: str) -> dict[str, dict[str, Any]]:
    """Bodies every server must create and echo exactly, by what each one covers."""
    shuffled = [SEVERITIES[-1], SEVERITIES[0], *SEVERITIES[1:-1][::-1]]  # no sorted order, by name or rank
    bodies: dict[str, dict[str, Any]] = {
        "every JSON type in details": {
            "diagnostic_type": STANDARD_TYPES[2], "priority": PRIORITIES[0], "issues": [],
            "reported_by": EMAILS[0],
            "details": {"text": "a string", "integer": 42, "negative": -7, "zero": 0, "big": 2**53 - 1,
                        "float": 3.25, "small_float": 1.5e-7, "true": True, "false": False, "null": None,
                        "object": {"key": "value"}, "empty_object": {}, "empty_array": []},
        },
        "objects nested several levels deep": {
            "diagnostic_type": STANDARD_TYPES[1], "priority": PRIORITIES[1 % len(PRIORITIES)],
            "issues": [_issue(SEVERITIES[0], "ONE_ITEM")], "performed_by": EMAILS[1],
            "details": {**DEEP, "mixed": [{"a": [1, [2, [3, {"b": None}]]]}], "list_of_lists": [[], [[]]]},
        },
        "arrays of several items, order showing": {
            "diagnostic_type": STANDARD_TYPES[2], "priority": PRIORITIES[2 % len(PRIORITIES)],
            "issues": [_issue(severity, f"CODE_{index}_{severity.upper()}")
                       for index, severity in enumerate(shuffled)],
            "reported_by": EMAILS[3], "performed_by": EMAILS[2],
            "details": {"symptoms": ["zeta", "alpha", "mu", "beta"], "readings": [3, 1, 2, 10, -1, 2.5],
                        "one": ["only"], "none": [], "mixed": ["b", 1, None, True, {"k": "v"}, ["x"]]},
        },
        "health check readings at their bounds": {
            "diagnostic_type": STANDARD_TYPES[0], "priority": PRIORITIES[-1], "status": "warning",
            "performed_by": EMAILS[4], "reported_by": EMAILS[5],
            "issues": [_issue(SEVERITIES[1 % len(SEVERITIES)], "DISK_LOW")],
            "details": {"cpu_usage": 0, "memory_usage": 100, "disk_space": 12.5,
                        "network_connectivity": "good", "last_ping": "2024-01-15T14:25:00Z",
                        "extra": {"nested": [1, "two", None, 3.5]}},
        },
        "non-ASCII and long text": {
            "diagnostic_type": "firmware_audit", "status": "en revisión ✓",
            "issues": [_issue(SEVERITIES[-1], "LONG_MESSAGE", NON_ASCII + " " + LONG_TEXT[:600])],
            "details": {"café": "naïve ☕", "日本語": "診断", "emoji": "🖨️🔥", "rtl": "עברית",
                        "long": LONG_TEXT},
        },
    }
    for name, body in bodies.items():
        body["device_id"] = device_id
        body["notes"] = f"{tag} coverage: {name}"
    bodies["non-ASCII and long text"]["notes"] += f" {NON_ASCII} {LONG_TEXT}"
    return bodies


def _case_variants(value: str) -> list[str]:
    variants = [value.capitalize(), value.upper(), value[:-1] + value[-1].upper()]
    return list(dict.fromkeys(variant for variant in variants if variant != value))


@dataclass(frozen=True)
class Refusal:
    """A body every server must refuse, the status it must answer and the claim that names it."""

    body: dict[str, Any]
    expected: int
    rule: Claim
    why: str
    field: str

    @property
    def content(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def invalid_bodies(device_id: str, marker: str) -> list[Refusal]:
    """Every enumerated value in other cases (422), and e-mails that are not addresses (422)."""
    base = {"device_id": device_id, "diagnostic_type": STANDARD_TYPES[2], "notes": marker}
    refusals = []
    for value in PRIORITIES:
        for variant in _case_variants(value)[:2]:
            refusals.append(Refusal({**base, "priority": variant}, 422, claims.ENUM_CASE_VARIANT_IS_422,
                                    f"priority {variant!r} is {value!r} in another case", "priority"))
    for value in SEVERITIES:
        variant = _case_variants(value)[0]
        refusals.append(Refusal({**base, "issues": [_issue(variant, "CASE")]}, 422,
                                claims.ENUM_CASE_VARIANT_IS_422,
                                f"issue severity {variant!r} is {value!r} in another case", "issues"))
    for field in ("reported_by", "performed_by"):
        refusals.append(Refusal({**base, field: "helpdesk.company.com"}, 422,
                                claims.WRONG_TYPE_OR_FORMAT_IS_422,
                                f"{field} 'helpdesk.company.com' is no e-mail address", field))
    return refusals
