"""Measuring a workload: warm-up, then repeated runs alternating between the mock and its yardstick.

Alternating keeps slow drifts of a shared machine out of the ratio: each repeat's ratio compares
two runs made seconds apart, and the report gives the median and the range of those ratios.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field

from .load import Bounds, LoadResult, run_load
from .servers import HOST
from .workloads import Call, Workload

READ_TARGET = 0.70
WRITE_TARGET = 0.50
P99_TARGET_MS = 20.0


def is_write(call: Call) -> bool:
    """A POST, or a GET that refreshes and stores (``update_status=true``)."""
    return call.method != "GET" or "update_status=true" in call.target


def ratio_target(workload: Workload) -> float:
    """The share of the bare app's throughput the workload must reach, weighted over its calls."""
    total = sum(call.weight for call in workload.calls)
    return (
        sum(call.weight * (WRITE_TARGET if is_write(call) else READ_TARGET) for call in workload.calls)
        / total
    )


@dataclass
class Series:
    """Repeated runs of one workload against one server."""

    runs: list[LoadResult] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(run.rate for run in self.runs) if self.runs else 0.0

    @property
    def rate_range(self) -> tuple[float, float]:
        rates = [run.rate for run in self.runs] or [0.0]
        return min(rates), max(rates)

    @property
    def p50_ms(self) -> float:
        return statistics.median(run.p50_ms for run in self.runs) if self.runs else 0.0

    @property
    def p99_ms(self) -> float:
        return statistics.median(run.p99_ms for run in self.runs) if self.runs else 0.0

    @property
    def unexpected(self) -> int:
        return sum(run.unexpected for run in self.runs)

    @property
    def capped(self) -> bool:
        return any(run.capped for run in self.runs)


@dataclass
class Comparison:
    """A workload measured against the mock and against a reference server (the bare app or a peer)."""

    workload: Workload
    mock: Series = field(default_factory=Series)
    reference: Series = field(default_factory=Series)

    @property
    def ratios(self) -> list[float]:
        return [
            mine.rate / theirs.rate if theirs.rate else 0.0
            for mine, theirs in zip(self.mock.runs, self.reference.runs, strict=True)
        ]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios) if self.ratios else 0.0

    @property
    def ratio_range(self) -> tuple[float, float]:
        ratios = self.ratios or [0.0]
        return min(ratios), max(ratios)


def compare(
    generator: str,
    workload: Workload,
    reference_workload: Workload,
    mock_port: int,
    reference_port: int,
    headers: Mapping[str, str],
    bounds: Bounds,
    warmup: Bounds,
    repeat: int,
) -> Comparison:
    """Warm both servers up, then ``repeat`` pairs of runs, mock first then reference."""
    run_load(generator, HOST, mock_port, workload, headers, warmup)
    run_load(generator, HOST, reference_port, reference_workload, headers, warmup)
    comparison = Comparison(workload)
    for _ in range(repeat):
        comparison.mock.runs.append(run_load(generator, HOST, mock_port, workload, headers, bounds))
        comparison.reference.runs.append(
            run_load(generator, HOST, reference_port, reference_workload, headers, bounds)
        )
    return comparison
