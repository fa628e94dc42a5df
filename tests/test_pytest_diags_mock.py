"""The pytest plugin as a user meets it: registered by the package, free when unused, the fixture and its
mark in a project of their own (with pytest-xdist too), the README's examples as written, and the built
wheel in a fresh virtual environment."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from mockserver.testing import running

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Using the mock in your own tests"
#: What a run records to show which modules it imported.
MODULE_PROBE = """
import sys

def test_records_its_modules():
    with open("modules.json", "w") as out:
        out.write(__import__("json").dumps(sorted(sys.modules)))
"""
RECORDER = """
import json, os

def record(name, mock):
    with open("servers.jsonl", "a") as out:
        out.write(json.dumps({"test": name, "url": mock.base_url, "seed": mock.state()["seed"],
                              "worker": os.environ.get("PYTEST_XDIST_WORKER", "")}) + "\\n")
"""


def readme_blocks(language: str) -> list[str]:
    """The ``language`` code blocks of the README's section on the fixture."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "servers.jsonl").read_text().splitlines()]


def test_the_package_registers_the_plugin() -> None:
    found = {point.name: point.value for point in entry_points(group="pytest11")}
    assert found["diags_mock"] == "pytest_diags_mock"


def imported_by_run(pytester: pytest.Pytester, *options: str) -> set[str]:
    pytester.makepyfile(test_probe=MODULE_PROBE)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", *options).assert_outcomes(passed=1)
    return set(json.loads((pytester.path / "modules.json").read_text()))


def test_a_run_that_does_not_use_the_fixture_imports_only_the_plugin(pytester: pytest.Pytester) -> None:
    with_plugin = imported_by_run(pytester)
    without_plugin = imported_by_run(pytester, "-p", "no:diags_mock")

    assert with_plugin - without_plugin == {"pytest_diags_mock"}
    assert not {name for name in with_plugin if name.split(".")[0] in ("mockserver", "flask", "granian")}


def test_the_readme_example_runs_as_written(pytester: pytest.Pytester) -> None:
    [example] = readme_blocks("python")[:1]
    pytester.makepyfile(test_readme=example)

    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_the_readme_unittest_example_runs_as_written(tmp_path: Path) -> None:
    [example] = readme_blocks("python")[1:]
    (tmp_path / "test_readme_unittest.py").write_text(example, encoding="utf-8")

    done = subprocess.run([sys.executable, "-m", "unittest", "-v", "test_readme_unittest"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stderr
    assert "Ran 1 test" in done.stderr


def test_the_readme_shows_the_failure_verify_gives() -> None:
    [shown] = readme_blocks("text")
    with running() as mock:
        mock.requests()  # nothing yet
        headers = {"Authorization": f"Bearer {mock.token}"}
        mock.session.get(mock.base_url + "/inventory_device_diags/", params={"id": "device-12345"},
                         headers=headers, timeout=10)
        mock.fault(method="POST", path="/api/v1/inventory_device_diags/", status=503)
        mock.session.post(mock.base_url + "/inventory_device_diags/", json={}, headers=headers, timeout=10)
        with pytest.raises(AssertionError) as failure:
            mock.verify(2, method="POST")

    got = f"AssertionError: {failure.value}\n"
    assert re.sub(r"fault-\d+", "fault-N", got) == re.sub(r"fault-\d+", "fault-N", shown)


def test_a_failing_verify_reads_well_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_client="""
        def test_posts_twice(diags_mock):
            diags_mock.verify(2, method="POST")
    """)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E*VerificationError: Expected exactly 2 requests (method=POST), the mock received 0.",
        "E*The mock received no request in this test.",
    ])
    assert "mockserver/testing.py" not in result.stdout.str()  # the handle's own frames are hidden
    result.stdout.fnmatch_lines(["*diags_mock server output (end)*", '*"GET /__admin/health HTTP/1.1" 200*'])


def test_marks_start_servers_with_other_data_and_share_them(pytester: pytest.Pytester) -> None:
    data = pytester.mkpydir("data")
    (data / "mine.json").write_text((ROOT / "fixtures" / "default.json").read_text(encoding="utf-8"))
    pytester.makepyfile(recorder=RECORDER)
    pytester.makepyfile(test_default="""
        from recorder import record

        def test_one(diags_mock):
            record("default-1", diags_mock)

        def test_two(diags_mock):
            record("default-2", diags_mock)
    """)
    pytester.makepyfile(**{"data/test_marked": """
        import pytest
        from recorder import record

        pytestmark = pytest.mark.diags_mock(seed=7, devices=3, diags=10)

        def test_module_mark(diags_mock):
            assert diags_mock.state()["diagnostics"] == 10
            record("seed-7-a", diags_mock)

        class TestClass:
            def test_same_settings(self, diags_mock):
                record("seed-7-b", diags_mock)

            @pytest.mark.diags_mock(fixtures="mine.json")
            def test_a_file_next_to_the_test(self, diags_mock):
                assert diags_mock.state()["diagnostics"] == 200
                record("file", diags_mock)
    """})

    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=5)

    urls = {entry["test"]: entry["url"] for entry in records(pytester.path)}
    seeds = {entry["test"]: entry["seed"] for entry in records(pytester.path)}
    assert urls["default-1"] == urls["default-2"]
    assert urls["seed-7-a"] == urls["seed-7-b"]
    assert len({urls["default-1"], urls["seed-7-a"], urls["file"]}) == 3
    assert (seeds["default-1"], seeds["seed-7-a"]) == (42, 7)


def test_each_xdist_worker_has_its_own_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(recorder=RECORDER)
    pytester.makepyfile(test_many="""
        import pytest
        from recorder import record

        @pytest.mark.parametrize("number", range(8))
        def test_post_then_count(diags_mock, number):
            import requests
            headers = {"Authorization": f"Bearer {diags_mock.token}"}
            answer = requests.post(diags_mock.base_url + "/inventory_device_diags/", headers=headers,
                                   json={"device_id": "device-12345", "diagnostic_type": "note"}, timeout=10)
            assert answer.status_code == 201
            diags_mock.verify(1)  # this test's own request only, whatever the other worker does
            assert diags_mock.state()["diagnostics"] == 201
            record(f"test-{number}", diags_mock)
    """)

    pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2").assert_outcomes(passed=8)

    urls_by_worker: dict[str, set[str]] = {}
    for entry in records(pytester.path):
        urls_by_worker.setdefault(entry["worker"], set()).add(entry["url"])
    assert sorted(urls_by_worker) == ["gw0", "gw1"]
    assert all(len(urls) == 1 for urls in urls_by_worker.values())
    assert urls_by_worker["gw0"] != urls_by_worker["gw1"]


def test_the_wheel_brings_the_plugin_to_a_fresh_environment(tmp_path: Path) -> None:
    """Built, installed with [mock] in a new virtual environment, used from outside the repository."""
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "*.db*"))
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("PYTHONPATH", "VIRTUAL_ENV") and not name.startswith("DIAGS_")}

    def run(*command: str | Path, cwd: Path = tmp_path) -> str:
        done = subprocess.run([str(part) for part in command], cwd=cwd, env=environment, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done.stdout

    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", tmp_path / "dist",
        source)
    [wheel] = (tmp_path / "dist").glob("diags_kit-*.whl")
    venv.create(tmp_path / "env", with_pip=True)
    python = tmp_path / "env" / "bin" / "python"
    run(python, "-m", "pip", "install", "--quiet", f"{wheel}[mock]")

    project = tmp_path / "project"
    project.mkdir()
    for name in ("diags_client.py", "test_diags_client.py"):
        shutil.copy(ROOT / "examples" / name, project / name)
    (project / "test_readme.py").write_text(readme_blocks("python")[0], encoding="utf-8")
    (project / "test_probe.py").write_text(MODULE_PROBE, encoding="utf-8")

    where = run(python, "-c", "import mockserver, pytest_diags_mock; print(mockserver.__file__)", cwd=project)
    assert Path(where.strip()).is_relative_to(tmp_path / "env")
    pytest_run = (python, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    output = run(*pytest_run, "test_diags_client.py", "test_readme.py", cwd=project)
    assert re.search(r"\b15 passed\b", output), output

    imported = []
    for options in ((), ("-p", "no:diags_mock")):
        run(*pytest_run, *options, "test_probe.py", cwd=project)
        imported.append(set(json.loads((project / "modules.json").read_text())))
    assert imported[0] - imported[1] == {"pytest_diags_mock"}
