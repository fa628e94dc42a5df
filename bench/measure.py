"""Measuring a workload: warm-up, then repeated runs alternating between the mock and its yardstick.

Alternating keeps slow drifts of a shared machine out of the ratio: each repeat's ratio compares
two runs made seconds apart, and the report gives the median and the range of those ratios.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

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
    def cpu_us(self) -> float | None:
        """Median server CPU microseconds per request, if the server's processes were watched."""
        values = [run.cpu_us for run in self.runs if run.cpu_us is not None]
        return statistics.median(values) if values else None

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

    @property
    def cpu_ratio(self) -> float | None:
        """The reference's CPU per request over the mock's: the throughput ratio of a CPU-bound server."""
        mine, theirs = self.mock.cpu_us, self.reference.cpu_us
        return theirs / mine if mine and theirs else None


CpuClock = Callable[[], float]


@dataclass(frozen=True)
class Plan:
    """How every measurement of a benchmark run is made."""

    generator: str
    bounds: Bounds
    warmup: Bounds
    repeat: int
    headers: Mapping[str, str]


def _measured(plan: Plan, port: int, workload: Workload, bounds: Bounds, cpu: CpuClock | None) -> LoadResult:
    before = cpu() if cpu else 0.0
    result = run_load(plan.generator, HOST, port, workload, plan.headers, bounds)
    return replace(result, server_cpu_s=cpu() - before) if cpu else result


def compare(plan: Plan, workload: Workload, mock_port: int, reference: Workload, reference_port: int,
            mock_cpu: CpuClock | None = None, reference_cpu: CpuClock | None = None) -> Comparison:
    """Warm both servers up, then ``plan.repeat`` pairs of runs, mock first then reference.

    ``mock_cpu`` and ``reference_cpu`` read a server's CPU seconds so far, when its processes are ours.
    """
    _measured(plan, mock_port, workload, plan.warmup, None)
    _measured(plan, reference_port, reference, plan.warmup, None)
    comparison = Comparison(workload)
    for _ in range(plan.repeat):
        comparison.mock.runs.append(_measured(plan, mock_port, workload, plan.bounds, mock_cpu))
        comparison.reference.runs.append(
            _measured(plan, reference_port, reference, plan.bounds, reference_cpu))
    return comparison
