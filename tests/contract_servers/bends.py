"""How the reference server bends its input and output for the breaks of the second round (``breaks``).

Each function takes the active breaks and does nothing unless one of its own is among them, so the
correct server runs the same code.
"""

from __future__ import annotations

import hmac
from typing import Any

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
SHORT_COLUMN = 255
FLATTEN_DEPTH = 3


def token_accepted(given: str, known: str, active: frozenset[str]) -> bool:
    """Whether ``given`` (the credentials after ``Bearer``) opens the API."""
    if not given:
        return False
    if "token-whitespace-removed" in active:
        given = "".join(given.split())
    if "token-quotes-stripped" in active:
        given = given.strip('"')
    if "token-case-insensitive" in active:
        given, known = given.lower(), known.lower()
    if "token-prefix-accepted" in active and known.startswith(given):
        return True
    if "token-suffix-ignored" in active and given.startswith(known):
        return True
    return hmac.compare_digest(given.encode(), known.encode())


def relaxed_for_validation(body: dict[str, Any], active: frozenset[str]) -> dict[str, Any]:
    """The body as a bent validator sees it (what is stored is still the body sent)."""
    if "enum-case-insensitive" not in active:
        return body
    seen = dict(body)
    if isinstance(seen.get("priority"), str):
        seen["priority"] = seen["priority"].lower()
    if isinstance(seen.get("issues"), list):
        seen["issues"] = [{**issue, "severity": issue["severity"].lower()}
                          if isinstance(issue, dict) and isinstance(issue.get("severity"), str) else issue
                          for issue in seen["issues"]]
    return seen


def extra_problems(body: dict[str, Any], active: frozenset[str]) -> dict[str, str]:
    """Valid values a bent validator refuses."""
    found = {}
    if "plus-email-refused" in active:
        for name in ("reported_by", "performed_by"):
            if isinstance(body.get(name), str) and "+" in body[name]:
                found[name] = "must be an e-mail address"
    if "critical-priority-refused" in active and body.get("priority") == "critical":
        found["priority"] = "must be low, medium or high"
    return found


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_drop_nulls(item) for item in value if item is not None]
    return value


def _round_floats(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, dict):
        return {key: _round_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_round_floats(item) for item in value]
    return value


def _sort_string_lists(value: Any) -> Any:
    if isinstance(value, list):
        items = [_sort_string_lists(item) for item in value]
        return sorted(items) if items and all(isinstance(item, str) for item in items) else items
    if isinstance(value, dict):
        return {key: _sort_string_lists(item) for key, item in value.items()}
    return value


def _flatten_deep(value: Any, depth: int = 0) -> Any:
    if isinstance(value, dict):
        if depth >= FLATTEN_DEPTH:
            return str(value)  # a column of the fixed schema took the rest as text
        return {key: _flatten_deep(item, depth + 1) for key, item in value.items()}
    return value


def stored_body(body: dict[str, Any], active: frozenset[str]) -> dict[str, Any]:
    """The body as a bent store keeps it."""
    stored = dict(body)
    details = stored.get("details")
    if isinstance(details, dict):
        if "null-dropped-in-details" in active:
            details = _drop_nulls(details)
        if "floats-rounded" in active:
            details = _round_floats(details)
        if "sorted-arrays" in active:
            details = _sort_string_lists(details)
        if "deep-nesting-flattened" in active:
            details = _flatten_deep(details)
        stored["details"] = details
    issues = stored.get("issues")
    if "issues-sorted-by-severity" in active and isinstance(issues, list):
        stored["issues"] = sorted(issues, key=lambda issue: SEVERITY_RANK.get(issue.get("severity"), 0))
    notes = stored.get("notes")
    if isinstance(notes, str):
        if "non-ascii-mangled" in active:
            notes = notes.encode("ascii", errors="replace").decode("ascii")
        if "long-text-truncated" in active:
            notes = notes[:SHORT_COLUMN]
        stored["notes"] = notes
    return stored
