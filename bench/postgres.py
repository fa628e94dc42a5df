"""The PostgreSQL part of ``make bench``: instances sharing one database, and the million-record pages.

It starts a throwaway cluster of its own (``mockserver.throwaway_postgres``, as the tests do),
removed at the end, and measures two things:

- one mock instance against two on one database. The same two generator processes load both set-ups,
  each with half the connections: against one instance both aim at it, against two each aims at
  one (the round-robin split of a load balancer, done by the generators). Per run: throughput,
  the larger of the two generators' p99, and server CPU per request (the instances' summed, and
  PostgreSQL's apart). Generators, instances and PostgreSQL share the machine's cores.
- the first, filtered and deep pages at a million diagnostics against a thousand, each served from
  its own database (``bench.scale.measure_store``); the large one is filled with ``COPY``, its
  progress relayed from the server's log.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from mockserver.throwaway_postgres import INSTALL_HINT, Cluster, Unavailable, throwaway_cluster

from .load import Bounds, LoadResult, run_load
from .measure import Plan
from .probe import discover
from .scale import BASE_DIAGS, StoreRun, measure_store
from .servers import AUTH_HEADERS, HOST, Server, free_port, mock_command, tree_cpu_seconds
from .workloads import RESOURCE, Workload, list_call, post_call

#: Diagnostics of the pages run (ten per device, as the scale run).
POSTGRES_DIAGS = 1_000_000
RECORDS_PER_DEVICE = 10
#: Generator processes, each with half the connections and half the request cap.
GENERATORS = 2
READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class SplitRun:
    """One run over the generators: merged, and the CPU that the instances and PostgreSQL used."""

    result: LoadResult
    database_cpu_s: float

    @property
    def database_cpu_us(self) -> float | None:
        return self.database_cpu_s / self.result.requests * 1e6 if self.result.requests else None


@dataclass
class InstancesRow:
    """One workload against one instance and against two, run by run."""

    workload: Workload
    one: list[SplitRun] = field(default_factory=list)
    two: list[SplitRun] = field(default_factory=list)


@dataclass
class PostgresResult:
    """What the PostgreSQL part measured, or why it could not."""

    unavailable: str | None = None
    instances: list[InstancesRow] = field(default_factory=list)
    pages: StoreRun | None = None
    diags: int = 0
    devices: int = 0
    base_devices: int = 0
    seconds: float = 0.0
    server_version: str = ""


def merged(results: list[LoadResult]) -> LoadResult:
    """The runs of concurrent generators as one: summed counts, the longest time, the larger percentiles."""
    return LoadResult(
        requests=sum(result.requests for result in results),
        seconds=max(result.seconds for result in results),
        p50_ms=max(result.p50_ms for result in results),
        p99_ms=max(result.p99_ms for result in results),
        unexpected=sum(result.unexpected for result in results),
        capped=any(result.capped for result in results),
        generator=results[0].generator,
    )


def split_load(plan: Plan, ports: list[int], workload: Workload, bounds: Bounds,
               instances_cpu: Callable[[], float], database_cpu: Callable[[], float]) -> SplitRun:
    """``GENERATORS`` generators at once, the n-th aimed at ``ports[n % len(ports)]``."""
    share = Bounds(bounds.seconds, max(1, bounds.max_requests // GENERATORS),
                   max(1, bounds.connections // GENERATORS))
    targets = [ports[number % len(ports)] for number in range(GENERATORS)]
    before, database_before = instances_cpu(), database_cpu()
    with ThreadPoolExecutor(GENERATORS) as pool:
        results = list(pool.map(
            lambda port: run_load(plan.generator, HOST, port, workload, plan.headers, share), targets))
    result = replace(merged(results), server_cpu_s=instances_cpu() - before)
    return SplitRun(result, database_cpu() - database_before)


def _database_cpu(cluster: Cluster) -> Callable[[], float]:
    def seconds() -> float:
        pid = cluster.postmaster_pid()
        return tree_cpu_seconds(pid) if pid else 0.0

    return seconds


def _instance_workloads(port: int) -> list[Workload]:
    shape = discover(port)
    return [
        Workload("first page (20)", "read", (list_call(),)),
        Workload("POST (documented body)", "write", (post_call(),)),
        Workload("mix 90% reads / 10% writes", "mix", (
            list_call(weight=45), list_call(weight=45, id=shape.busy_device), post_call(weight=10))),
    ]


def measure_instances(plan: Plan, cluster: Cluster, threads: int, access_log: bool,
                      log_dir: Path) -> list[InstancesRow]:
    """Two instances on one new database: each workload through one of them, then through both."""
    url = cluster.create_database(f"instances_{secrets.token_hex(3)}")
    first_port, second_port = free_port(), free_port()
    first = Server("pg-instance-1", mock_command(first_port, threads, access_log, ["--db", url]), first_port,
                   log_dir)
    second = Server("pg-instance-2", mock_command(second_port, threads, access_log, ["--db", url]),
                    second_port, log_dir)
    with first, second:
        # The first fills the database; the second joins it once it is filled.
        first.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, READY_TIMEOUT)
        second.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, READY_TIMEOUT)

        def instances_cpu() -> float:
            return first.cpu_seconds() + second.cpu_seconds()

        database_cpu = _database_cpu(cluster)
        rows = []
        for workload in _instance_workloads(first_port):
            print(f"bench: postgresql, one and two instances, {workload.name}", file=sys.stderr, flush=True)
            row = InstancesRow(workload)
            for ports in ([first_port], [first_port, second_port]):
                split_load(plan, ports, workload, plan.warmup, instances_cpu, database_cpu)
            for _ in range(plan.repeat):
                row.one.append(split_load(plan, [first_port], workload, plan.bounds, instances_cpu,
                                          database_cpu))
                row.two.append(split_load(plan, [first_port, second_port], workload, plan.bounds,
                                          instances_cpu, database_cpu))
            rows.append(row)
    return rows


def _database_mb(url: str) -> float:
    import psycopg

    with psycopg.connect(url) as connection:
        size = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return float(size[0]) / 2**20 if size else 0.0


def measure_pages(plan: Plan, cluster: Cluster, diags: int, threads: int, access_log: bool,
                  log_dir: Path) -> tuple[StoreRun, int, int]:
    """The page costs at ``diags`` records against ``BASE_DIAGS``, each in a database of its own."""
    devices = max(1, diags // RECORDS_PER_DEVICE)
    base_devices = max(1, BASE_DIAGS // RECORDS_PER_DEVICE)
    large, small = (cluster.create_database(f"pages_{size}_{secrets.token_hex(3)}")
                    for size in (diags, BASE_DIAGS))
    run = measure_store(plan, "postgresql", (diags, devices, BASE_DIAGS, base_devices), threads, access_log,
                        log_dir, databases=(large, small))
    run.database_mb = _database_mb(large)
    return run, devices, base_devices


def run_postgres(plan: Plan, diags: int, threads: int, access_log: bool, log_dir: Path,
                 cluster: Cluster | None = None) -> PostgresResult:
    """The whole PostgreSQL part, on ``cluster`` or a throwaway one; ``diags`` 0 leaves the pages out."""
    started = time.perf_counter()
    result = PostgresResult(diags=diags)
    try:
        with ExitStack() as stack:
            if cluster is None:
                cluster = stack.enter_context(throwaway_cluster())
            result.server_version = _server_version(cluster)
            print(f"bench: postgresql {result.server_version}, a throwaway cluster on port {cluster.port}",
                  file=sys.stderr, flush=True)
            result.instances = measure_instances(plan, cluster, threads, access_log, log_dir)
            if diags:
                result.pages, result.devices, result.base_devices = measure_pages(
                    plan, cluster, diags, threads, access_log, log_dir)
    except Unavailable as why:
        result.unavailable = f"{why} ({INSTALL_HINT}, and pip install 'diags-kit[postgres]')"
        print(f"!!! bench: the PostgreSQL part was NOT measured: {result.unavailable} !!!", file=sys.stderr,
              flush=True)
    result.seconds = time.perf_counter() - started
    return result


def _server_version(cluster: Cluster) -> str:
    import psycopg

    with psycopg.connect(cluster.url()) as connection:
        found = connection.execute("SHOW server_version").fetchone()
    return str(found[0]).split()[0] if found else "?"
