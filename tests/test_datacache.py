"""``datacache``: large generated data kept in a cache folder, so that a later start skips the generation.

The threshold of large data is lowered to this file's small data set (``DIAGS_SNAPSHOT_MIN_DIAGS`` for a
real server, ``prepare.SNAPSHOT_MIN_DIAGS`` in this process). Each test has its own cache folder
(``conftest.own_cache_folder``), never the user's.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import TOKEN
from live import Server, serve, start

import fixtures
from mockserver.serving import cli, prepare, server
from mockserver.storage import datacache, snapshots

SEED, DEVICES, DIAGS = 5, 6, 40
SMALL = {"DIAGS_SNAPSHOT_MIN_DIAGS": str(DIAGS)}
DATA = ["--seed", str(SEED), "--devices", str(DEVICES), "--diags", str(DIAGS)]
REQUEST_SECONDS = 30


def settings_of(seed: int = SEED, **changed: Any) -> dict[str, Any]:
    return {"DIAGS_SEED": seed, "DIAGS_DEVICES": DEVICES, "DIAGS_DIAGS": DIAGS,
            "DIAGS_REFERENCE_TIME": fixtures.DEFAULT_REFERENCE_TIME, "DIAGS_FIXTURE": None,
            "DIAGS_FIXTURES_PATH": None, "DIAGS_DB": None, **changed}


def entries(folder: Path) -> list[str]:
    """Every file in ``folder``: the entries, and anything a start left behind."""
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def expected_page(seed: int = SEED) -> list[Any]:
    return fixtures.generate(seed, DEVICES, DIAGS, fixtures.DEFAULT_REFERENCE_TIME)["diagnostics"]


def listed(live: Server) -> list[Any]:
    answer = requests.get(live.resource, params={"limit": 100}, headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=REQUEST_SECONDS)
    assert answer.status_code == 200
    results: list[Any] = answer.json()["results"]
    return results


def raw_pages(live: Server) -> list[bytes]:
    """The first, a filtered and a deep page, as the bytes the server sent (but for its address)."""
    headers = {"Authorization": f"Bearer {TOKEN}"}
    device = expected_page()[0]["device_id"]
    queries: list[dict[str, Any]] = [{"limit": 10}, {"id": device}, {"offset": DIAGS - 5}]
    answers = [requests.get(live.resource, params=query, headers=headers, timeout=REQUEST_SECONDS)
               for query in queries]
    assert [answer.status_code for answer in answers] == [200] * len(answers)
    # Each server has its own port, which its links name.
    return [answer.content.replace(live.url.encode(), b"http://server") for answer in answers]


# --- The key and the folder ---------------------------------------------------------------------------


def test_the_key_is_the_same_for_the_same_data() -> None:
    assert datacache.cache_key(settings_of()) == datacache.cache_key(settings_of())


@pytest.mark.parametrize("change", [
    {"DIAGS_SEED": SEED + 1},
    {"DIAGS_DEVICES": DEVICES + 1},
    {"DIAGS_DIAGS": DIAGS + 1},
    {"DIAGS_REFERENCE_TIME": "2025-06-01T00:00:00Z"},
])
def test_the_key_changes_with_each_setting_that_shapes_the_data(change: dict[str, Any]) -> None:
    assert datacache.cache_key(settings_of(**change)) != datacache.cache_key(settings_of())


def test_the_key_changes_with_faker_the_generator_and_the_format(monkeypatch: pytest.MonkeyPatch) -> None:
    before = datacache.cache_key(settings_of())
    keys = set()
    with monkeypatch.context() as patched:
        patched.setattr(datacache.metadata, "version", lambda name: "0.0.1")
        keys.add(datacache.cache_key(settings_of()))
    with monkeypatch.context() as patched:
        patched.setattr(datacache, "_generator_fingerprint", lambda: "another generator")
        keys.add(datacache.cache_key(settings_of()))
    with monkeypatch.context() as patched:
        patched.setattr(datacache, "FORMAT_VERSION", datacache.FORMAT_VERSION + 1)
        keys.add(datacache.cache_key(settings_of()))
    assert len(keys) == 3 and before not in keys


def test_the_folder_is_the_users_cache_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert datacache.cache_folder({}) == tmp_path / "diags-kit"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # invalid for the XDG specification
    assert datacache.cache_folder({}) == Path.home() / ".cache" / "diags-kit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datacache.cache_folder({}) == Path.home() / ".cache" / "diags-kit"
    assert datacache.cache_folder({"DIAGS_CACHE_DIR": str(tmp_path / "mine")}) == tmp_path / "mine"
    assert datacache.cache_folder({"DIAGS_CACHE_DIR": str(tmp_path), "DIAGS_NO_CACHE": True}) is None


# --- serve, in this process (the data is still made by a child) ---------------------------------------


@pytest.fixture
def small_is_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prepare, "SNAPSHOT_MIN_DIAGS", DIAGS)


def test_the_cache_dir_option_and_variable_are_honoured(
    captured: list[server.ServerOptions], small_is_large: None, tmp_path: Path,
    clean_environment: pytest.MonkeyPatch,
) -> None:
    cli.main(["serve", *DATA, "--cache-dir", str(tmp_path / "option")])
    clean_environment.setenv("DIAGS_CACHE_DIR", str(tmp_path / "variable"))
    cli.main(["serve", *DATA])
    name = datacache.entry_path(tmp_path, settings_of()).name
    assert entries(tmp_path / "option") == [name]
    assert entries(tmp_path / "variable") == [name]
    assert captured[1].app_config["DIAGS_SNAPSHOT"] == str(tmp_path / "variable" / name)


def test_without_a_cache_dir_the_users_cache_folder_is_used(
    captured: list[server.ServerOptions], small_is_large: None
) -> None:
    cli.main(["serve", *DATA])
    folder = datacache.default_folder()
    assert entries(folder) == [datacache.entry_path(folder, settings_of()).name]


@pytest.mark.parametrize("how", [["--no-cache"], ["--no-cache", "--cache-dir", "{folder}"], ["env"]])
def test_no_cache_writes_nothing(
    captured: list[server.ServerOptions], small_is_large: None, tmp_path: Path, how: list[str],
    clean_environment: pytest.MonkeyPatch,
) -> None:
    if how == ["env"]:
        clean_environment.setenv("DIAGS_NO_CACHE", "1")
        how = []
    cli.main(["serve", *DATA, *(option.format(folder=tmp_path / "cache") for option in how)])
    [options] = captured
    assert not (tmp_path / "cache").exists() and entries(datacache.default_folder()) == []
    assert options.app_config["DIAGS_SNAPSHOT"].endswith(prepare.SNAPSHOT_NAME)  # a temporary one


def test_small_data_is_never_cached(captured: list[server.ServerOptions], tmp_path: Path) -> None:
    cli.main(["serve", *DATA, "--cache-dir", str(tmp_path)])
    assert entries(tmp_path) == [] and "DIAGS_SNAPSHOT" not in captured[0].app_config


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other data"])
def test_a_damaged_entry_is_generated_again_with_a_warning(
    captured: list[server.ServerOptions], small_is_large: None, tmp_path: Path, damage: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    entry = datacache.cached_snapshot(settings_of(), tmp_path)
    if damage == "garbage":
        entry.write_bytes(b"not a snapshot " * 1000)
    elif damage == "truncated":
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    else:
        datacache.cached_snapshot(settings_of(SEED + 1), tmp_path).replace(entry)
    capsys.readouterr()
    cli.main(["serve", *DATA, "--cache-dir", str(tmp_path)])
    shown = capsys.readouterr()
    assert f"warning: the cached data {entry} cannot be used" in shown.err
    assert "writing the cache" in shown.out
    assert datacache.entry_problem(entry, settings_of()) is None
    assert captured[0].app_config["DIAGS_SNAPSHOT"] == str(entry)


def test_a_folder_that_cannot_be_made_falls_back_to_a_temporary_snapshot(
    captured: list[server.ServerOptions], small_is_large: None, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("in the way")
    cli.main(["serve", *DATA, "--cache-dir", str(blocker / "cache")])
    assert f"warning: cannot use the cache folder {blocker / 'cache'}" in capsys.readouterr().err
    assert captured[0].app_config["DIAGS_SNAPSHOT"].endswith(prepare.SNAPSHOT_NAME)


def test_the_folder_keeps_the_entries_used_last(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(datacache, "MAX_ENTRIES", 2)
    made = []
    for seed in (1, 2, 3):
        made.append(datacache.cached_snapshot(settings_of(seed), tmp_path))
        os.utime(made[-1], (time.time() - 100 + seed, time.time() - 100 + seed))
    assert entries(tmp_path) == sorted(path.name for path in made[1:])
    datacache.cached_snapshot(settings_of(2), tmp_path)  # used again: now the newest
    datacache.cached_snapshot(settings_of(4), tmp_path)
    assert entries(tmp_path) == sorted([made[1].name, datacache.entry_path(tmp_path, settings_of(4)).name])


def test_a_killed_starts_temporary_file_is_never_used_and_removed_a_day_later(tmp_path: Path) -> None:
    entry = datacache.entry_path(tmp_path, settings_of())
    left = tmp_path / f".{entry.stem}.123-abcdef{datacache.TEMPORARY_SUFFIX}"
    fresh = tmp_path / f".{entry.stem}.456-abcdef{datacache.TEMPORARY_SUFFIX}"
    for half_written in (left, fresh):
        half_written.write_bytes(b"half a snapshot")
    old = time.time() - datacache.ABANDONED_SECONDS - 60
    os.utime(left, (old, old))
    assert datacache.cached_snapshot(settings_of(), tmp_path) == entry
    # The fresh one may be another start's, still writing.
    assert entries(tmp_path) == sorted([entry.name, fresh.name])


def test_a_failed_generation_leaves_no_entry(tmp_path: Path) -> None:
    with pytest.raises(snapshots.PreparationError, match="cannot generate the data"):
        datacache.cached_snapshot(settings_of(DIAGS_DEVICES=0), tmp_path)
    assert entries(tmp_path) == []


# --- The real server ----------------------------------------------------------------------------------


def test_a_second_start_uses_the_entry_the_first_wrote(tmp_path: Path) -> None:
    folder, log = tmp_path / "cache", tmp_path / "serve.log"
    first = start(*DATA, "--cache-dir", str(folder), token=TOKEN, log_path=log, environment=SMALL)
    try:
        assert listed(first) == expected_page()
    finally:
        first.stop()
    [name] = entries(folder)
    written = (folder / name).stat()
    assert "writing the cache" in first.log() and "using the cached data" not in first.log()
    log.unlink()
    second = start(*DATA, "--cache-dir", str(folder), token=TOKEN, log_path=log, environment=SMALL)
    try:
        assert listed(second) == expected_page()
    finally:
        second.stop()
    assert f"using the cached data {folder / name}" in second.log()
    assert "writing the cache" not in second.log()
    assert entries(folder) == [name]
    assert (folder / name).stat().st_ino == written.st_ino  # the same file, not written again


def test_a_start_from_the_cache_serves_the_bytes_a_start_without_it_does(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    served = []
    cached = ["--cache-dir", str(folder)]
    for number, how in enumerate((cached, cached, ["--no-cache"])):
        with serve(*DATA, *how, token=TOKEN, log_path=tmp_path / f"serve-{number}.log",
                   environment=SMALL) as live:
            served.append(raw_pages(live))
            shown = live.log()
        assert ("using the cached data" in shown) == (number == 1)
    assert served[0] == served[1] == served[2]


def test_a_reset_with_another_seed_goes_through_the_cache_too(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    other = datacache.entry_path(folder, settings_of(SEED + 1))
    with serve(*DATA, "--cache-dir", str(folder), token=TOKEN, log_path=tmp_path / "serve.log",
               environment=SMALL) as live:
        for seed, shown in ((SEED + 1, "writing the cache"), (SEED, ""), (SEED + 1, "using the cached data")):
            reset = requests.post(live.url + "/__admin/reset", json={"seed": seed}, timeout=REQUEST_SECONDS)
            assert reset.status_code == 200 and reset.json()["seed"] == seed
            assert listed(live) == expected_page(seed)
            if shown:
                assert live.log().count(f"{shown} {other}") == 1
    assert entries(folder) == sorted([datacache.entry_path(folder, settings_of()).name, other.name])


def test_servers_starting_at_once_leave_one_valid_entry(tmp_path: Path) -> None:
    folder = tmp_path / "cache"

    def one(number: int) -> Server:
        log = tmp_path / f"serve-{number}.log"
        return start(*DATA, "--cache-dir", str(folder), token=TOKEN, log_path=log, environment=SMALL)

    with ThreadPoolExecutor(3) as pool:
        servers = list(pool.map(one, range(3)))
    try:
        for live in servers:
            assert listed(live) == expected_page()
    finally:
        for live in servers:
            live.stop()
    [name] = entries(folder)
    assert datacache.entry_problem(folder / name, settings_of()) is None
