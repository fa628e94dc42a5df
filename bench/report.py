"""The benchmark's report: the machine, the tables in Markdown, and writing them into bench/README.md.

Only the text between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` is ever replaced; a
README without both markers is left untouched.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .measure import P99_TARGET_MS, Comparison, ratio_target
from .postgres import GENERATORS, PostgresResult, SplitRun
from .scale import BASE_DIAGS, COST_TARGET, store_lines

START_MARKER = "<!-- bench:start -->"
END_MARKER = "<!-- bench:end -->"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def generator_version(generator: str) -> str:
    if generator != "wrk":
        return "the Python generator (bench/load.py)"
    try:
        banner = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=5, check=False)
        return (banner.stdout or banner.stderr).split("[")[0].strip() or "wrk"
    except OSError:
        return "wrk"


def machine_line() -> str:
    """One line saying what ran the benchmark, and how busy the machine was."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gb():.0f} GB; {platform.system()}; "
        f"Python {platform.python_version()}, Flask {_version('flask')}, "
        f"granian {_version('granian')}, orjson {_version('orjson')}; load average at start {load}"
    )


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _range(low: float, high: float, digits: int = 0) -> str:
    return f"{low:,.{digits}f}-{high:,.{digits}f}"


def _cpu(value: float | None) -> str:
    return f"{value:,.0f}" if value is not None else "-"


def _cpu_ratio(value: float | None) -> str:
    return f"{value:.2f}" if value is not None else "-"


def comparison_table(comparisons: list[Comparison]) -> list[str]:
    """The main table: the mock against the bare app, workload by workload."""
    lines = [
        "| workload | mock req/s (range) | p50 ms | p99 ms | bare Flask req/s | ratio (range) "
        "| CPU µs/req mock, bare | CPU ratio | target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for row in comparisons:
        target = ratio_target(row.workload)
        met = row.ratio >= target and row.mock.p99_ms < P99_TARGET_MS and not row.mock.unexpected
        note = f" ({row.mock.unexpected} unexpected answers)" if row.mock.unexpected else ""
        lines.append(
            f"| {row.workload.name}{note} | {row.mock.rate:,.0f} ({_range(*row.mock.rate_range)}) "
            f"| {row.mock.p50_ms:.1f} | {row.mock.p99_ms:.1f} | {row.reference.rate:,.0f} "
            f"| {row.ratio:.2f} ({_range(*row.ratio_range, digits=2)}) "
            f"| {_cpu(row.mock.cpu_us)}, {_cpu(row.reference.cpu_us)} | {_cpu_ratio(row.cpu_ratio)} "
            f"| ≥ {target:.2f}, p99 < {P99_TARGET_MS:.0f} | {'yes' if met else 'no'} |"
        )
    return lines


def peer_table(peers: list[tuple[str, Comparison]]) -> list[str]:
    lines = ["| peer | peer req/s | mock req/s | mock / peer | target |", "|---|---:|---:|---:|---:|"]
    for name, row in peers:
        lines.append(f"| {name} | {row.reference.rate:,.0f} | {row.mock.rate:,.0f} | {row.ratio:.2f} | ≥ 2 |")
    return lines


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def _split_cells(runs: list[SplitRun]) -> tuple[float, str]:
    rates = [run.result.rate for run in runs] or [0.0]
    instances = [run.result.cpu_us for run in runs if run.result.cpu_us is not None]
    database = [run.database_cpu_us for run in runs if run.database_cpu_us is not None]
    unexpected = sum(run.result.unexpected for run in runs)
    note = f" ({unexpected:,} unexpected answers)" if unexpected else ""
    cells = (f"{median(rates):,.0f} ({_range(min(rates), max(rates))}){note} "
             f"| {median([run.result.p99_ms for run in runs]):.1f} | {median(instances):,.0f} "
             f"| {median(database):,.0f} | {median(instances) + median(database):,.0f}")
    return median(rates), cells


def postgres_lines(result: PostgresResult, connections: int) -> list[str]:
    """The PostgreSQL section: one instance against two on one database, and the million-record pages."""
    if result.unavailable:
        return [f"**PostgreSQL**: not measured: {result.unavailable}."]
    lines = [
        f"**PostgreSQL** {result.server_version} (`--db postgresql://...`), a throwaway cluster started by "
        "the benchmark on loopback, fsync off as in the tests (a commit waits for no disk flush, which "
        "flatters writes). One instance against two on one database: two generator processes of "
        f"{max(1, connections // GENERATORS)} connections each, both aimed at the one instance, or one at "
        "each of the two (the round-robin split of a load balancer); p99 is the larger of the two "
        "generators'.",
        "",
        "| workload | instances | req/s (range) | p99 ms | CPU µs/req, instances | CPU µs/req, PostgreSQL "
        "| CPU µs/req, together | req/s two / one |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result.instances:
        one_rate, one_cells = _split_cells(row.one)
        two_rate, two_cells = _split_cells(row.two)
        gain = f"{two_rate / one_rate:.2f}" if one_rate else "-"
        lines += [f"| {row.workload.name} | 1 | {one_cells} | |",
                  f"| {row.workload.name} | 2 | {two_cells} | {gain} |"]
    lines += [
        "",
        "How to read it: the generators, the instances and PostgreSQL all share this machine's cores, so "
        "throughput is bounded by those cores, not by the instances: two instances here cannot show what two "
        "machines would. CPU per request is the comparable figure: it is what a request costs wherever the "
        "instances run, and on machines of their own each instance spends its share on its own cores.",
    ]
    if result.pages is not None:
        run, diags = result.pages, result.diags
        lines += [
            "",
            f"Pages on PostgreSQL: {diags:,} diagnostics over {result.devices:,} devices against "
            f"{BASE_DIAGS:,} over {result.base_devices:,}, each in a database of its own; cost ratio as in "
            f"the scale table (target ≤ {COST_TARGET}).",
            "",
            f"| store | request | {BASE_DIAGS:,} req/s | {diags:,} req/s | cost ratio (range) "
            f"| CPU cost ratio | p99 ms at {diags:,} | met |",
            "|---|---|---:|---:|---:|---:|---:|:---:|",
            *store_lines(run, diags),
            "",
            f"Filling the database of {diags:,} (generating the records, then `COPY` into PostgreSQL, with "
            f"progress): first page answered {run.large_ready_s:.0f} s after launch; database "
            f"{run.database_mb or 0:,.0f} MB.",
        ]
    lines += ["", f"The PostgreSQL part took {result.seconds / 60:.1f} min."]
    return lines


def replace_between_markers(readme: Path, block: str) -> bool:
    """Put ``block`` between the markers of ``readme``; False (and no change) when they are absent."""
    try:
        text = readme.read_text(encoding="utf-8")
    except OSError:
        return False
    start = text.find(START_MARKER)
    end = text.find(END_MARKER, start + len(START_MARKER)) if start >= 0 else -1
    if start < 0 or end < 0:
        return False
    updated = text[: start + len(START_MARKER)] + "\n" + block.strip("\n") + "\n" + text[end:]
    readme.write_text(updated, encoding="utf-8")
    return True
