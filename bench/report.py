"""The benchmark's report: the machine, the tables in Markdown, and writing them into bench/README.md.

Only the text between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` is ever replaced; a
README without both markers is left untouched.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from .measure import P99_TARGET_MS, Comparison, ratio_target

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
