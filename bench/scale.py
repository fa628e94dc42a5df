"""The scale run: a million diagnostics over 100,000 devices against 1,000 over 100.

Both data sets have ten records per device, so a filtered page holds as much in each. Measured:
the generation rate (with its progress on stderr), what ``MemoryStore.page`` costs in-process at
each size, the servers' resident memory, and the first, filtered and deep pages over HTTP, each
large-store run alternating with a small-store run.
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fixtures
from mockserver import store as store_module
from mockserver.store import MemoryStore

from .load import Bounds
from .measure import Comparison, compare
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
PAGE_CALLS = 2_000


@dataclass(frozen=True)
class StoreCosts:
    """What building a ``MemoryStore`` and reading pages from it cost, in-process."""

    build_s: float
    first_us: float
    filtered_us: float
    deep_us: float


def _progress(done: int, total: int) -> None:
    print(
        f"\rbench: generating {total:,} records: {done * 100 // max(total, 1)}%",
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
    fixture = fixtures.generate(SEED, devices, diags, progress=_progress)
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


def _data_options(diags: int, devices: int) -> list[str]:
    return ["--seed", str(SEED), "--devices", str(devices), "--diags", str(diags)]


def _sqlite_note() -> str:
    candidates = [name for name in dir(store_module) if "sqlite" in name.lower()]
    if not candidates:
        return "SQLite store: none exists yet, so only the in-memory store is measured."
    return f"SQLite store ({', '.join(candidates)}): present but not yet wired into this benchmark."


def run_scale(
    diags: int,
    devices: int,
    generator: str,
    threads: int,
    access_log: bool,
    bounds: Bounds,
    warmup: Bounds,
    repeat: int,
    log_dir: Path,
) -> list[str]:
    """The scale section of the report, as Markdown lines."""
    base_devices = max(1, round(BASE_DIAGS * devices / diags))
    rate, large_costs = generation(diags, devices)
    small_costs = store_costs(fixtures.generate(SEED, base_devices, BASE_DIAGS))
    large_port, small_port = free_port(), free_port()
    ready_timeout = 120 + diags / 5_000
    with (
        Server(
            "large",
            mock_command(large_port, threads, access_log, _data_options(diags, devices)),
            large_port,
            log_dir,
        ) as large,
        Server(
            "small",
            mock_command(small_port, threads, access_log, _data_options(BASE_DIAGS, base_devices)),
            small_port,
            log_dir,
        ) as small,
    ):
        print(f"bench: waiting for the server of {diags:,} records", file=sys.stderr, flush=True)
        large_ready = large.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, ready_timeout)
        small.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, ready_timeout)
        large_memory, small_memory = large.rss_mb(), small.rss_mb()
        rows = []
        for large_workload, small_workload in zip(
            _page_workloads(discover(large_port)), _page_workloads(discover(small_port)), strict=True
        ):
            print(f"bench: scale, {large_workload.name}", file=sys.stderr, flush=True)
            rows.append(
                compare(
                    generator,
                    large_workload,
                    small_workload,
                    large_port,
                    small_port,
                    AUTH_HEADERS,
                    bounds,
                    warmup,
                    repeat,
                )
            )
    return render_scale(
        diags,
        devices,
        base_devices,
        rate,
        large_costs,
        small_costs,
        rows,
        large_memory,
        small_memory,
        large_ready,
    )


def _yes(condition: bool) -> str:
    return "yes" if condition else "no"


def render_scale(
    diags: int,
    devices: int,
    base_devices: int,
    rate: float,
    large: StoreCosts,
    small: StoreCosts,
    rows: list[Comparison],
    large_memory: dict[str, float],
    small_memory: dict[str, float],
    large_ready: float,
) -> list[str]:
    lines = [
        f"**Scale**: {diags:,} diagnostics over {devices:,} devices against "
        f"{BASE_DIAGS:,} over {base_devices:,} "
        "(ten per device in both). Cost ratio = small-store req/s over large-store req/s.",
        "",
        f"| over HTTP | {BASE_DIAGS:,} req/s | {diags:,} req/s | cost ratio (range) | p99 ms at {diags:,} "
        "| target | met |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in rows:
        costs = [1 / ratio if ratio else float("inf") for ratio in row.ratios]
        cost = 1 / row.ratio if row.ratio else float("inf")
        lines.append(
            f"| {row.workload.name} | {row.reference.rate:,.0f} | {row.mock.rate:,.0f} | {cost:.2f} "
            f"({min(costs):.2f}-{max(costs):.2f}) | {row.mock.p99_ms:.1f} | ≤ {COST_TARGET} "
            f"| {_yes(cost <= COST_TARGET)} |"
        )
    first, deep = rows[0].mock.rate, rows[2].mock.rate
    deep_cost = first / deep if deep else float("inf")
    lines += [
        "",
        f"Deep page against first page at {diags:,} records, over HTTP: cost ratio {deep_cost:.2f} "
        f"(target: a page's worth of work, ≤ {COST_TARGET}): {_yes(deep_cost <= COST_TARGET)}.",
        "",
        f"| `MemoryStore.page`, in-process, µs per call | {BASE_DIAGS:,} | {diags:,} |",
        "|---|---:|---:|",
        f"| first page | {small.first_us:.1f} | {large.first_us:.1f} |",
        f"| filtered by device | {small.filtered_us:.1f} | {large.filtered_us:.1f} |",
        f"| deep page | {small.deep_us:.1f} | {large.deep_us:.1f} |",
        "",
        f"Generating {diags + devices:,} records: {rate:,.0f} records/s, with progress "
        f"(target ≥ {GENERATION_TARGET:,}): {_yes(rate >= GENERATION_TARGET)}. Building the store from them: "
        f"{large.build_s:.1f} s; the server answered its first page {large_ready:.0f} s after launch.",
        "",
        f"Server memory (resident) with {diags:,} records: worker {large_memory['worker']:,.0f} MB, "
        f"main process "
        f"{large_memory['main']:,.0f} MB; with {BASE_DIAGS:,}: worker {small_memory['worker']:,.0f} MB. "
        f"Worker under {MEMORY_TARGET_MB:,} MB: {_yes(large_memory['worker'] < MEMORY_TARGET_MB)}.",
        "",
        _sqlite_note(),
    ]
    return lines
