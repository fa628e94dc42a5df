"""``python -m mockserver check-har FILE``: the proxy's checks over a HAR capture, offline.

Each entry whose URL lies under the API base URL (given, or found as the part of the first URL before
``/inventory_device_diags``) is checked in the order captured, as if it had passed through the proxy:
request shapes, the response's claims, and the checks across exchanges. Every violation is printed on
one line, tokens masked, then a summary; the exit status is 1 when there is any, 2 when the file is
not a HAR capture.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .traffic import CLOCK_TOLERANCE_SECONDS, RESOURCE, TrafficChecker, is_api, observed
from .violations import Violation, summary


class HarError(ValueError):
    """The file is not a HAR capture this command can read."""


def _pairs(items: Any) -> list[tuple[str, str]]:
    return [(str(item.get("name", "")), str(item.get("value", ""))) for item in items or []
            if isinstance(item, dict)]


def _response_content(content: dict[str, Any]) -> bytes:
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        return base64.b64decode(text)
    return str(text).encode("utf-8")


#: What capture tools write in place of a secret header: ``[Filtered]`` (Schemathesis), ``***``, ``<hidden>``.
REDACTED = re.compile(r"^(\[[^\]]*\]|\*+|<[^>]*>)$")


def _unredacted(name: str, value: str) -> str:
    """A redacted Authorization header stands for credentials the capture hid: a bearer token."""
    if name.lower() == "authorization" and REDACTED.match(value.strip()):
        return f"Bearer {value.strip()}"
    return value


def _capture_clock(started: datetime | None) -> datetime:
    return started or datetime.now(UTC)


def _started(entry: dict[str, Any]) -> datetime | None:
    try:
        started = datetime.fromisoformat(str(entry.get("startedDateTime")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return started if started.tzinfo is not None else None


def entries(path: Path) -> list[dict[str, Any]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        found = document["log"]["entries"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise HarError(f"{path}: not a HAR capture ({type(error).__name__}: {error})") from None
    if not isinstance(found, list):
        raise HarError(f"{path}: log.entries is not a list")
    return [entry for entry in found if isinstance(entry, dict)]


def guess_base_url(found: list[dict[str, Any]]) -> str | None:
    for entry in found:
        url = str(entry.get("request", {}).get("url", ""))
        if RESOURCE in url:
            return url.split(RESOURCE, 1)[0]
    return None


def check_entries(found: list[dict[str, Any]], base_url: str) -> tuple[list[Violation], int]:
    """The violations of the API's exchanges among ``found``, and how many exchanges were checked."""
    checker = TrafficChecker(base_url)
    violations: list[Violation] = []
    checked = 0
    for entry in found:
        request, response = entry.get("request") or {}, entry.get("response") or {}
        url = str(request.get("url", ""))
        status = response.get("status")
        if not is_api(url, base_url) or not isinstance(status, int) or status <= 0:
            continue  # another site, or a request that got no answer (the browser's status 0)
        started = _started(entry)
        # A new record's created_at is compared with when the capture was made, not with today.
        checker.clock = functools.partial(_capture_clock, started)
        checker.clock_tolerance = CLOCK_TOLERANCE_SECONDS if started else math.inf
        body = str((request.get("postData") or {}).get("text") or "").encode("utf-8")
        headers = {name: _unredacted(name, value) for name, value in _pairs(request.get("headers"))}
        exchange, verdict, token = observed(base_url, str(request.get("method", "GET")).upper(), url,
                                            headers, body, status,
                                            _pairs(response.get("headers")),
                                            _response_content(response.get("content") or {}))
        hidden = any(REDACTED.match(value.strip()) for name, value in _pairs(request.get("headers"))
                     if name.lower() == "authorization")
        # Every hidden token looks alike: none of them can be known to be one the server accepts.
        violations += checker.check(exchange, verdict, None if hidden else token)
        checked += 1
    return violations, checked


def check_har(path: Path, base_url: str | None) -> int:
    """Check the capture at ``path``; the exit status."""
    try:
        found = entries(path)
    except HarError as error:
        print(error, file=sys.stderr)
        return 2
    base = (base_url or guess_base_url(found) or "").rstrip("/")
    if not base:
        print(f"{path}: no request to {RESOURCE}/ in the capture; give --base-url", file=sys.stderr)
        return 2
    violations, checked = check_entries(found, base)
    for violation in violations:
        print(violation.log_line())
    print(f"{checked} exchange(s) with {base} checked; {summary(violations)}")
    return 1 if violations else 0
