"""The mock inside a client's own tests: a handle on a served mock, and ``running`` to start one.

``running(seed=7)`` starts ``python -m mockserver serve`` on a free loopback port, exactly as a user
would, waits until it answers and yields a ``DiagsMock``: the URLs and token a client needs, and the
admin API (``/__admin/``) wrapped in a few methods to reset the data, inject faults and check what
the client sent. The handle speaks to the mock over HTTP only, so it works the same with any mock
that ``serve`` can start. The pytest plugin (``pytest_diags_mock``) serves its ``diags_mock`` fixture
from a ``ServerPool`` of these servers, one per set of settings.

Before each test the fixture calls ``reset_all``: faults cleared, start-up data back, journal
emptied. A request that a test's client gave up on (an injected latency longer than its
time-out) is still running in the mock; ``reset_all`` first waits for it to be answered, so that it
neither writes into the next test's data nor shows up in its journal.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

HOST = "127.0.0.1"
# The mock's routes, as a client sees them (this module talks HTTP only, like a client).
API_PREFIX = "/api/v1"
ADMIN_PREFIX = "/__admin"
RESOURCE_PATH = API_PREFIX + "/inventory_device_diags/"
#: A test that sends more requests than this loses its oldest from ``requests`` and ``verify``.
JOURNAL_SIZE = 10_000
START_SECONDS = 60.0
STOP_SECONDS = 15.0
START_ATTEMPTS = 3
ADMIN_TIMEOUT_SECONDS = 60.0
#: How long ``reset_all`` waits, beyond the longest injected latency, for a request still running.
SETTLE_MARGIN_SECONDS = 5.0
TABLE_ROWS = 20
LOG_TAIL_CHARS = 3000
#: The settings a mark or ``running`` may give, each a ``serve`` option.
SETTINGS = ("seed", "devices", "diags", "fixtures", "helpers_config", "token")
ENV_PREFIX = "DIAGS_"


class MockError(RuntimeError):
    """The mock could not be started, or its admin API refused a request (the message says why)."""


class VerificationError(AssertionError):
    """``verify`` found another number of requests than expected; the message shows what the mock received."""

    def __init__(self, title: str, table: str) -> None:
        super().__init__(f"{title}\n{table}")
        self.title = title
        self.table = table


def path_matches(pattern: str | None, path: str) -> bool:
    """As the admin API matches faults: ``*`` is any path, a trailing ``*`` a prefix, the last slash moot."""
    if pattern is None or pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path.rstrip("/") == pattern.rstrip("/")


def _describe(method: str | None, status: int | None, path: str | None) -> str:
    scope = [f"method={method.upper()}" if method else "", f"path={path}" if path else "",
             f"status={status}" if status is not None else ""]
    shown = ", ".join(part for part in scope if part)
    return f"requests ({shown})" if shown else "requests"


def _expectation(count: int | range | None, at_least: int | None,
                 at_most: int | None) -> tuple[int, int | None]:
    """The smallest and largest count accepted (``None``: no upper bound)."""
    if count is not None and (at_least is not None or at_most is not None):
        raise TypeError("verify takes a count, or at_least/at_most, not both")
    if isinstance(count, range):
        if count.step != 1 or not count:
            raise ValueError(f"verify's range must be a non-empty range with step 1, not {count!r}")
        return count.start, count.stop - 1
    if count is not None:
        return count, count
    if at_least is None and at_most is None:
        return 1, None
    return at_least or 0, at_most


def _wanted(low: int, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    if low == high:
        return f"exactly {low}"
    return f"at most {high}" if low == 0 else f"{low} to {high}"


def format_table(entries: Sequence[Mapping[str, Any]], matching: Sequence[Mapping[str, Any]]) -> str:
    """What the mock received, oldest first, one line each; ``*`` marks the requests that matched."""
    if not entries:
        return "The mock received no request in this test."
    chosen = {id(entry) for entry in matching}
    shown = list(entries)[-TABLE_ROWS:]
    rows = [("", "method", "path", "query", "status", "faults")]
    for entry in shown:
        query = str(entry.get("query") or "")
        rows.append(("*" if id(entry) in chosen else "", str(entry["method"]), str(entry["path"]),
                     query if len(query) <= 40 else query[:39] + "…",
                     "dropped" if entry.get("status") is None else str(entry["status"]),
                     ",".join(entry.get("faults") or [])))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    earlier = len(entries) - len(shown)
    heading = f"The mock received {len(entries)} request(s) in this test, oldest first (* matched)"
    heading += f"; the {earlier} oldest not shown:" if earlier else ":"
    return "\n".join([heading, *("  " + line for line in lines)])


@dataclass
class DiagsMock:
    """A handle on one served mock: its URLs and token, and its admin API over HTTP."""

    port: int
    token: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    #: The latency faults added since the last ``reset_all``: id -> (times, longest latency in ms).
    _slow_faults: dict[str, tuple[int | None, int]] = field(default_factory=dict, repr=False)
    #: Their trigger counts when ``clear_faults`` removed them.
    _cleared_counts: dict[str, int] = field(default_factory=dict, repr=False)
    #: Their answered requests that ``clear_requests`` removed from the journal.
    _cleared_answers: Counter[str] = field(default_factory=Counter, repr=False)

    def __post_init__(self) -> None:
        self.session.trust_env = False  # loopback: no proxy from the environment may stand in between

    @property
    def url(self) -> str:
        """The server's root, ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base a client is configured with, ``http://127.0.0.1:PORT/api/v1``."""
        return self.url + API_PREFIX

    @property
    def admin_url(self) -> str:
        """The admin API, ``http://127.0.0.1:PORT/__admin``."""
        return self.url + ADMIN_PREFIX

    def _admin(self, method: str, route: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        try:
            answer = self.session.request(method, self.admin_url + route, json=body, params=params,
                                          timeout=ADMIN_TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise MockError(f"the mock's admin API did not answer {method} {route}: {error}"
                            f"{self._log_note()}") from None
        if answer.status_code >= 400:
            try:
                detail = answer.json()
            except ValueError:
                detail = answer.text[:500]
            raise MockError(f"{method} {ADMIN_PREFIX}{route} answered {answer.status_code}: {detail}")
        return answer.json()

    def _log_note(self) -> str:
        tail = self.log_tail()
        return f"\nThe mock's output ends with:\n{tail}" if tail else ""

    def log_tail(self) -> str:
        """The end of what the server wrote (its access log and errors), for a failing test's report."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]

    def state(self) -> dict[str, Any]:
        """``GET /__admin/state``: seed, device and diagnostic counts, faults, journal size."""
        found: dict[str, Any] = self._admin("GET", "/state")
        return found

    def reset(self, seed: int | None = None) -> dict[str, Any]:
        """Back to the start-up data, or to the data of ``seed``; faults and journal stay."""
        found: dict[str, Any] = self._admin("POST", "/reset", {} if seed is None else {"seed": seed})
        return found

    def add_devices(self, devices: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Add devices (each with ``id``, ``name`` and ``serial``; a known id is replaced)."""
        added: dict[str, Any] = self._admin("POST", "/devices", {"devices": [dict(item) for item in devices]})
        result: list[dict[str, Any]] = added["devices"]
        return result

    def fault(self, method: str = "*", path: str = "*", *, status: int | None = None,
              latency_ms: int | None = None, drop: bool | None = None, rate: float | None = None,
              times: int | None = None, **more: Any) -> str:
        """Inject a fault (the admin API's fields; ``more`` takes the others) and return its id."""
        definition = {"method": method, "path": path, "status": status, "latency_ms": latency_ms,
                      "drop": drop, "rate": rate, "times": times, **more}
        given = {name: value for name, value in definition.items() if value is not None}
        added: dict[str, Any] = self._admin("POST", "/faults", given)
        longest = max(int(added.get("latency_ms") or 0), int(added.get("latency_max_ms") or 0))
        if longest:
            self._slow_faults[added["id"]] = (added.get("times"), longest)
        fault_id: str = added["id"]
        return fault_id

    def faults(self) -> list[dict[str, Any]]:
        """The faults in force, with their ``matched`` and ``triggered`` counters."""
        listing: list[dict[str, Any]] = self._admin("GET", "/faults")["faults"]
        return listing

    def clear_faults(self) -> int:
        """Remove every fault; answers how many there were."""
        if self._slow_faults:
            self._cleared_counts.update({fault["id"]: int(fault["triggered"]) for fault in self.faults()
                                         if fault["id"] in self._slow_faults})
        deleted: int = self._admin("DELETE", "/faults")["deleted"]
        return deleted

    def requests(self, method: str | None = None, status: int | None = None,
                 path: str | None = None) -> list[dict[str, Any]]:
        """The journal entries since the last reset, newest last; ``path`` as in a fault (``*``, a prefix)."""
        params = {name: value for name, value in (("method", method), ("status", status))
                  if value is not None}
        newest_first: list[dict[str, Any]] = self._admin("GET", "/requests", params=params)["requests"]
        return [entry for entry in reversed(newest_first) if path_matches(path, entry["path"])]

    def clear_requests(self) -> int:
        """Empty the journal; answers how many entries it held."""
        if self._slow_faults:
            self._cleared_answers.update(self._answered_by_fault())
        deleted: int = self._admin("DELETE", "/requests")["deleted"]
        return deleted

    def verify(self, count: int | range | None = None, method: str | None = None, status: int | None = None,
               path: str | None = None, *, at_least: int | None = None,
               at_most: int | None = None) -> list[dict[str, Any]]:
        """Check how many requests matched; on a mismatch, fail with a table of what the mock received.

        ``count`` is an exact number or a ``range``; or give ``at_least`` and/or ``at_most``; with none of
        them, at least one. Answers the matching entries, newest last.
        """
        __tracebackhide__ = True
        low, high = _expectation(count, at_least, at_most)
        matching = self.requests(method, status, path)
        if low <= len(matching) and (high is None or len(matching) <= high):
            return matching
        received = self.requests()
        matched_ids = {entry["id"] for entry in matching}
        title = (f"Expected {_wanted(low, high)} {_describe(method, status, path)}, "
                 f"the mock received {len(matching)}.")
        raise VerificationError(title, format_table(received, [entry for entry in received
                                                                if entry["id"] in matched_ids]))

    def _settle(self) -> None:
        """Wait (bounded) until every request that an injected latency held has been answered."""
        if not self._slow_faults:
            return
        in_force = {fault["id"]: int(fault["triggered"]) for fault in self.faults()}
        expected: dict[str, int] = {}
        for fault_id, (times, _) in self._slow_faults.items():
            # A fault missing from the listing was cleared, or removed by the mock after `times` triggers.
            expected[fault_id] = in_force.get(fault_id, self._cleared_counts.get(fault_id, times or 0))
        longest = max(latency for _, latency in self._slow_faults.values())
        deadline = time.monotonic() + longest / 1000 + SETTLE_MARGIN_SECONDS
        while time.monotonic() < deadline:
            answered = self._answered_by_fault() + self._cleared_answers
            if all(answered[fault_id] >= wanted for fault_id, wanted in expected.items()):
                break
            time.sleep(0.05)
        self._slow_faults.clear()
        self._cleared_counts.clear()
        self._cleared_answers.clear()

    def _answered_by_fault(self) -> Counter[str]:
        return Counter(fault_id for entry in self.requests() for fault_id in entry.get("faults") or [])

    def reset_all(self) -> None:
        """What the fixture does before each test: no faults, the start-up data, an empty journal."""
        self._settle()
        self.clear_faults()
        self.reset()
        self.clear_requests()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it does not stop in time)."""
        self.session.close()
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_SECONDS)


def free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _file_option(value: Any, name: str, folder: Path, relative_to: Path | None) -> str:
    """A settings value as a file for ``serve``: a path as it is, or a mapping written as JSON."""
    if isinstance(value, Mapping):
        written = folder / f"{name}.json"
        written.write_text(json.dumps(value), encoding="utf-8")
        return str(written)
    path = Path(value)
    if not path.is_absolute() and relative_to is not None:
        path = relative_to / path
    return str(path.resolve())


def serve_command(port: int, token: str, folder: Path, settings: Mapping[str, Any],
                  relative_to: Path | None = None) -> list[str]:
    """``python -m mockserver serve`` with these settings on ``port``."""
    command = [sys.executable, "-m", "mockserver", "serve", "--host", HOST, "--port", str(port),
               "--token", token, "--journal-size", str(JOURNAL_SIZE)]
    for name in ("seed", "devices", "diags"):
        if settings.get(name) is not None:
            command += [f"--{name}", str(int(settings[name]))]
    for name in ("fixtures", "helpers_config"):
        if settings.get(name) is not None:
            option = f"--{name.replace('_', '-')}"
            command += [option, _file_option(settings[name], name, folder, relative_to)]
    return command


def _wait_until_answering(mock: DiagsMock, process: subprocess.Popen[bytes]) -> bool:
    """True once the admin API answers; False if the server exited first (its log says why)."""
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            if mock.session.get(mock.admin_url + "/health", timeout=2).ok:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.05)
    mock.stop()
    raise MockError(f"the mock did not answer within {START_SECONDS:.0f} s{mock._log_note()}")


def start(settings: Mapping[str, Any], folder: Path, relative_to: Path | None = None) -> DiagsMock:
    """Start a server with ``settings`` (see ``SETTINGS``), its output in ``folder``; ``stop`` stops it."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TypeError(f"unknown mock setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    token = str(settings.get("token") or f"test-{secrets.token_hex(8)}")
    # The server reads settings from the environment too: the developer's own must not leak into a test.
    environment = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    log_path = folder / "mock.log"
    for _attempt in range(START_ATTEMPTS):
        port = free_port()
        command = serve_command(port, token, folder, settings, relative_to)
        written_before = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("ab") as log:
            process = subprocess.Popen(command, env=environment, stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        mock = DiagsMock(port, token, process, log_path)
        if _wait_until_answering(mock, process):
            return mock
        mock.stop()
        this_attempt = log_path.read_bytes()[written_before:].decode("utf-8", "replace")
        if "already in use" not in this_attempt:  # else another process took the port: try another
            break
    raise MockError(f"the mock exited with code {process.returncode} before answering; "
                    f"command: {' '.join(command)}{mock._log_note()}")


@contextlib.contextmanager
def running(seed: int | None = None, devices: int | None = None, diags: int | None = None,
            fixtures: str | Path | Mapping[str, Any] | None = None,
            helpers_config: str | Path | Mapping[str, Any] | None = None,
            token: str | None = None) -> Iterator[DiagsMock]:
    """A mock served for the block: ``with running(seed=7) as mock: ...`` (for unittest and scripts).

    ``fixtures`` and ``helpers_config`` are files (relative to the working directory) or their
    contents as a mapping. The server stops when the block ends.
    """
    settings = {"seed": seed, "devices": devices, "diags": diags, "fixtures": fixtures,
                "helpers_config": helpers_config, "token": token}
    with tempfile.TemporaryDirectory(prefix="diags-mock-") as folder:
        mock = start({name: value for name, value in settings.items() if value is not None}, Path(folder))
        try:
            yield mock
        finally:
            mock.stop()


def settings_key(settings: Mapping[str, Any], relative_to: Path | None) -> str:
    """Equal for settings that start the same server (paths resolved, mappings compared by content)."""
    resolved = {name: (value if isinstance(value, Mapping | int) or value is None
                       else _file_option(value, name, Path("."), relative_to))
                for name, value in settings.items()}
    return json.dumps(resolved, sort_keys=True, default=str)


class ServerPool:
    """The servers of a test session, one per set of settings, started when first asked for."""

    def __init__(self) -> None:
        self._servers: dict[str, DiagsMock] = {}
        self._failures: dict[str, MockError] = {}
        self._folders = contextlib.ExitStack()

    def __enter__(self) -> ServerPool:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def get(self, settings: Mapping[str, Any], relative_to: Path | None = None) -> DiagsMock:
        """The server for ``settings`` (relative file names resolved against ``relative_to``)."""
        key = settings_key(settings, relative_to)
        if key in self._failures:  # one failed start is reported, not retried by every test
            raise self._failures[key]
        if key not in self._servers:
            folder = Path(self._folders.enter_context(tempfile.TemporaryDirectory(prefix="diags-mock-")))
            try:
                self._servers[key] = start(settings, folder, relative_to)
            except MockError as error:
                self._failures[key] = error
                raise
        return self._servers[key]

    def close(self) -> None:
        for mock in self._servers.values():
            mock.stop()
        self._servers.clear()
        self._folders.close()
