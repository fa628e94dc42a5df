"""A running ``python -m mockserver proxy`` for the tests, and the traffic a client app would send through it.

``proxied`` starts the proxy in front of a base URL on a free loopback port (as ``live`` starts the mock),
waits until its admin API answers, and stops it when the block ends. ``drive`` sends a client's day: a walk
of the whole list, one device's list, a record created and listed again, the same page twice, and two
deliberately bad requests (no token; a body that is not JSON).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from live import ROOT, Server, free_port

RESOURCE = "/api/v1/inventory_device_diags/"
HTTP_SECONDS = 30.0
MAX_PAGES = 60
DELIBERATE_BAD_REQUESTS = frozenset({"request_authenticated", "request_body_matches_schema"})


@contextmanager
def proxied(upstream: str, *args: str, log_path: Path, start_seconds: float = 60) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "mockserver", "proxy", "--upstream", upstream, "--port", str(port),
               *args]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(process, port, log_path)
    deadline = time.monotonic() + start_seconds
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"proxy exited with {process.returncode}:\n{server.log_tail()}")
            try:
                requests.get(server.url + "/__admin/health", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the proxy did not answer within {start_seconds} s:\n{server.log_tail()}")
                time.sleep(0.1)
        yield server
    finally:
        server.stop()


def violations(proxy: Server) -> list[dict[str, Any]]:
    answer = requests.get(proxy.url + "/__admin/violations", timeout=HTTP_SECONDS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["violations"])
    found: list[dict[str, Any]] = body["violations"]
    return found


def walk(session: requests.Session, url: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every page met following ``next`` from ``url`` (bounded), as JSON bodies."""
    pages = []
    next_url: str | None = url
    while next_url and len(pages) < MAX_PAGES:
        answer = session.get(next_url, params=params if not pages else None, timeout=HTTP_SECONDS)
        if answer.status_code != 200 or "json" not in answer.headers.get("Content-Type", ""):
            break
        page = answer.json()
        if not isinstance(page, dict):
            break
        pages.append(page)
        link = page.get("next")
        next_url = link if isinstance(link, str) and link.startswith(("http://", "https://")) else None
    return pages


def drive(proxy: Server, token: str) -> None:
    """A client's traffic through the proxy (see the module's docstring)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    resource = proxy.url + RESOURCE
    pages = walk(session, resource, {"limit": 4})
    records = [record for page in pages for record in page.get("results", []) if isinstance(record, dict)]
    device = str(records[-1].get("device_id")) if records else "device-12345"
    walk(session, resource, {"id": device, "limit": 3})
    body = {"device_id": device, "diagnostic_type": "health_check", "status": "healthy",
            "notes": "through the proxy", "details": {"cpu_usage": 12.5, "tags": ["b", "a"], "gone": None},
            "issues": []}
    session.post(resource, json=body, timeout=HTTP_SECONDS)
    walk(session, resource, {"id": device, "limit": 3})
    session.get(resource, params={"limit": 5}, timeout=HTTP_SECONDS)
    session.get(resource, params={"limit": 5}, timeout=HTTP_SECONDS)
    requests.get(resource, timeout=HTTP_SECONDS)  # deliberately without a token
    session.post(resource, data=b"{not json", headers={"Content-Type": "application/json"},
                 timeout=HTTP_SECONDS)
