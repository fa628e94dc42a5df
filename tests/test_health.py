"""Tests of ``fixtures.health``: the assessment of health-check readings on its boundaries, and the
samplers the generator draws readings from."""

from __future__ import annotations

import ast
import dataclasses
import random
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fixtures import health
from fixtures.health import CHECK_INTERVAL, Thresholds, assess, sample_connectivity, sample_resources

HEALTHY = {"cpu_usage": 20, "memory_usage": 40, "disk_space": 60, "network_connectivity": "good"}
DISK_LOW = "Low disk space detected"


def readings(**changes: Any) -> dict[str, Any]:
    return {**HEALTHY, **changes}


@pytest.fixture
def seeded_rng() -> random.Random:
    return random.Random(20240115)


def test_the_documented_example_is_a_medium_low_disk_warning() -> None:
    details = {
        "cpu_usage": 45,
        "memory_usage": 78,
        "disk_space": 23,
        "network_connectivity": "good",
        "last_ping": "2024-01-15T14:25:00Z",
    }
    assert assess(details) == ("warning", [{"severity": "medium", "message": DISK_LOW, "code": "DISK_LOW"}])


def test_healthy_readings_are_ok() -> None:
    assert assess(HEALTHY) == ("ok", [])


@pytest.mark.parametrize(
    ("free", "severity"),
    [
        (25, None),
        (24.9, "medium"),
        (10.1, "medium"),
        (10, "high"),
        (5.1, "high"),
        (5, "critical"),
        (0, "critical"),
    ],
)
def test_low_disk_severity_grows_with_the_margin(free: float, severity: str | None) -> None:
    _, issues = assess(readings(disk_space=free))
    expected = [] if severity is None else [{"severity": severity, "message": DISK_LOW, "code": "DISK_LOW"}]
    assert issues == expected


@pytest.mark.parametrize(
    ("key", "code", "message"),
    [("cpu_usage", "CPU_HIGH", "High CPU usage"), ("memory_usage", "MEMORY_HIGH", "High memory usage")],
)
@pytest.mark.parametrize(
    ("usage", "severity"), [(90, None), (90.1, "medium"), (97.9, "medium"), (98, "high"), (100, "high")]
)
def test_high_usage_is_medium_then_high(
    key: str, code: str, message: str, usage: float, severity: str | None
) -> None:
    _, issues = assess(readings(**{key: usage}))
    expected = [] if severity is None else [{"severity": severity, "message": message, "code": code}]
    assert issues == expected


@pytest.mark.parametrize(
    ("connectivity", "status", "codes"),
    [
        ("good", "ok", []),
        ("degraded", "warning", ["NETWORK_DEGRADED"]),
        ("offline", "critical", ["NETWORK_DOWN"]),
    ],
)
def test_connectivity(connectivity: str, status: str, codes: list[str]) -> None:
    found_status, issues = assess(readings(network_connectivity=connectivity))
    assert found_status == status
    assert [issue["code"] for issue in issues] == codes
    assert [issue["severity"] for issue in issues] == {
        "ok": [],
        "warning": ["low"],
        "critical": ["critical"],
    }[status]


@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"disk_space": 23, "network_connectivity": "degraded"}, "warning"),
        ({"network_connectivity": "degraded", "cpu_usage": 99}, "critical"),
        ({"memory_usage": 91, "cpu_usage": 91}, "warning"),
        ({"disk_space": 9}, "critical"),
    ],
)
def test_status_follows_the_worst_issue(changes: dict[str, Any], status: str) -> None:
    assert assess(readings(**changes))[0] == status


def test_issues_come_in_a_fixed_order() -> None:
    details = {"network_connectivity": "offline", "memory_usage": 95, "cpu_usage": 95, "disk_space": 1}
    _, issues = assess(details)
    assert [issue["code"] for issue in issues] == ["DISK_LOW", "CPU_HIGH", "MEMORY_HIGH", "NETWORK_DOWN"]
    assert all(list(issue) == ["severity", "message", "code"] for issue in issues)


@pytest.mark.parametrize(
    "details",
    [
        {},
        {"network_connectivity": "good"},
        {"disk_space": "3", "cpu_usage": None, "memory_usage": True},
        {"cpu_usage": [99], "network_connectivity": 0},
    ],
)
def test_missing_or_non_numeric_readings_are_not_assessed(details: dict[str, Any]) -> None:
    assert assess(details) == ("ok", [])


def test_thresholds_can_be_tightened() -> None:
    strict = Thresholds(disk_low_percent=50, cpu_high_percent=50, memory_high_percent=70)
    status, issues = assess({"disk_space": 30, "cpu_usage": 60, "memory_usage": 71}, strict)
    assert status == "critical"
    assert [(issue["code"], issue["severity"]) for issue in issues] == [
        ("DISK_LOW", "critical"),
        ("CPU_HIGH", "medium"),
        ("MEMORY_HIGH", "medium"),
    ]
    assert assess({"disk_space": 30, "cpu_usage": 60}) == ("ok", [])


def test_thresholds_are_frozen_with_the_documented_defaults() -> None:
    thresholds = Thresholds()
    assert (thresholds.disk_low_percent, thresholds.cpu_high_percent, thresholds.memory_high_percent) == (
        25,
        90,
        90,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        thresholds.disk_low_percent = 10  # type: ignore[misc]


def test_a_check_is_due_four_hours_later() -> None:
    assert timedelta(hours=4) == CHECK_INTERVAL


def test_sampled_resources_are_percentages_with_at_most_one_decimal(seeded_rng: random.Random) -> None:
    for _ in range(2000):
        sample = sample_resources(seeded_rng)
        assert list(sample) == ["cpu_usage", "memory_usage", "disk_space"]
        for value in sample.values():
            assert isinstance(value, int | float) and not isinstance(value, bool)
            assert 0 <= value <= 100
            assert round(value, 1) == value


def test_sampled_resources_are_mostly_healthy_but_not_always(seeded_rng: random.Random) -> None:
    statuses = [assess(sample_resources(seeded_rng))[0] for _ in range(2000)]
    assert statuses.count("ok") > 1400
    assert {"warning", "critical"} <= set(statuses)


def test_sampled_connectivity_is_mostly_good(seeded_rng: random.Random) -> None:
    states = [sample_connectivity(seeded_rng) for _ in range(2000)]
    assert set(states) == {"good", "degraded", "offline"}
    assert states.count("good") > 1700


def test_samplers_repeat_for_the_same_seed() -> None:
    first, second = random.Random(9), random.Random(9)
    assert [sample_resources(first) for _ in range(50)] == [sample_resources(second) for _ in range(50)]
    assert [sample_connectivity(first) for _ in range(50)] == [sample_connectivity(second) for _ in range(50)]


def test_health_imports_only_the_standard_library() -> None:
    # The mock's diagnostic helpers reuse this module; it must not drag in Faker.
    tree = ast.parse(Path(health.__file__).read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert {name.split(".")[0] for name in imported} <= set(sys.stdlib_module_names) | {"__future__"}
