"""A running ``python -m mockserver proxy`` for the tests, and the traffic a client app would send through it.

``proxied`` starts the proxy in front of a base URL on a free loopback port (as ``live`` starts the mock),
waits until its admin API answers, and stops it when the block ends; ``proxied_in_process`` serves the
same app (``create_app``) from a thread of the test's own process, which starts in milliseconds.
``drive`` sends a client's day, made to show every break the traffic of one client can show: walks of
the whole list and of one device, to the end and back; records created (one carrying values a careless store
bends), refreshed with ``update_status=true`` and listed again; the same page twice; concurrent POSTs
and GETs; page edges (``limit=0``, a huge limit, the last record alone); and, deliberately, requests
outside the documented shapes or with a wrong token (see ``DELIBERATE_BAD_REQUESTS``).
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest
import requests
from live import ROOT, Server, free_port
from werkzeug.serving import make_server

from mockserver.proxy.app import create_app

RESOURCE = "/api/v1/inventory_device_diags/"
HTTP_SECONDS = 30.0
MAX_PAGES = 60
DELIBERATE_BAD_REQUESTS = frozenset({"request_authenticated", "request_body_matches_schema",
                                     "request_method_documented", "request_route_documented"})
UNKNOWN_DEVICE = "proxy-no-such-device-4d2"
CONCURRENT_REQUESTS = 4


class Proxy(Protocol):
    @property
    def url(self) -> str: ...


@dataclass
class InProcessProxy:
    url: str


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


@contextmanager
def proxied_in_process(upstream: str) -> Iterator[InProcessProxy]:
    """The proxy's app, fresh (nothing remembered), served by a threaded server in this process."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, create_app({"PROXY_UPSTREAM": upstream}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield InProcessProxy(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def violations(proxy: Proxy) -> list[dict[str, Any]]:
    answer = requests.get(proxy.url + "/__admin/violations", timeout=HTTP_SECONDS)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["count"] == len(body["violations"])
    found: list[dict[str, Any]] = body["violations"]
    return found


def walk(session: requests.Session, url: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every page met following ``next`` from ``url`` (bounded), as JSON bodies."""
    pages: list[dict[str, Any]] = []
    next_url: str | None = url
    visited: set[str] = set()
    while next_url and next_url not in visited and len(pages) < MAX_PAGES:  # a client stops at a loop
        visited.add(next_url)
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


def walk_back(session: requests.Session, pages: list[dict[str, Any]]) -> None:
    """Follow ``previous`` from the last of ``pages`` (at most as many pages back as there are)."""
    link = pages[-1].get("previous") if pages else None
    for _ in range(len(pages)):
        if not isinstance(link, str) or not link.startswith(("http://", "https://")):
            return
        answer = session.get(link, timeout=HTTP_SECONDS)
        if answer.status_code != 200 or not isinstance(answer.json(), dict):
            return
        link = answer.json().get("previous")


def _at_once(calls: list[Callable[[], object]]) -> None:
    """Run the calls in threads released together, so that the server handles them at the same time."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        barrier.wait(timeout=HTTP_SECONDS)
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * HTTP_SECONDS)


def _near_misses(token: str) -> list[str]:
    return [token[:-1], token + "x", token.upper(), f'"{token}"', token[:3] + " " + token[3:]]


def _bent_body(device: str) -> dict[str, Any]:
    """A valid health check whose values a careless store bends: nulls, floats, string arrays, deep
    nesting, issue order, non-ASCII and long notes, plus-addressing, the 'critical' priority."""
    return {"device_id": device, "diagnostic_type": "health_check", "status": "healthy",
            "notes": "through the proxy: caf\u00e9 " + "x" * 300,
            "details": {"cpu_usage": 12.345, "tags": ["b", "a"], "gone": None,
                        "deep": {"a": {"b": {"c": 1}}}},
            "issues": [{"severity": "high", "message": "Fan loud", "code": "FAN"},
                       {"severity": "low", "message": "Dusty", "code": "DUST"}],
            "reported_by": "monitor+proxy@example.com", "priority": "critical"}


def drive(proxy: Proxy, token: str) -> None:
    """A client's traffic through the proxy (see the module's docstring)."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    resource = proxy.url + RESOURCE

    def get(**params: Any) -> requests.Response:
        return session.get(resource, params=params, timeout=HTTP_SECONDS)

    def post(body: object) -> requests.Response:
        return session.post(resource, json=body, timeout=HTTP_SECONDS)

    pages = walk(session, resource, {"limit": 4})
    records = [record for page in pages for record in page.get("results", []) if isinstance(record, dict)]
    device = str(records[-1].get("device_id")) if records else "device-12345"
    walk_back(session, walk(session, resource, {"id": device, "limit": 3}))
    # Credentials: none, another scheme, near misses of the token; a bad body without a token.
    requests.get(resource, timeout=HTTP_SECONDS)
    requests.get(resource, headers={"Authorization": f"Token {token}"}, timeout=HTTP_SECONDS)
    for near_miss in _near_misses(token):
        requests.get(resource, headers={"Authorization": f"Bearer {near_miss}"}, timeout=HTTP_SECONDS)
    requests.post(resource, data=b"{not json", headers={"Content-Type": "application/json"},
                  timeout=HTTP_SECONDS)
    # Devices: an unknown one (listed, written to, listed again) and ids one character off a known one.
    get(id=UNKNOWN_DEVICE)
    post({"device_id": UNKNOWN_DEVICE, "diagnostic_type": "maintenance"})
    get(id=UNKNOWN_DEVICE)
    get(id=device[:-1])
    get(id=device + "0")
    # Bodies outside the documented shapes, a method and a route the API does not have.
    session.post(resource, data=b"{not json", headers={"Content-Type": "application/json"},
                 timeout=HTTP_SECONDS)
    post([device, "health_check"])
    post({"device_id": device})
    post({"device_id": UNKNOWN_DEVICE, "diagnostic_type": "maintenance", "priority": "urgent"})
    post({"device_id": device, "diagnostic_type": "maintenance",
          "issues": [{"severity": "urgent", "message": "Overheating", "code": "HOT"}]})
    post({"device_id": device, "diagnostic_type": "maintenance", "priority": "Critical"})
    session.put(resource, json={"device_id": device}, timeout=HTTP_SECONDS)
    session.get(proxy.url + "/api/v1/no-such-route/", timeout=HTTP_SECONDS)
    # A record created, refreshed, and listed again; then one sent with server-owned fields.
    post(_bent_body(device))
    get(id=device, update_status="true")
    walk(session, resource, {"id": device, "limit": 3})
    post({"device_id": device, "diagnostic_type": "maintenance", "id": "proxy-forged-id-0001",
          "created_at": "2001-02-03T04:05:06Z"})
    # Clients at the same time: writes, then reads of one page; the device listed again.
    bodies = [{"device_id": device, "diagnostic_type": "maintenance", "notes": f"concurrent {n}"}
              for n in range(CONCURRENT_REQUESTS)]
    _at_once([functools.partial(post, body) for body in bodies])
    _at_once([lambda: get(limit=5) for _ in range(CONCURRENT_REQUESTS)])
    walk(session, resource, {"id": device, "limit": 3})
    # Page edges: limit 0, a limit far above any cap, the last record alone, past the end.
    get(limit=0)
    get(limit=5000)
    count = get(limit=1).json().get("count")
    if isinstance(count, int) and count > 1:
        get(limit=1, offset=count - 1)
        get(limit=1, offset=count + 5)
    get(limit=5)
    get(limit=5)
    get()
