"""The scale run: a million diagnostics over 100,000 devices against 1,000 over 100, per store.

Both data sets have ten records per device, so a filtered page holds as much in each. Measured:
the generation rate (with its progress on stderr), what ``MemoryStore.page`` costs in-process at
each size, and for each store (in memory, and SQLite with ``--db``) the servers' resident memory
and the first, filtered and deep pages over HTTP, each large-store run alternating with a
small-store run of the same store. The servers keep their generated data in a cache folder of the
run's own (``--cache-dir``), never the user's: the in-memory store's first start writes it, and a
second start, timed to its first page, loads it.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fixtures
from mockserver.serving.prepare import SNAPSHOT_MIN_DIAGS
from mockserver.storage.memory import MemoryStore

from .measure import Comparison, Plan, Series, compare
from .probe import discover
from .servers import AUTH_HEADERS, Server, free_port, mock_command
from .workloads import PAGE, RESOURCE, DataShape, Workload, list_call

SCALE_DIAGS = 1_000_000
SCALE_DEVICES = 100_000
BASE_DIAGS = 1_000
SEED = fixtures.DEFAULT_SEED
GENERATION_TARGET = 20_000
COST_TARGET = 1.5
MEMORY_TARGET_MB = 2048
#: Seconds from launch to the first page for a second start of the same data, from the cache.
CACHED_START_TARGET_S = 5.0
PAGE_CALLS = 2_000
STORES = ("memory", "sqlite")


@dataclass(frozen=True)
class StoreCosts:
    """What building a ``MemoryStore`` and reading pages from it cost, in-process."""

    build_s: float
    first_us: float
    filtered_us: float
    deep_us: float


@dataclass
class StoreRun:
    """One store served with the large and the small data set, and loaded."""

    store: str
    rows: list[Comparison]
    large_memory: dict[str, float]
    small_memory: dict[str, float]
    large_ready_s: float
    database_mb: float | None
    #: The large server's second start, with the data the first one left: seconds to its first page.
    second_ready_s: float | None = None


@dataclass
class ScaleResult:
    """Everything the scale run measured."""

    diags: int
    devices: int
    base_devices: int
    generation_rate: float
    large_costs: StoreCosts
    small_costs: StoreCosts
    stores: list[StoreRun]


class _Progress:
    """Prints the generation's progress on one line, once per whole percent."""

    def __init__(self) -> None:
        self.shown = -1

    def __call__(self, done: int, total: int) -> None:
        percent = done * 100 // max(total, 1)
        if percent != self.shown:
            self.shown = percent
            print(
                f"\rbench: generating {total:,} records: {percent}%",
                end="" if done < total else "\n",
                file=sys.stderr,
                flush=True,
            )


def _per_call_us(action: Any) -> float:
    started = time.perf_counter()
    for _ in range(PAGE_CALLS):
        action()
    return (time.perf_counter() - started) / PAGE_CALLS * 1e6


def store_costs(fixture: dict[str, Any]) -> StoreCosts:
    started = time.perf_counter()
    store = MemoryStore(fixture)
    build = time.perf_counter() - started
    count = len(fixture["diagnostics"])
    device = fixture["diagnostics"][0]["device_id"]
    return StoreCosts(
        build_s=build,
        first_us=_per_call_us(lambda: store.page(None, 0, PAGE)),
        filtered_us=_per_call_us(lambda: store.page(device, 0, PAGE)),
        deep_us=_per_call_us(lambda: store.page(None, max(count - PAGE, 0), PAGE)),
    )


def generation(diags: int, devices: int) -> tuple[float, StoreCosts]:
    """Generate the large fixture (progress on stderr): records per second, and its store's costs."""
    started = time.perf_counter()
    fixture = fixtures.generate(SEED, devices, diags, progress=_Progress())
    rate = (devices + diags) / (time.perf_counter() - started)
    costs = store_costs(fixture)
    del fixture
    gc.collect()
    return rate, costs


def _page_workloads(shape: DataShape) -> list[Workload]:
    return [
        Workload("first page", "read", (list_call(),)),
        Workload("filtered by device", "read", (list_call(id=shape.busy_device),)),
        Workload("deep page", "read", (list_call(offset=max(shape.count - PAGE, 0)),)),
    ]


def _server_options(store: str, diags: int, devices: int, log_dir: Path, database: str | None) -> list[str]:
    options = ["--seed", str(SEED), "--devices", str(devices), "--diags", str(diags),
               "--cache-dir", str(log_dir / "cache")]
    if database is not None:
        options += ["--db", database]
    elif store == "sqlite":
        options += ["--db", str(log_dir / f"scale-{diags}.db")]
    return options


def measure_store(
    plan: Plan, store: str, sizes: tuple[int, int, int, int], threads: int, access_log: bool, log_dir: Path,
    databases: tuple[str, str] | None = None,
) -> StoreRun:
    """Serve ``store`` with the large and the small data (``diags, devices`` each) and load both.

    ``databases`` are the ``--db`` values of the large and the small server (PostgreSQL URLs).
    """
    diags, devices, base_diags, base_devices = sizes
    large_db, small_db = databases or (None, None)
    large_port, small_port = free_port(), free_port()
    large_command = mock_command(
        large_port, threads, access_log, _server_options(store, diags, devices, log_dir, large_db)
    )
    small_command = mock_command(
        small_port, threads, access_log, _server_options(store, base_diags, base_devices, log_dir, small_db)
    )
    ready_timeout = 120 + diags / 2_000
    with (
        Server(f"large-{store}", large_command, large_port, log_dir) as large,
        Server(f"small-{store}", small_command, small_port, log_dir) as small,
    ):
        print(f"bench: waiting for the {store} server of {diags:,} records", file=sys.stderr, flush=True)
        large_ready = large.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, ready_timeout,
                                       relay=databases is not None)
        small.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, ready_timeout)
        large_memory, small_memory = large.memory_mb(), small.memory_mb()
        rows = []
        pairs = zip(_page_workloads(discover(large_port)), _page_workloads(discover(small_port)), strict=True)
        for large_workload, small_workload in pairs:
            print(f"bench: scale, {store}, {large_workload.name}", file=sys.stderr, flush=True)
            rows.append(
                compare(
                    plan,
                    large_workload,
                    large_port,
                    small_workload,
                    small_port,
                    large.cpu_seconds,
                    small.cpu_seconds,
                )
            )
    database = log_dir / f"scale-{diags}.db"
    database_mb = database.stat().st_size / 2**20 if store == "sqlite" and database.exists() else None
    print(f"bench: starting the {store} server of {diags:,} records again", file=sys.stderr, flush=True)
    second_port = free_port()
    second_command = mock_command(
        second_port, threads, access_log, _server_options(store, diags, devices, log_dir, large_db)
    )
    with Server(f"large-{store}-again", second_command, second_port, log_dir) as again:
        second_ready = again.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, ready_timeout)
    return StoreRun(store, rows, large_memory, small_memory, large_ready, database_mb, second_ready)


def run_scale(
    plan: Plan,
    diags: int,
    devices: int,
    threads: int,
    access_log: bool,
    log_dir: Path,
    stores: tuple[str, ...] = STORES,
) -> list[str]:
    """The scale section of the report, as Markdown lines."""
    base_devices = max(1, round(BASE_DIAGS * devices / diags))
    rate, large_costs = generation(diags, devices)
    small_costs = store_costs(fixtures.generate(SEED, base_devices, BASE_DIAGS))
    sizes = (diags, devices, BASE_DIAGS, base_devices)
    runs = [measure_store(plan, store, sizes, threads, access_log, log_dir) for store in stores]
    return render_scale(ScaleResult(diags, devices, base_devices, rate, large_costs, small_costs, runs))


def _yes(condition: bool) -> str:
    return "yes" if condition else "no"


def _cost(ratio: float | None) -> float:
    return 1 / ratio if ratio else float("inf")


def _rate_cell(series: Series) -> str:
    text = f"{series.rate:,.0f}"
    if series.unexpected:
        text += f" ({series.unexpected:,} failed or late)"
    return text


def store_lines(run: StoreRun, diags: int) -> list[str]:
    lines = []
    for row in run.rows:
        if not row.mock.rate:
            lines.append(
                f"| {run.store} | {row.workload.name} | {_rate_cell(row.reference)} "
                f"| {_rate_cell(row.mock)} | no answer within the run | | | no |"
            )
            continue
        costs = [_cost(ratio) for ratio in row.ratios]
        cost = _cost(row.ratio)
        lines.append(
            f"| {run.store} | {row.workload.name} | {_rate_cell(row.reference)} | {_rate_cell(row.mock)} "
            f"| {cost:.2f} ({min(costs):.2f}-{max(costs):.2f}) | {_cost(row.cpu_ratio):.2f} "
            f"| {row.mock.p99_ms:.1f} | {_yes(cost <= COST_TARGET)} |"
        )
    first, deep = run.rows[0].mock, run.rows[2].mock
    if not deep.rate:
        return lines
    deep_cost = first.rate / deep.rate
    cpu = ""
    if first.cpu_us and deep.cpu_us:
        cpu = f"; server CPU {deep.cpu_us:,.0f} against {first.cpu_us:,.0f} µs per request"
    lines.append(
        f"| {run.store} | deep page against first page, at {diags:,} | | | {deep_cost:.2f}{cpu} | | "
        f"| {_yes(deep_cost <= COST_TARGET)} |"
    )
    return lines


def _memory_line(run: StoreRun, diags: int) -> str:
    total, worker, resident = (run.large_memory[key] for key in ("total", "worker", "worker_rss"))
    database = f"; database file {run.database_mb:,.0f} MB" if run.database_mb is not None else ""
    return (
        f"- {run.store}: with {diags:,} records the server holds {total:,.0f} MB (main process and worker, "
        f"shared pages counted once; with {BASE_DIAGS:,} records: {run.small_memory['total']:,.0f} MB); "
        f"the worker alone {worker:,.0f} MB, resident {resident:,.0f} MB{database}; first page answered "
        f"{run.large_ready_s:.1f} s after launch{_second_start(run, diags)}. "
        f"Under {MEMORY_TARGET_MB:,} MB: {_yes(total < MEMORY_TARGET_MB)}."
    )


def _second_start(run: StoreRun, diags: int) -> str:
    if run.second_ready_s is None:
        return ""
    if run.store != "memory":
        filled = "file" if run.store == "sqlite" else "database"
        return f", and {run.second_ready_s:.1f} s after a second launch on the filled {filled}"
    if diags < SNAPSHOT_MIN_DIAGS:
        return f", and {run.second_ready_s:.1f} s after a second launch (data this small is not cached)"
    met = _yes(run.second_ready_s <= CACHED_START_TARGET_S)
    return (f", and {run.second_ready_s:.1f} s after a second launch, from the cache the first one wrote "
            f"(target ≤ {CACHED_START_TARGET_S:g} s: {met})")


def render_scale(result: ScaleResult) -> list[str]:
    diags, small, large = result.diags, result.small_costs, result.large_costs
    lines = [
        f"**Scale**: {diags:,} diagnostics over {result.devices:,} devices against {BASE_DIAGS:,} over "
        f"{result.base_devices:,} (ten per device in both). Cost ratio: the small data's req/s over the "
        f"large data's (CPU: the same with server CPU per request); target ≤ {COST_TARGET}.",
        "",
        f"| store | request | {BASE_DIAGS:,} req/s | {diags:,} req/s | cost ratio (range) | CPU cost ratio "
        f"| p99 ms at {diags:,} | met |",
        "|---|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for run in result.stores:
        lines += store_lines(run, diags)
    rate = result.generation_rate
    lines += [
        "",
        f"| `MemoryStore.page`, in-process, µs per call | {BASE_DIAGS:,} | {diags:,} |",
        "|---|---:|---:|",
        f"| first page | {small.first_us:.1f} | {large.first_us:.1f} |",
        f"| filtered by device | {small.filtered_us:.1f} | {large.filtered_us:.1f} |",
        f"| deep page | {small.deep_us:.1f} | {large.deep_us:.1f} |",
        "",
        f"Generating {diags + result.devices:,} records: {rate:,.0f} records/s, with progress "
        f"(target ≥ {GENERATION_TARGET:,}): {_yes(rate >= GENERATION_TARGET)}. Building a `MemoryStore` "
        f"of them: {large.build_s:.1f} s. Server memory:",
        "",
        *(_memory_line(run, diags) for run in result.stores),
    ]
    return lines
