"""The command line: ``serve``'s options, their environment fallbacks and ``--help``; ``fixtures`` writing
a file that ``serve --fixtures`` then serves. Nothing here starts a process (``test_server`` does)."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import pytest
from listing import RESOURCE

import fixtures
from mockserver import create_app
from mockserver.core import config
from mockserver.serving import cli, server


def subcommand(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[name]
            return found
    raise AssertionError(f"no subcommand {name}")


def options_of(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings and action.dest != "help"]


@pytest.mark.parametrize("name", ["serve", "fixtures"])
def test_help_explains_every_option(
    clean_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    parser = subcommand(cli.build_parser(), name)
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args([name, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for action in options_of(parser):
        assert action.help and len(action.help) > 10, action.dest
        for option in action.option_strings:
            assert option in text


def test_every_serve_option_names_its_environment_variable(clean_environment: pytest.MonkeyPatch) -> None:
    serve = subcommand(cli.build_parser(), "serve")
    for action in options_of(serve):
        assert action.help is not None and f"env {cli.ENV_PREFIX}" in action.help, action.option_strings


def test_the_readme_names_every_serve_option_and_environment_variable(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## The mock server"):readme.index("### How it answers")]
    serve = subcommand(cli.build_parser(), "serve")
    shown = set(re.findall(r"DIAGS_[A-Z_]+", serve.format_help()))
    options = {string for action in options_of(serve) for string in action.option_strings
               if string.startswith("--") and string != "--help"}
    missing = sorted(name for name in shown | options if f"`{name}" not in table)
    assert not missing, f"the README's option table lacks {missing}"


def test_a_missing_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([])
    assert exited.value.code == 2
    assert "usage" in capsys.readouterr().err


def test_serve_passes_its_options_to_the_server(
    clean_environment: pytest.MonkeyPatch,
    captured: list[server.ServerOptions],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli.main(
        [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "8123",
            "--seed",
            "7",
            "--token",
            "alpha-secret",
            "--token",
            "beta-secret",
            "--threads",
            "3",
            "--no-access-log",
            "--page-size",
            "5",
            "--max-page-size",
            "50",
            "--max-body",
            "2048",
        ]
    )
    [options] = captured
    assert (options.host, options.port, options.threads, options.access_log) == ("127.0.0.1", 8123, 3, False)
    settings = options.app_config
    assert settings["DIAGS_TOKENS"] == ["alpha-secret", "beta-secret"]
    assert (settings["DIAGS_SEED"], settings["DIAGS_PAGE_SIZE"], settings["DIAGS_MAX_PAGE_SIZE"]) == (
        7,
        5,
        50,
    )
    assert settings["MAX_CONTENT_LENGTH"] == 2048
    assert json.loads(json.dumps(settings)) == settings
    output = capsys.readouterr()
    assert "http://127.0.0.1:8123/api/v1/inventory_device_diags/" in output.out
    assert "alpha-secret" not in output.out + output.err
    assert "beta-secret" not in output.out + output.err


def test_serve_defaults(clean_environment: pytest.MonkeyPatch, captured: list[server.ServerOptions]) -> None:
    cli.main(["serve"])
    [options] = captured
    assert (options.host, options.port, options.access_log) == ("127.0.0.1", 8000, True)
    settings = options.app_config
    assert settings["DIAGS_TOKENS"] == [config.DEFAULT_TOKEN]
    assert settings["DIAGS_SEED"] == fixtures.DEFAULT_SEED
    assert settings["DIAGS_FIXTURES_PATH"] is None
    assert "DIAGS_HELPERS" not in settings


def test_serve_falls_back_to_the_environment(
    clean_environment: pytest.MonkeyPatch, captured: list[server.ServerOptions], tmp_path: Path
) -> None:
    helpers = tmp_path / "helpers.json"
    helpers.write_text('{"helpers": ["connectivity"]}', encoding="utf-8")
    for name, value in {
        "HOST": "127.0.0.2",
        "PORT": "8124",
        "SEED": "9",
        "TOKENS": "one-secret, two-secret",
        "THREADS": "4",
        "HELPERS_CONFIG": str(helpers),
        "DEVICES": "12",
        "DIAGS": "34",
    }.items():
        clean_environment.setenv(cli.ENV_PREFIX + name, value)
    cli.main(["serve"])
    [options] = captured
    assert (options.host, options.port, options.threads) == ("127.0.0.2", 8124, 4)
    settings = options.app_config
    assert settings["DIAGS_TOKENS"] == ["one-secret", "two-secret"]
    assert (settings["DIAGS_SEED"], settings["DIAGS_DEVICES"], settings["DIAGS_DIAGS"]) == (9, 12, 34)
    assert settings["DIAGS_HELPERS"] == {"helpers": ["connectivity"]}


def test_options_win_over_the_environment(
    clean_environment: pytest.MonkeyPatch, captured: list[server.ServerOptions]
) -> None:
    clean_environment.setenv("DIAGS_SEED", "9")
    clean_environment.setenv("DIAGS_TOKENS", "env-secret")
    cli.main(["serve", "--seed", "10", "--token", "option-secret"])
    settings = captured[0].app_config
    assert (settings["DIAGS_SEED"], settings["DIAGS_TOKENS"]) == (10, ["option-secret"])


def test_a_port_taken_while_serve_starts_is_one_line_too(
    clean_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def bind_fails(options: server.ServerOptions) -> None:
        raise RuntimeError("Address already in use (os error 98)\n\nStack backtrace:\n   0: <unknown>")

    clean_environment.setattr(server, "serve", bind_fails)
    clean_environment.setattr(cli, "_refuse_a_busy_port", lambda host, port: None)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["serve", "--port", "8765"])
    assert stopped.value.code == cli.port_in_use_message("127.0.0.1", 8765)
    assert "\n" not in str(stopped.value.code) and "PORT=" in str(stopped.value.code)


def test_a_broken_helper_configuration_is_served_with_a_warning(
    clean_environment: pytest.MonkeyPatch,
    captured: list[server.ServerOptions],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    helpers = tmp_path / "helpers.json"
    helpers.write_text('{"helpers": ["nope"]}', encoding="utf-8")
    cli.main(["serve", "--helpers-config", str(helpers)])
    assert captured[0].app_config["DIAGS_HELPERS"] == {"helpers": ["nope"]}
    assert "'nope'" in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, "{not json"])
def test_an_unreadable_helper_configuration_stops_serve(
    clean_environment: pytest.MonkeyPatch,
    captured: list[server.ServerOptions],
    tmp_path: Path,
    content: str | None,
) -> None:
    helpers = tmp_path / "helpers.json"
    if content is not None:
        helpers.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--helpers-config", str(helpers)])
    assert "helpers configuration" in str(exited.value.code)
    assert captured == []


@pytest.mark.parametrize("content", [None, "{}", '{"devices": []}', "not json"])
def test_a_bad_fixture_file_stops_serve(
    clean_environment: pytest.MonkeyPatch,
    captured: list[server.ServerOptions],
    tmp_path: Path,
    content: str | None,
) -> None:
    path = tmp_path / "fixture.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--fixtures", str(path)])
    assert "fixture file" in str(exited.value.code)
    assert captured == []


def generate(path: Path, seed: int, devices: int = 10, diags: int = 30) -> bytes:
    cli.main(
        ["fixtures", "--seed", str(seed), "--devices", str(devices), "--diags", str(diags), "-o", str(path)]
    )
    return path.read_bytes()


def test_fixtures_writes_the_same_bytes_for_the_same_seed(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first = generate(tmp_path / "first.json", 5)
    second = generate(tmp_path / "second.json", 5)
    other = generate(tmp_path / "other.json", 6)
    assert first == second
    assert first != other
    assert first == fixtures.dumps(fixtures.generate(5, 10, 30))


def test_fixtures_to_a_dash_writes_standard_output(
    clean_environment: pytest.MonkeyPatch, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    clean_environment.chdir(tmp_path)
    cli.main(["fixtures", "--seed", "5", "--devices", "10", "--diags", "30", "-o", "-"])
    written = capsysbinary.readouterr()
    assert written.out == fixtures.dumps(fixtures.generate(5, 10, 30))
    assert b"standard output" in written.err
    assert list(tmp_path.iterdir()) == []


def test_serve_serves_a_written_fixture_file(
    clean_environment: pytest.MonkeyPatch, captured: list[server.ServerOptions], tmp_path: Path
) -> None:
    path = tmp_path / "fixture.json"
    generate(path, 11, devices=8, diags=25)
    cli.main(["serve", "--fixtures", str(path), "--token", "file-token"])
    settings: dict[str, Any] = captured[0].app_config
    assert settings["DIAGS_FIXTURES_PATH"] == str(path)
    client = create_app({"TESTING": True, **settings}).test_client()
    response = client.get(
        RESOURCE, query_string={"limit": 100}, headers={"Authorization": "Bearer file-token"}
    )
    assert response.status_code == 200
    written = json.loads(path.read_bytes())
    assert response.get_json()["count"] == 25
    assert response.get_json()["results"] == written["diagnostics"]


def test_serve_says_where_its_data_comes_from_and_where_its_docs_are(
    clean_environment: pytest.MonkeyPatch, captured: list[server.ServerOptions], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "mine.json"
    generate(path, 11, devices=8, diags=25)
    capsys.readouterr()
    cli.main(["serve", "--fixtures", str(path), "--port", "8123"])
    said = capsys.readouterr().out
    assert f"data from the fixture file {path}" in said and "seed" not in said
    assert "http://127.0.0.1:8123/api/v1/docs" in said
    cli.main(["serve", "--seed", "9"])
    assert "data of seed 9" in capsys.readouterr().out
