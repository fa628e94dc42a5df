"""Tests of the ``fixtures`` package: determinism, the committed default, record shape and coherence,
the documented example records, and the checks ``load`` makes on a fixture file."""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from documented import documented_record

import fixtures
import schemas
from fixtures.health import CHECK_INTERVAL, assess

Fixture = dict[str, Any]

REPO_ROOT = Path(__file__).resolve().parent.parent
API_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
STATUSES = {
    "health_check": {"ok", "warning", "critical"},
    "maintenance": {"scheduled", "in_progress", "completed"},
    "issue_report": {"open", "in_progress", "resolved"},
}
FIELD_ORDER = {
    "health_check": ["created_at", "updated_at", "next_check_due"],
    "maintenance": ["notes", "performed_by", "created_at", "updated_at", "next_check_due"],
    "issue_report": ["notes", "reported_by", "priority", "created_at", "updated_at", "next_check_due"],
}
HEAD_FIELDS = [
    "id", "device_id", "device_name", "device_serial", "diagnostic_type", "status", "details", "issues",
]  # fmt: skip

# Copied from the API documentation's GET example, not from the package, so the two are compared.
DOCUMENTED_DEVICE = {
    "id": "device-12345",
    "name": "Office Printer HP-2024",
    "serial": "HP123456789",
    "kind": "printer",
    "maker": "HP",
}


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def of_type(fixture: Fixture, diagnostic_type: str) -> list[dict[str, Any]]:
    """The fixture's records of ``diagnostic_type``: there must be some, or checks on them prove nothing."""
    found = [record for record in fixture["diagnostics"] if record["diagnostic_type"] == diagnostic_type]
    assert found, f"the fixture has no {diagnostic_type} records"
    return found


@pytest.fixture(scope="module")
def default_fixture() -> Fixture:
    return fixtures.generate()


@pytest.fixture(scope="module")
def busy_fixture() -> Fixture:
    """A larger inventory with another seed and "now", so rarer statuses and kinds show up."""
    return fixtures.generate(seed=7, devices=300, diags=4000, reference_time="2025-03-01T08:30:00Z")


@pytest.fixture(params=["default_fixture", "busy_fixture"])
def fixture(request: pytest.FixtureRequest) -> Fixture:
    return request.getfixturevalue(request.param)


@pytest.fixture
def small_fixture() -> Fixture:
    return fixtures.generate(seed=3, devices=4, diags=9)


# Determinism ---------------------------------------------------------------------------------------


def test_same_seed_gives_same_bytes() -> None:
    first = fixtures.dumps(fixtures.generate(seed=11, devices=25, diags=300))
    second = fixtures.dumps(fixtures.generate(seed=11, devices=25, diags=300))
    assert first == second


@pytest.mark.parametrize("hash_seed", ["0", "4242"])
def test_bytes_do_not_depend_on_hash_randomization_or_locale(hash_seed: str) -> None:
    expected = fixtures.dumps(fixtures.generate(seed=5, devices=30, diags=250))
    program = (
        "import sys, fixtures; "
        "sys.stdout.buffer.write(fixtures.dumps(fixtures.generate(seed=5, devices=30, diags=250)))"
    )
    environment = {
        **os.environ,
        "PYTHONHASHSEED": hash_seed,
        "LC_ALL": "C",
        "LANG": "tr_TR.UTF-8",
        "TZ": "Asia/Tokyo",
    }
    completed = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        check=True,
        timeout=120,
    )
    assert completed.stdout == expected


def test_other_seed_gives_other_data() -> None:
    one = fixtures.generate(seed=1)
    other = fixtures.generate(seed=2)
    assert one["devices"][1:] != other["devices"][1:]
    assert one["diagnostics"][1:] != other["diagnostics"][1:]
    assert fixtures.dumps(one) != fixtures.dumps(other)


def test_committed_default_is_what_generate_gives(default_fixture: Fixture) -> None:
    assert fixtures.DEFAULT_FIXTURE_PATH.read_bytes() == fixtures.dumps(default_fixture)
    assert fixtures.default() == default_fixture


def test_defaults_are_the_documented_ones(default_fixture: Fixture) -> None:
    assert (fixtures.DEFAULT_SEED, fixtures.DEFAULT_DEVICES, fixtures.DEFAULT_DIAGS) == (42, 40, 200)
    assert default_fixture["reference_time"] == fixtures.DEFAULT_REFERENCE_TIME == "2024-01-15T15:00:00Z"
    assert list(default_fixture) == ["format", "seed", "reference_time", "devices", "diagnostics"]
    assert (default_fixture["format"], default_fixture["seed"]) == (1, 42)
    assert (len(default_fixture["devices"]), len(default_fixture["diagnostics"])) == (40, 200)


def test_dumps_is_indented_utf8_in_insertion_order() -> None:
    text = fixtures.dumps({"zeta": 1, "alpha": {"location": "Zürich"}})
    assert text == '{\n  "zeta": 1,\n  "alpha": {\n    "location": "Zürich"\n  }\n}\n'.encode()


# Shape and coherence --------------------------------------------------------------------------------


def test_every_record_matches_the_diag_schema(fixture: Fixture) -> None:
    validator = schemas.validator("diag")
    problems = [
        f"{record['id']}: {error.message}"
        for record in fixture["diagnostics"]
        for error in validator.iter_errors(record)
    ]
    assert problems == []


def test_fields_come_in_the_api_order(fixture: Fixture) -> None:
    assert {record["diagnostic_type"] for record in fixture["diagnostics"]} == set(FIELD_ORDER)
    for record in fixture["diagnostics"]:
        assert list(record) == HEAD_FIELDS + FIELD_ORDER[record["diagnostic_type"]], record["id"]


def test_ids_are_numbered_in_list_order(fixture: Fixture) -> None:
    ids = [record["id"] for record in fixture["diagnostics"]]
    assert ids == [f"diag-{number:03d}" for number in range(1, len(ids) + 1)]


def test_numbering_goes_past_three_digits() -> None:
    ids = [record["id"] for record in fixtures.generate(devices=20, diags=1001)["diagnostics"]]
    assert ids[998:] == ["diag-999", "diag-1000", "diag-1001"]


def test_devices_have_unique_five_digit_ids_and_serials(fixture: Fixture) -> None:
    devices = fixture["devices"]
    assert all(re.fullmatch(r"device-\d{5}", device["id"]) for device in devices)
    assert len({device["id"] for device in devices}) == len(devices)
    assert len({device["serial"] for device in devices}) == len(devices)
    assert all(
        list(device) == ["id", "name", "serial", "kind", "maker", "model", "location"] for device in devices
    )


def test_kinds_and_serials_look_like_their_maker(busy_fixture: Fixture) -> None:
    devices = busy_fixture["devices"]
    assert {device["kind"] for device in devices} == {
        "printer",
        "laptop",
        "router",
        "switch",
        "server",
        "sensor",
    }
    for device in devices:
        if device["maker"] == "HP":
            assert re.fullmatch(r"HP\d{9}", device["serial"]), device
        # Names carry the kind and a maker code, as in "Office Printer HP-2024".
        assert re.fullmatch(
            r"[A-Za-z ]+ (Printer|Laptop|Router|Switch|Server|Sensor) [A-Z]{2}-\d{4}", device["name"]
        )
        assert device["kind"].capitalize() in device["name"]


def test_timestamps_are_whole_utc_seconds_and_not_after_the_reference(fixture: Fixture) -> None:
    reference = moment(fixture["reference_time"])
    for record in fixture["diagnostics"]:
        for key in ("created_at", "updated_at"):
            assert API_TIMESTAMP.fullmatch(record[key]), (record["id"], key)
        assert moment(record["created_at"]) <= moment(record["updated_at"]) <= reference, record["id"]
        assert record["next_check_due"] is None or API_TIMESTAMP.fullmatch(record["next_check_due"])


def test_history_reaches_back_about_ninety_days(busy_fixture: Fixture) -> None:
    reference = moment(busy_fixture["reference_time"])
    created = [moment(record["created_at"]) for record in busy_fixture["diagnostics"][1:]]
    assert min(created) >= reference - timedelta(days=90)
    assert min(created) < reference - timedelta(days=80)


def test_records_after_the_documented_one_are_in_creation_order(fixture: Fixture) -> None:
    created = [moment(record["created_at"]) for record in fixture["diagnostics"][1:]]
    assert created == sorted(created)


def test_names_and_serials_are_the_devices(fixture: Fixture) -> None:
    devices = {device["id"]: device for device in fixture["devices"]}
    for record in fixture["diagnostics"]:
        device = devices[record["device_id"]]
        assert (record["device_name"], record["device_serial"]) == (device["name"], device["serial"])


def test_statuses_fit_their_type(fixture: Fixture) -> None:
    seen = {(record["diagnostic_type"], record["status"]) for record in fixture["diagnostics"]}
    assert {diagnostic_type for diagnostic_type, _ in seen} == set(STATUSES)
    for diagnostic_type, status in seen:
        assert status in STATUSES[diagnostic_type], (diagnostic_type, status)


def test_busy_inventory_shows_every_status(busy_fixture: Fixture) -> None:
    seen = {(record["diagnostic_type"], record["status"]) for record in busy_fixture["diagnostics"]}
    assert seen == {(kind, status) for kind, statuses in STATUSES.items() for status in statuses}


def test_health_checks_are_assessed_from_their_readings(fixture: Fixture) -> None:
    for record in of_type(fixture, "health_check"):
        details = record["details"]
        assert (record["status"], record["issues"]) == assess(details), record["id"]
        assert details["last_ping"] == record["created_at"] == record["updated_at"]
        assert details["network_connectivity"] in {"good", "degraded", "offline"}
        assert moment(record["next_check_due"]) == moment(record["updated_at"]) + CHECK_INTERVAL


def test_maintenance_records_tell_who_did_what(fixture: Fixture) -> None:
    maintenance = of_type(fixture, "maintenance")
    assert any(record["status"] == "completed" for record in maintenance)
    for record in maintenance:
        details = record["details"]
        assert details["action_performed"] in {
            "firmware_update", "hardware_replacement", "cleaning", "calibration", "routine_inspection",
        }  # fmt: skip
        assert isinstance(details["duration_minutes"], int) and details["duration_minutes"] > 0
        assert record["next_check_due"] is None and "@" in record["performed_by"] and record["notes"]
        if record["status"] == "completed":
            assert record["issues"] == []
            elapsed = moment(record["updated_at"]) - moment(record["created_at"])
            assert elapsed == timedelta(minutes=details["duration_minutes"])


def test_issue_reports_carry_priority_and_fitting_issues(fixture: Fixture) -> None:
    levels = ["low", "medium", "high", "critical"]
    for record in of_type(fixture, "issue_report"):
        details = record["details"]
        assert list(details) == ["issue_category", "symptoms", "error_codes", "impact_level"]
        assert details["symptoms"] and record["issues"]
        assert {issue["severity"] for issue in record["issues"]} == {details["impact_level"]}
        assert [issue["code"] for issue in record["issues"]] == [
            symptom.upper() for symptom in details["symptoms"]
        ]
        assert 0 <= levels.index(record["priority"]) - levels.index(details["impact_level"]) <= 1
        assert record["next_check_due"] is None and "@" in record["reported_by"]


def test_firmware_versions_follow_on_per_device(busy_fixture: Fixture) -> None:
    updates: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in busy_fixture["diagnostics"]:
        done = record["diagnostic_type"] == "maintenance" and record["status"] == "completed"
        if done and record["details"]["action_performed"] == "firmware_update":
            updates[record["device_id"]].append(record)
    chained = 0
    for records in updates.values():
        records.sort(key=lambda record: moment(record["created_at"]))
        for before, after in pairwise(records):
            assert after["details"]["previous_version"] == before["details"]["new_version"]
            chained += 1
    assert chained > 0


def test_every_device_has_a_health_check(fixture: Fixture) -> None:
    checked = {record["device_id"] for record in of_type(fixture, "health_check")}
    assert checked == {device["id"] for device in fixture["devices"]}


def test_every_device_is_checked_even_when_records_just_suffice() -> None:
    fixture = fixtures.generate(devices=50, diags=50)
    assert {record["device_id"] for record in fixture["diagnostics"]} == {
        device["id"] for device in fixture["devices"]
    }


# The documentation's example -------------------------------------------------------------------------


def test_documented_device_comes_first(fixture: Fixture) -> None:
    first = fixture["devices"][0]
    assert {key: first[key] for key in DOCUMENTED_DEVICE} == DOCUMENTED_DEVICE
    assert [device["id"] for device in fixture["devices"]].count("device-12345") == 1


def test_documented_record_comes_first_verbatim(fixture: Fixture) -> None:
    expected = documented_record()
    first = fixture["diagnostics"][0]
    assert json.dumps(first) == json.dumps(expected)


def test_documented_device_has_two_records_as_in_the_docs(fixture: Fixture) -> None:
    records = [record for record in fixture["diagnostics"] if record["device_id"] == "device-12345"]
    assert len(records) == 2
    # diag-001 stays the device's only, and so latest, health check.
    assert [record["diagnostic_type"] for record in records].count("health_check") == 1


@pytest.mark.parametrize(
    ("devices", "diags", "count"), [(1, 0, 0), (1, 1, 1), (1, 5, 5), (6, 2, 2), (40, 3, 3)]
)
def test_small_inventories(devices: int, diags: int, count: int) -> None:
    fixture = fixtures.generate(devices=devices, diags=diags)
    assert len(fixture["devices"]) == devices
    assert len(fixture["diagnostics"]) == count
    if count:
        assert fixture["diagnostics"][0]["id"] == "diag-001"


def test_reference_time_moves_the_history() -> None:
    fixture = fixtures.generate(devices=10, diags=60, reference_time="2030-06-01T00:00:00Z")
    created = [moment(record["created_at"]) for record in fixture["diagnostics"][1:]]
    assert min(created) >= moment("2030-06-01T00:00:00Z") - timedelta(days=90)


@pytest.mark.parametrize(
    ("arguments", "error"),
    [
        ({"devices": 0}, ValueError),
        ({"devices": 100_001}, ValueError),
        ({"diags": -1}, ValueError),
        ({"reference_time": "2024-01-15 15:00:00"}, ValueError),
        ({"reference_time": "2024-01-15T15:00:00.5Z"}, ValueError),
        ({"reference_time": "2024-01-15T14:24:59Z"}, ValueError),
        ({"seed": "42"}, TypeError),
        ({"devices": 4.0}, TypeError),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        fixtures.generate(**arguments)


def test_progress_is_reported_and_ends_at_the_total() -> None:
    calls: list[tuple[int, int]] = []
    fixtures.generate(devices=100, diags=12_000, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) >= 3
    assert {total for _, total in calls} == {12_100}
    done = [count for count, _ in calls]
    assert done == sorted(done) and done[-1] == 12_100 and done.count(12_100) == 1


# Loading files -------------------------------------------------------------------------------------


def test_write_then_load_gives_the_fixture_back(small_fixture: Fixture, tmp_path: Path) -> None:
    path = tmp_path / "inventory.json"
    fixtures.write(small_fixture, path)
    assert fixtures.load(path) == small_fixture
    assert path.read_bytes() == fixtures.dumps(small_fixture)
    assert [entry.name for entry in tmp_path.iterdir()] == ["inventory.json"]


def break_json(_: Fixture) -> str:
    return "{ not json"


def break_number(fixture: Fixture) -> str:
    return fixtures.dumps(fixture).decode().replace('"disk_space": ', '"disk_space": NaN, "was": ', 1)


def edit(change: Callable[[Fixture], Any]) -> Callable[[Fixture], str]:
    """A breaker that changes a deep copy of the fixture and writes it as JSON."""

    def apply(fixture: Fixture) -> str:
        broken = copy.deepcopy(fixture)
        result = change(broken)
        return json.dumps(broken if result is None else result)

    return apply


def second_record(fixture: Fixture) -> dict[str, Any]:
    return fixture["diagnostics"][1]


def drop(key: str, where: Callable[[Fixture], dict[str, Any]]) -> Callable[[Fixture], None]:
    """A change that removes ``key`` from the part of the fixture that ``where`` picks."""

    def change(fixture: Fixture) -> None:
        del where(fixture)[key]

    return change


BROKEN_FILES = {
    "not JSON": (break_json, "not JSON"),
    "NaN": (break_number, "NaN is not a JSON number"),
    "not an object": (edit(lambda fixture: [fixture]), "must be a JSON object"),
    "missing key": (edit(drop("devices", lambda fixture: fixture)), "lacks 'devices'"),
    "other format": (edit(lambda fixture: fixture.update(format=2)), "unsupported format 2"),
    "devices not a list": (edit(lambda fixture: fixture.update(devices={})), "'devices' must be a list"),
    "device lacks serial": (
        edit(drop("serial", lambda fixture: fixture["devices"][1])),
        "devices[1]: a device lacks 'serial'",
    ),
    "duplicate device": (
        edit(lambda fixture: fixture["devices"].append(dict(fixture["devices"][2]))),
        "duplicate device id",
    ),
    "unknown device": (
        edit(lambda fixture: second_record(fixture).update(device_id="device-99999x")),
        "diagnostics[1] (diag-002): device_id 'device-99999x' names no device",
    ),
    "duplicate record": (
        edit(lambda fixture: second_record(fixture).update(id="diag-001")),
        "duplicate diagnostic id 'diag-001' (also diagnostics[0])",
    ),
    "record lacks status": (edit(drop("status", second_record)), "lacks 'status'"),
    "wrong device name": (
        edit(lambda fixture: second_record(fixture).update(device_name="Someone Else")),
        "device_name 'Someone Else' is not the name of",
    ),
    "bad timestamp": (
        edit(lambda fixture: second_record(fixture).update(created_at="yesterday")),
        "created_at 'yesterday' is not an RFC 3339 date-time",
    ),
    "updated before created": (
        edit(lambda fixture: second_record(fixture).update(updated_at="2000-01-01T00:00:00Z")),
        "is before created_at",
    ),
    "details not an object": (
        edit(lambda fixture: second_record(fixture).update(details=[])),
        "'details' must be",
    ),
    "bad severity": (
        edit(
            lambda fixture: second_record(fixture).update(
                issues=[{"severity": "urgent", "message": "m", "code": "C"}]
            )
        ),
        "issues[0]: severity 'urgent'",
    ),
    "bad priority": (
        edit(lambda fixture: second_record(fixture).update(priority="urgent")),
        "priority 'urgent'",
    ),
    "bad e-mail": (
        edit(lambda fixture: second_record(fixture).update(reported_by="helpdesk")),
        "'reported_by' must be",
    ),
}


@pytest.mark.parametrize(("breaker", "message"), list(BROKEN_FILES.values()), ids=list(BROKEN_FILES))
def test_load_names_what_is_wrong(
    small_fixture: Fixture, tmp_path: Path, breaker: Callable[[Fixture], str], message: str
) -> None:
    path = tmp_path / "curated.json"
    path.write_text(breaker(small_fixture), encoding="utf-8")
    with pytest.raises(fixtures.FixtureError) as caught:
        fixtures.load(path)
    assert message in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_load_refuses_a_missing_or_undecodable_file(tmp_path: Path) -> None:
    with pytest.raises(fixtures.FixtureError, match="cannot be read"):
        fixtures.load(tmp_path / "absent.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"location": "Zürich"}'.encode("latin-1"))
    with pytest.raises(fixtures.FixtureError, match="not UTF-8"):
        fixtures.load(latin)


def test_fixture_error_is_a_value_error() -> None:
    assert issubclass(fixtures.FixtureError, ValueError)


def test_a_curated_file_without_optional_fields_loads(small_fixture: Fixture, tmp_path: Path) -> None:
    curated = copy.deepcopy(small_fixture)
    for record in curated["diagnostics"]:
        for key in ("notes", "reported_by", "performed_by", "priority", "next_check_due"):
            record.pop(key, None)
    curated["seed"] = None
    path = tmp_path / "curated.json"
    path.write_text(json.dumps(curated), encoding="utf-8")
    assert fixtures.load(path) == curated


def test_the_readme_example_fixture_is_a_sound_fixture_file(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("<!-- fixture-example -->\n```json\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "example.json"
    path.write_text(example, encoding="utf-8")
    loaded = fixtures.load(path)
    assert [record["id"] for record in loaded["diagnostics"]] == ["diag-001"]
