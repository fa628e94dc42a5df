"""Load generation, bounded in time and in count, against loopback only.

``run_load`` drives wrk when it is installed and the Python generator of this module otherwise;
both return a ``LoadResult``. The Python generator keeps ``connections`` keep-alive HTTP/1.1
connections busy from one asyncio loop. It is slower than wrk, and a slow generator makes every
server look alike, so ratios measured with it understate the gaps (the report names the generator).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass

from .workloads import Call, Workload

#: A connection that waits longer than this for an answer gives up.
REQUEST_TIMEOUT = 5.0
LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class LoadResult:
    """What one bounded run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    unexpected: int
    capped: bool
    generator: str
    #: CPU seconds the server used during the run, when its processes are known.
    server_cpu_s: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us(self) -> float | None:
        """Server CPU microseconds per answered request."""
        if self.server_cpu_s is None or not self.requests:
            return None
        return self.server_cpu_s / self.requests * 1e6


@dataclass(frozen=True)
class Bounds:
    """How long and how much one run may load a server."""

    seconds: float
    max_requests: int
    connections: int


def require_loopback(host: str) -> None:
    """Refuse any target but this machine's loopback."""
    if host in LOOPBACK_NAMES:
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the benchmark only loads loopback addresses, not {host!r}")


def wire_request(call: Call, host: str, port: int, headers: Mapping[str, str]) -> bytes:
    """``call`` as the bytes of an HTTP/1.1 keep-alive request."""
    lines = [f"{call.method} {call.target} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if call.body or call.method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(call.body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + call.body


def percentile(sorted_values: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[rank]


class _Tally:
    def __init__(self, max_requests: int) -> None:
        self.left = max_requests
        self.latencies: list[float] = []
        self.unexpected = 0
        self.capped = False

    def take(self) -> bool:
        if self.left <= 0:
            self.capped = True
            return False
        self.left -= 1
        return True


async def _read_answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status


async def _connection(
    host: str,
    port: int,
    choices: list[tuple[bytes, tuple[int, ...]]],
    weights: list[int],
    deadline: float,
    tally: _Tally,
    rng: random.Random,
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        tally.unexpected += 1
        return
    try:
        while time.perf_counter() < deadline and tally.take():
            raw, expected = rng.choices(choices, weights)[0] if len(choices) > 1 else choices[0]
            started = time.perf_counter()
            writer.write(raw)
            status = await _read_answer(reader)
            tally.latencies.append(time.perf_counter() - started)
            if status not in expected:
                tally.unexpected += 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        tally.unexpected += 1
    finally:
        writer.close()


async def _python_load(
    host: str, port: int, workload: Workload, headers: Mapping[str, str], bounds: Bounds
) -> LoadResult:
    choices = [(wire_request(call, host, port, headers), call.expected) for call in workload.calls]
    weights = [call.weight for call in workload.calls]
    tally = _Tally(bounds.max_requests)
    started = time.perf_counter()
    deadline = started + bounds.seconds
    tasks = [
        asyncio.create_task(_connection(host, port, choices, weights, deadline, tally, random.Random(number)))
        for number in range(bounds.connections)
    ]
    _done, late = await asyncio.wait(tasks, timeout=bounds.seconds + REQUEST_TIMEOUT)
    for task in late:
        task.cancel()
        tally.unexpected += 1
    elapsed = time.perf_counter() - started
    latencies = sorted(tally.latencies)
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        unexpected=tally.unexpected,
        capped=tally.capped,
        generator="python",
    )


def python_load(
    host: str, port: int, workload: Workload, headers: Mapping[str, str], bounds: Bounds
) -> LoadResult:
    """Load ``host:port`` with ``workload`` from this process, within ``bounds``."""
    require_loopback(host)
    return asyncio.run(_python_load(host, port, workload, headers, bounds))


def pick_generator(wanted: str) -> str:
    """``wrk`` or ``python``: ``auto`` takes wrk when it is on the PATH."""
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if wanted == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (see bench/README.md), or use --generator python")
    return wanted


def run_load(
    generator: str, host: str, port: int, workload: Workload, headers: Mapping[str, str], bounds: Bounds
) -> LoadResult:
    """One bounded run of ``workload`` against ``host:port`` with the chosen generator."""
    require_loopback(host)
    if generator == "wrk":
        from .wrk import wrk_load

        return wrk_load(host, port, workload, headers, bounds)
    return python_load(host, port, workload, headers, bounds)
