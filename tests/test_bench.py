"""The benchmark harness (``bench/``), run with tiny bounds: it counts, caps, compares and reports.

Nothing here asserts how fast anything is; the servers run on free loopback ports and every load
run is bounded to a few hundred requests and a few seconds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import bare_app, postgres, report, run
from bench.load import Bounds, LoadResult, python_load, require_loopback
from bench.measure import READ_TARGET, WRITE_TARGET, ratio_target
from bench.servers import HOST, Server, bare_command, free_port
from bench.workloads import Call, DataShape, Workload, bare_twin, build_workloads, post_call
from mockserver.throwaway_postgres import Cluster

READY_SECONDS = 60.0
TINY = Bounds(seconds=5.0, max_requests=60, connections=3)
SMOKE_ARGS = ["--duration", "0.5", "--repeat", "1", "--warmup", "0.2", "--max-requests", "40",
              "--connections", "2", "--startup-runs", "1", "--only", "first page,POST",
              "--scale-diags", "300", "--scale-devices", "30", "--scale-stores", "memory", "--no-postgres"]
README = "# Title\n\nbefore\n\n<!-- bench:start -->\nold table\n<!-- bench:end -->\n\nafter\n"


@pytest.fixture(scope="module")
def bare_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    logs = tmp_path_factory.mktemp("bench-logs")
    with Server("bare", bare_command(port, threads=2, access_log=False), port, logs) as server:
        server.wait_ready("/bare/16", {}, READY_SECONDS)
        yield port


def bare_workload(size: int = 100) -> Workload:
    return Workload("bare", "read", (Call("GET", f"/bare/{size}"),))


def test_fixed_body_is_json_of_the_asked_size() -> None:
    for size in (11, 12, 612, 9000):
        body = bare_app.fixed_body(size)
        assert len(body) == size
        assert json.loads(body)["pad"] == "x" * (size - 11)


def test_python_generator_stops_at_the_request_cap(bare_port: int) -> None:
    result = python_load(HOST, bare_port, bare_workload(), {}, TINY)
    assert result.capped
    assert result.requests == TINY.max_requests
    assert result.unexpected == 0
    assert 0 < result.p50_ms <= result.p99_ms


def test_python_generator_counts_unexpected_statuses(bare_port: int) -> None:
    missing = Workload("missing", "read", (Call("GET", "/no-such-route"),))
    result = python_load(HOST, bare_port, missing, {}, TINY)
    assert result.requests == TINY.max_requests
    assert result.unexpected == TINY.max_requests


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_stops_at_the_request_cap(bare_port: int) -> None:
    from bench.wrk import wrk_load

    result = wrk_load(HOST, bare_port, bare_workload(), {}, TINY)
    assert result.capped
    assert TINY.max_requests <= result.requests <= TINY.max_requests + TINY.connections
    assert result.unexpected == 0
    assert result.seconds < TINY.seconds


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.10", "example.com", "8.8.8.8"])
def test_only_loopback_is_loaded(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        require_loopback(host)
    with pytest.raises(ValueError, match="loopback"):
        python_load(host, 80, bare_workload(), {}, TINY)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_is_allowed(host: str) -> None:
    require_loopback(host)


def test_a_peer_elsewhere_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        run.parse_peer("prism=http://10.1.2.3:4010/api/v1/inventory_device_diags/?limit=1")


def test_targets_follow_the_mix_of_reads_and_writes() -> None:
    workloads = {workload.name: workload for workload in build_workloads(DataShape(200, "device-00001"))}
    assert ratio_target(workloads["first page (20)"]) == READ_TARGET
    assert ratio_target(workloads["POST (documented body)"]) == WRITE_TARGET
    assert ratio_target(workloads["update_status=true (one device)"]) == WRITE_TARGET
    mix = workloads["mix 90% reads / 10% writes"]
    assert ratio_target(mix) == pytest.approx(0.9 * READ_TARGET + 0.1 * WRITE_TARGET)


def test_bare_twin_answers_as_many_bytes_to_the_same_methods() -> None:
    post = post_call()
    twin = bare_twin(Workload("post", "write", (post,)), {post: 640})
    assert twin.calls[0].method == "POST"
    assert twin.calls[0].target == "/bare/640"
    assert twin.calls[0].body == post.body


def test_readme_without_markers_is_left_alone(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nno markers\n")
    assert not report.replace_between_markers(readme, "table")
    assert readme.read_text() == "# Title\n\nno markers\n"


def test_make_bench_writes_into_the_one_marked_block_of_bench_readme() -> None:
    assert run.build_parser().parse_args([]).readme == run.REPORT_PAGE
    text = run.REPORT_PAGE.read_text(encoding="utf-8")
    assert text.count(report.START_MARKER) == 1 and text.count(report.END_MARKER) == 1
    assert text.index(report.START_MARKER) > text.index("## Latest results")
    top_level = (run.REPORT_PAGE.parent.parent / "README.md").read_text(encoding="utf-8")
    assert report.START_MARKER not in top_level


def test_smoke_run_reports_between_the_markers_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    run.main([*SMOKE_ARGS, "--generator", "python", "--readme", str(readme)])
    text = readme.read_text()
    before, block = text.split("<!-- bench:start -->\n")
    block, after = block.split("<!-- bench:end -->")
    assert before == "# Title\n\nbefore\n\n"
    assert after == "\n\nafter\n"
    assert "old table" not in block
    assert "| first page (20) |" in block
    assert "| POST (documented body) |" in block
    assert "unexpected answers" not in block
    assert "Start-up to the first answered page" in block
    assert "| memory | filtered by device |" in block
    assert block in capsys.readouterr().out


def test_merged_generators_add_up_and_keep_the_worse_latency() -> None:
    one = LoadResult(100, 2.0, 1.0, 5.0, 1, False, "wrk")
    other = LoadResult(50, 2.5, 2.0, 3.0, 0, True, "wrk")
    both = postgres.merged([one, other])
    assert (both.requests, both.seconds, both.p50_ms, both.p99_ms) == (150, 2.5, 2.0, 5.0)
    assert (both.unexpected, both.capped) == (1, True)


def test_without_postgresql_the_report_says_it_was_not_measured(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> None:
        raise postgres.Unavailable("no initdb found")

    monkeypatch.setattr(postgres, "throwaway_cluster", unavailable)
    measured = postgres.run_postgres(run.plan_of(run.build_parser().parse_args(SMOKE_ARGS)), 300, 2, False,
                                     tmp_path)
    assert report.postgres_lines(measured, 2) == [
        f"**PostgreSQL**: not measured: no initdb found ({postgres.INSTALL_HINT}, and pip install "
        "'diags-kit[postgres]')."]


def test_the_postgresql_part_reports_two_instances_and_the_pages(
        postgres_cluster: Cluster, tmp_path: Path) -> None:
    plan = run.plan_of(run.build_parser().parse_args([*SMOKE_ARGS, "--generator", "python"]))
    measured = postgres.run_postgres(plan, 300, 2, False, tmp_path, cluster=postgres_cluster)
    block = "\n".join(report.postgres_lines(measured, 2))
    for workload in ("first page (20)", "POST (documented body)", "mix 90% reads / 10% writes"):
        assert f"| {workload} | 1 |" in block and f"| {workload} | 2 |" in block
    for request in ("first page", "filtered by device", "deep page"):
        assert f"| postgresql | {request} |" in block
    assert "CPU per request is the comparable figure" in block
    assert "unexpected answers" not in block and "no answer" not in block
