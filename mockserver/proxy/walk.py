"""``python -m mockserver record``: copy a server's records into a fixture file, read-only.

The walk sends GET requests only, never ``update_status=true``, and follows ``next`` only while it stays
on the source's origin and resource (the token goes nowhere else). It stops at ``--max-records``, at the
end of the list, or after ``MAX_PAGES`` pages, and shows its progress on standard error. The token and
the headers are never written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

import fixtures
from fixtures.files import FixtureError
from mockserver.storage.snapshots import print_progress

from .forward import origin
from .recorder import fixture_of, servable

PAGE_SIZE = 100
MAX_PAGES = 10_000
TIMEOUT = (10.0, 120.0)
RESOURCE = "/inventory_device_diags/"


class WalkError(Exception):
    """The source answered something a walk cannot go on from."""


def _safe_link(link: Any, source: str) -> str | None:
    """``link`` if following it keeps the walk read-only and on the source; None otherwise."""
    if not isinstance(link, str) or origin(link) != origin(source):
        return None
    if urlsplit(link).path.rstrip("/") != urlsplit(source).path.rstrip("/") + RESOURCE.rstrip("/"):
        return None
    query = dict(parse_qsl(urlsplit(link).query))
    if query.get("update_status", "false").lower() not in ("false", "0"):
        return None
    return link


def walk_records(session: requests.Session, source: str, device: str | None, budget: int,
                 progress: Any) -> list[dict[str, Any]]:
    """The records of one device (or all), following ``next``, at most ``budget`` of them."""
    params: dict[str, Any] | None = {"limit": PAGE_SIZE, **({"id": device} if device else {})}
    url: str | None = source.rstrip("/") + RESOURCE
    records: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        if url is None or len(records) >= budget:
            break
        answer = session.get(url, params=params, timeout=TIMEOUT)
        params = None  # the links carry the query
        if answer.status_code == 404 and device:
            print(f"\nrecord: device {device!r} is unknown to the source (404): skipped", file=sys.stderr)
            return []
        if answer.status_code != 200:
            raise WalkError(f"GET {answer.url.split('?')[0]} answered {answer.status_code}: "
                            f"{answer.text[:200]}")
        page = answer.json()
        results = [record for record in page.get("results", []) if isinstance(record, dict)]
        records.extend(results[:budget - len(records)])
        progress(len(records), max(min(int(page.get("count") or 0), budget), len(records)))
        url = _safe_link(page.get("next"), source)
        if page.get("next") and url is None:
            print(f"\nrecord: not following next = {page.get('next')!r} (another origin or resource, or "
                  "update_status)", file=sys.stderr)
    return records


def record(source: str, token: str, output: Path, devices: list[str], max_records: int) -> int:
    """Walk ``source`` and write its records to ``output``; the exit status."""
    session = requests.Session()
    session.trust_env = False
    session.headers["Authorization"] = f"Bearer {token}"
    source = source.rstrip("/")
    found: dict[str, dict[str, Any]] = {}
    try:
        for device in devices or [None]:  # type: ignore[list-item]
            label = f"recording {device}" if device else "recording"
            budget = max_records - len(found)
            for item in walk_records(session, source, device, budget, print_progress(label)):
                if servable(item):
                    found.setdefault(item["id"], item)
                else:
                    print(f"\nrecord: skipped a record without id, device_id, device_name or device_serial: "
                          f"{str(item)[:120]}", file=sys.stderr)
            if len(found) >= max_records:
                break
    except (requests.RequestException, ValueError, WalkError) as error:
        print(f"\nrecord: {error}".replace(token, "***"), file=sys.stderr)
        return 1
    fixture = fixture_of(found.values())
    try:
        fixtures.validate(fixture, str(output))
    except FixtureError as error:
        print(f"record: the mock could not serve these records: {error}", file=sys.stderr)
        return 1
    fixtures.write(fixture, output)
    print(f"wrote {len(fixture['devices'])} device(s) and {len(fixture['diagnostics'])} diagnostic(s) "
          f"to {output}", file=sys.stderr)
    return 0
