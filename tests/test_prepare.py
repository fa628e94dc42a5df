"""``prepare``: a ``--db`` database, or the in-memory store's snapshot, is filled by a child process.

Forked from the serving process, granian's workers would share whatever memory it kept of the data,
for the server's whole life. The child is a fresh interpreter, so the tests' monkeypatches do not
reach it: patching the generator to fail in this process proves the data was made elsewhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from listing import RESOURCE

import fixtures
from mockserver import create_app, services
from mockserver.control import admin
from mockserver.serving import cli, prepare, server
from mockserver.storage import snapshots
from mockserver.storage.sqlite import Database, SqliteStore

SEED, DEVICES, DIAGS = 3, 6, 40


def _must_not_run_here(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the serving process made the data itself")


def serve_db(path: Path, *options: str) -> None:
    cli.main(["serve", "--db", str(path), "--seed", str(SEED), "--devices", str(DEVICES),
              "--diags", str(DIAGS), *options])


def stored(path: Path) -> tuple[list[Any], list[Any]]:
    database = Database(path)
    try:
        connection = database.connection()
        devices = [orjson.loads(row[0]) for row in connection.execute("SELECT body FROM devices ORDER BY id")]
        records = [orjson.loads(row[0])
                   for row in connection.execute("SELECT body FROM diagnostics ORDER BY position")]
    finally:
        database.close()
    return devices, records


def test_a_new_database_is_filled_by_a_child_with_the_seeds_data(
    captured: list[server.ServerOptions], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(fixtures, "generate", _must_not_run_here)
    monkeypatch.setattr(services, "load_fixture", _must_not_run_here)
    path = tmp_path / "mock.db"
    serve_db(path)
    [options] = captured
    assert options.app_config["DIAGS_DB_PREPARED"] is True
    assert f"{DEVICES} devices, {DIAGS} diagnostics, seed {SEED}" in capsys.readouterr().out
    monkeypatch.undo()
    expected = fixtures.generate(SEED, DEVICES, DIAGS)
    devices, records = stored(path)
    assert records == expected["diagnostics"]
    assert devices == sorted(expected["devices"], key=lambda device: device["id"])


def test_a_filled_database_starts_without_a_child(
    captured: list[server.ServerOptions], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "mock.db"
    serve_db(path)
    monkeypatch.setattr(prepare, "data_problem_apart", _must_not_run_here)
    serve_db(path, "--seed", str(SEED + 1))
    assert len(captured) == 2
    store = SqliteStore(Database(path))
    assert (store.seed(), store.stats()["diagnostics"]) == (SEED, DIAGS)
    store.database.close()


@pytest.mark.parametrize(("options", "message"), [
    (["--devices", "0"], "cannot generate the data for --db"),
    (["--fixtures", "missing.json"], "cannot use the fixture file"),
])
def test_a_failed_fill_stops_serve_with_the_reason(
    captured: list[server.ServerOptions], tmp_path: Path, options: list[str], message: str
) -> None:
    options = [str(tmp_path / option) if option.endswith(".json") else option for option in options]
    with pytest.raises(SystemExit) as stopped:
        serve_db(tmp_path / "mock.db", *options)
    assert message in str(stopped.value.code)
    assert captured == []
    assert not SqliteStore(Database(tmp_path / "mock.db")).filled()


def test_a_database_that_cannot_be_opened_stops_serve(
    captured: list[server.ServerOptions], tmp_path: Path
) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("not a database, " * 100)
    with pytest.raises(SystemExit) as stopped:
        serve_db(not_a_database)
    assert f"cannot use --db {not_a_database}" in str(stopped.value.code)
    assert captured == []


def test_a_child_that_crashes_is_reported_by_its_exit_code(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    settings = cli.app_config(cli.build_parser().parse_args(["serve", "--db", str(tmp_path / "mock.db")]))
    del settings["DIAGS_SEED"]
    problem = prepare.data_problem_apart(settings, "--db")
    assert problem is not None and "exit code 1" in problem
    assert "KeyError" in capfd.readouterr().err


# --- The in-memory store's snapshot -------------------------------------------------------------------


def _first_pages(settings: dict[str, Any]) -> list[Any]:
    client = create_app({"TESTING": True, **settings}).test_client()
    auth = {"Authorization": f"Bearer {settings['DIAGS_TOKENS'][0]}"}
    return [client.get(f"{RESOURCE}?limit=100&offset={offset}", headers=auth).get_json()
            for offset in range(0, DIAGS, 100)]


def test_large_generated_data_is_served_from_a_snapshot_made_by_a_child(
    captured: list[server.ServerOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "SNAPSHOT_MIN_DIAGS", DIAGS)
    served: list[list[Any]] = []
    # The snapshot lives as long as the server: look at it while "serving".
    monkeypatch.setattr(server, "serve", lambda options: served.append(_first_pages(options.app_config)))
    monkeypatch.setattr(fixtures, "generate", _must_not_run_here)
    cli.main(["serve", "--seed", str(SEED), "--devices", str(DEVICES), "--diags", str(DIAGS)])
    monkeypatch.undo()
    settings = {"DIAGS_TOKENS": ["t"], "DIAGS_SEED": SEED, "DIAGS_DEVICES": DEVICES, "DIAGS_DIAGS": DIAGS}
    assert served == [_first_pages(settings)]


def test_without_the_cache_the_snapshot_is_removed_when_the_server_stops(
    captured: list[server.ServerOptions], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepare, "SNAPSHOT_MIN_DIAGS", DIAGS)
    cli.main(["serve", "--no-cache", "--seed", str(SEED), "--devices", str(DEVICES), "--diags", str(DIAGS)])
    [options] = captured
    snapshot = Path(options.app_config["DIAGS_SNAPSHOT"])
    assert snapshot.name == prepare.SNAPSHOT_NAME and not snapshot.parent.exists()


@pytest.mark.parametrize(("settings", "wanted"), [
    ({"DIAGS_DIAGS": prepare.SNAPSHOT_MIN_DIAGS}, True),
    ({"DIAGS_DIAGS": prepare.SNAPSHOT_MIN_DIAGS - 1}, False),
    ({"DIAGS_DIAGS": prepare.SNAPSHOT_MIN_DIAGS, "DIAGS_DB": "mock.db"}, False),
    ({"DIAGS_DIAGS": prepare.SNAPSHOT_MIN_DIAGS, "DIAGS_FIXTURES_PATH": "data.json"}, False),
])
def test_only_large_generated_data_in_memory_takes_a_snapshot(settings: dict[str, Any], wanted: bool) -> None:
    assert prepare.wants_snapshot(settings) is wanted


def app_on_a_snapshot(folder: Path) -> Flask:
    """An app whose store was loaded from a snapshot of seed ``SEED``'s data, written to ``folder``."""
    path = folder / prepare.SNAPSHOT_NAME
    settings = {"DIAGS_TOKENS": ["t"], "DIAGS_SEED": SEED, "DIAGS_DEVICES": DEVICES, "DIAGS_DIAGS": DIAGS,
                "DIAGS_REFERENCE_TIME": fixtures.DEFAULT_REFERENCE_TIME, "DIAGS_FIXTURES_PATH": None,
                "DIAGS_DB": str(path)}
    assert prepare.data_problem(settings, "the snapshot") is None
    return create_app({"TESTING": True, **settings, "DIAGS_DB": None, "DIAGS_SNAPSHOT": str(path)})


def test_a_reset_loads_the_snapshot_again(tmp_path: Path) -> None:
    app = app_on_a_snapshot(tmp_path)
    client, auth = app.test_client(), {"Authorization": "Bearer t"}
    before = client.get(f"{RESOURCE}?limit=100", headers=auth).get_json()
    created = client.post(RESOURCE, json={"device_id": before["results"][0]["device_id"],
                                          "diagnostic_type": "maintenance"}, headers=auth)
    assert created.status_code == 201
    assert client.post("/__admin/reset").status_code == 200
    assert client.get(f"{RESOURCE}?limit=100", headers=auth).get_json() == before
    assert client.post(RESOURCE, json={"device_id": before["results"][0]["device_id"],
                                       "diagnostic_type": "maintenance"}, headers=auth).get_json()["id"] != \
        created.get_json()["id"]


def test_a_reset_with_a_new_seed_loads_a_snapshot_a_child_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = app_on_a_snapshot(tmp_path)
    monkeypatch.setattr(services, "load_fixture", _must_not_run_here)
    monkeypatch.setattr(admin, "load_fixture", _must_not_run_here)
    client, auth = app.test_client(), {"Authorization": "Bearer t"}
    answer = client.post("/__admin/reset", json={"seed": SEED + 1})
    assert answer.status_code == 200 and answer.get_json()["seed"] == SEED + 1
    other = fixtures.generate(SEED + 1, DEVICES, DIAGS, fixtures.DEFAULT_REFERENCE_TIME)
    listed = client.get(f"{RESOURCE}?limit=100", headers=auth).get_json()["results"]
    assert listed == other["diagnostics"]
    assert sorted(child.name for child in tmp_path.iterdir()) == [prepare.SNAPSHOT_NAME]
    assert client.post("/__admin/reset").get_json()["seed"] == SEED


def test_preparing_large_data_shows_its_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {"DIAGS_SEED": SEED, "DIAGS_DEVICES": DEVICES, "DIAGS_DIAGS": DIAGS, "DIAGS_FIXTURE": None,
                "DIAGS_REFERENCE_TIME": fixtures.DEFAULT_REFERENCE_TIME, "DIAGS_FIXTURES_PATH": None,
                "DIAGS_DB": str(tmp_path / "small.db")}
    assert snapshots.data_problem(settings, "the small one") is None
    assert capsys.readouterr().err == ""  # small data: done in moments, nothing to show
    monkeypatch.setattr(snapshots, "PROGRESS_SHOWN_FROM", DIAGS)
    large = {**settings, "DIAGS_DB": str(tmp_path / "large.db")}
    assert snapshots.data_problem(large, "the large one") is None
    shown = capsys.readouterr().err
    total = DEVICES + DIAGS
    assert f"diags-kit mock: generating the large one: {total} of {total} (100%)\n" in shown
    assert f"diags-kit mock: writing the large one: {DIAGS} of {DIAGS} (100%)\n" in shown
