"""Slow clients: the first page's latency for everyone else while clients stall mid-body and mid-head.

The mock is started as ``make serve`` starts it. Each measured run opens ``stalled`` connections that
send a POST's head and part of its body, and as many that send part of a request head, then loads the
first page with the benchmark's generator and closes them; runs without them alternate, as the
reference. A run is shorter than the body time-out (10 s), so no stalled body is answered during it.
"""

from __future__ import annotations

import socket
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from .load import LoadResult, run_load
from .measure import Plan
from .servers import AUTH_HEADERS, HOST, Server, free_port, mock_command
from .workloads import RESOURCE, Workload, list_call

STALLED = 32
P99_TARGET_MS = 100.0
READY_TIMEOUT = 120.0
#: The longest run: the mock answers a stalled body with a 408 after 10 s.
MAX_RUN_SECONDS = 8.0


@contextmanager
def stalled_clients(port: int, count: int) -> Iterator[None]:
    """``count`` connections stalled mid-body and ``count`` mid-head, closed when the block ends."""
    head = (f"POST {RESOURCE} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: {AUTH_HEADERS['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n").encode()
    clients: list[socket.socket] = []
    try:
        for _ in range(count):
            clients.append(socket.create_connection((HOST, port), timeout=5))
            clients[-1].sendall(head + b'{"device_id": ')
        for _ in range(count):
            clients.append(socket.create_connection((HOST, port), timeout=5))
            clients[-1].sendall(f"GET {RESOURCE} HTTP/1.1\r\nHost: {HOST}\r\nAuthoriz".encode())
        yield
    finally:
        for client in clients:
            client.close()


def measure(plan: Plan, threads: int, access_log: bool, log_dir: Path, stalled: int = STALLED) -> list[str]:
    """Report lines: the first page's p99 and rate with and without the stalled clients."""
    bounds = replace(plan.bounds, seconds=min(plan.bounds.seconds, MAX_RUN_SECONDS))
    workload = Workload("first page (20)", "read", (list_call(),))
    port = free_port()
    with_stalled: list[LoadResult] = []
    without: list[LoadResult] = []
    print(f"bench: slow clients ({stalled} mid-body, {stalled} mid-head)", file=sys.stderr, flush=True)
    with Server("slow-clients", mock_command(port, threads, access_log), port, log_dir) as mock:
        mock.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, READY_TIMEOUT)
        run_load(plan.generator, HOST, port, workload, plan.headers, plan.warmup)
        for _ in range(plan.repeat):
            with stalled_clients(port, stalled):
                with_stalled.append(run_load(plan.generator, HOST, port, workload, plan.headers, bounds))
            without.append(run_load(plan.generator, HOST, port, workload, plan.headers, bounds))
    return render(with_stalled, without, stalled, plan.bounds.connections)


def render(
    with_stalled: list[LoadResult], without: list[LoadResult], stalled: int, connections: int
) -> list[str]:
    def p99(runs: list[LoadResult]) -> str:
        values = [run.p99_ms for run in runs]
        return f"{statistics.median(values):.1f} ms ({min(values):.1f}-{max(values):.1f})"

    def rate(runs: list[LoadResult]) -> str:
        return f"{statistics.median(run.rate for run in runs):,.0f} req/s"

    worst = max(run.p99_ms for run in with_stalled)
    failed = sum(run.unexpected for run in with_stalled)
    met = "yes" if worst <= P99_TARGET_MS and not failed else "no"
    return [
        f"**Slow clients**: with {stalled} clients stalled mid-body and {stalled} mid-head, the first page "
        f"at {connections} connections answers with a p99 of {p99(with_stalled)}, {rate(with_stalled)}; "
        f"without them, {p99(without)}, {rate(without)}. Unexpected answers with them: {failed}. "
        f"Target p99 ≤ {P99_TARGET_MS:.0f} ms in every run: {met}."
    ]
