"""``python -m bench.run`` (``make bench``): the mock against a bare Flask app under the same server.

Starts the mock as ``make serve`` does and ``bench.bare_app`` through the same granian options,
loads both with the same generator (wrk if installed, else ``bench.load``'s), and prints one table:
req/s, p50/p99 and the ratio to the bare app per workload; then the start-up time, any peers named
with ``--peer``, and the scale measurements (``bench.scale``). The report replaces the block
between the bench markers of README.md. Every run is bounded in seconds and requests and loads
127.0.0.1 only. ``--duration 1 --repeat 1 --scale-diags 0 ...`` makes a smoke run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from mockserver.server import ServerOptions

from . import report, scale
from .load import Bounds, pick_generator, require_loopback
from .measure import P99_TARGET_MS, Comparison, compare
from .probe import answer_sizes, discover
from .servers import AUTH_HEADERS, REPO_ROOT, Server, bare_command, free_port, mock_command
from .workloads import RESOURCE, Call, Workload, bare_twin, build_workloads, list_call

READY_TIMEOUT = 120.0
STARTUP_TARGET_S = 1.5


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per run (default %(default)s)")
    parser.add_argument(
        "--connections", type=int, default=16, help="concurrent connections (default %(default)s)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per workload and server (default %(default)s)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=300_000,
        help="a run stops after this many answers (default %(default)s)",
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of warm-up per workload (default 1)"
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk if installed (auto), or the Python one",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=ServerOptions().threads,
        help="server threads, for both servers (default %(default)s, as make serve)",
    )
    parser.add_argument("--no-access-log", action="store_true", help="serve both without the access log")
    parser.add_argument("--only", default="",
                        help="comma-separated: only the workloads whose name contains one of these texts")
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="also load a peer on loopback with its one-record request, e.g. "
        "prism=http://127.0.0.1:4010/api/v1/inventory_device_diags/?limit=1",
    )
    parser.add_argument("--startup-runs", type=int, default=3, help="start-up measurements (default 3)")
    parser.add_argument(
        "--scale-diags",
        type=int,
        default=scale.SCALE_DIAGS,
        help="diagnostics of the scale run, 0 to skip it (default %(default)s)",
    )
    parser.add_argument(
        "--scale-devices",
        type=int,
        default=scale.SCALE_DEVICES,
        help="devices of the scale run (default %(default)s)",
    )
    parser.add_argument(
        "--readme",
        type=Path,
        default=REPO_ROOT / "README.md",
        help="README whose bench block gets the report (default: the repository's)",
    )
    parser.add_argument("--no-readme", action="store_true", help="print the report only")
    return parser


def wanted(name: str, only: str) -> bool:
    """Whether ``--only`` keeps the workload called ``name``."""
    texts = [text.strip() for text in only.split(",") if text.strip()]
    return not texts or any(text in name for text in texts)


def parse_peer(text: str) -> tuple[str, int, Workload]:
    name, _, url = text.partition("=")
    parts = urlsplit(url)
    if not name or parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SystemExit(f"--peer wants NAME=http://127.0.0.1:PORT/PATH, not {text!r}")
    require_loopback(parts.hostname)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return name, parts.port, Workload(f"{name}: one record", "read", (Call("GET", target),))


def measure_startup(runs: int, threads: int, access_log: bool, log_dir: Path) -> list[float]:
    """Seconds from launching ``python -m mockserver serve`` (default data) to its first answered page."""
    times = []
    for _ in range(runs):
        port = free_port()
        with Server("startup", mock_command(port, threads, access_log), port, log_dir) as server:
            times.append(server.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, READY_TIMEOUT))
    return times


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    generator = pick_generator(args.generator)
    access_log = not args.no_access_log
    bounds = Bounds(args.duration, args.max_requests, args.connections)
    warmup = Bounds(args.warmup, max(1, args.max_requests // 10), args.connections)
    peers = [parse_peer(text) for text in args.peer]
    machine = report.machine_line()
    print(
        f"bench: {generator}, {args.connections} connections, "
        f"{args.duration:g}s x {args.repeat} per workload; "
        f"{machine}",
        file=sys.stderr,
    )
    with tempfile.TemporaryDirectory(prefix="diags-bench-") as scratch:
        log_dir = Path(scratch)
        mock_port, bare_port = free_port(), free_port()
        with (
            Server("mock", mock_command(mock_port, args.threads, access_log), mock_port, log_dir) as mock,
            Server("bare", bare_command(bare_port, args.threads, access_log), bare_port, log_dir) as bare,
        ):
            mock.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, READY_TIMEOUT)
            bare.wait_ready("/bare/16", {}, READY_TIMEOUT)
            workloads = [
                workload for workload in build_workloads(discover(mock_port)) if wanted(workload.name, args.only)
            ]
            sizes = answer_sizes(mock_port, workloads)
            comparisons = []
            for workload in workloads:
                print(f"bench: {workload.name}", file=sys.stderr, flush=True)
                comparisons.append(
                    compare(
                        generator,
                        workload,
                        bare_twin(workload, sizes),
                        mock_port,
                        bare_port,
                        AUTH_HEADERS,
                        bounds,
                        warmup,
                        args.repeat,
                    )
                )
            one_record = Workload("one record", "read", (list_call(limit=1),))
            peer_rows = []
            for name, port, peer_workload in peers:
                print(f"bench: peer {name}", file=sys.stderr, flush=True)
                peer_rows.append(
                    (
                        name,
                        compare(
                            generator,
                            one_record,
                            peer_workload,
                            mock_port,
                            port,
                            AUTH_HEADERS,
                            bounds,
                            warmup,
                            args.repeat,
                        ),
                    )
                )
        print("bench: start-up", file=sys.stderr, flush=True)
        startup = measure_startup(args.startup_runs, args.threads, access_log, log_dir)
        scale_lines = (
            scale.run_scale(
                args.scale_diags,
                args.scale_devices,
                generator,
                args.threads,
                access_log,
                bounds,
                warmup,
                args.repeat,
                log_dir,
            )
            if args.scale_diags
            else []
        )
    block = render(args, generator, machine, comparisons, peer_rows, startup, scale_lines)
    print(block)
    if args.no_readme:
        return
    if report.replace_between_markers(args.readme, block):
        print(f"bench: wrote the report into {args.readme.name}", file=sys.stderr)
    else:
        print(
            f"bench: {args.readme.name} has no {report.START_MARKER} ... {report.END_MARKER} block; "
            "the report above was not written anywhere",
            file=sys.stderr,
        )


def render(
    args: argparse.Namespace,
    generator: str,
    machine: str,
    comparisons: list[Comparison],
    peers: list[tuple[str, Comparison]],
    startup: list[float],
    scale_lines: list[str],
) -> str:
    logging = "off" if args.no_access_log else "on"
    lines = [
        f"Measured {report.now_stamp()} by `make bench` on: {machine}.",
        "",
        f"Both servers run under granian with the mock's own options ({args.threads} threads, access log "
        f"{logging}); load from {report.generator_version(generator)}, {args.connections} connections, "
        f"{args.duration:g} s x {args.repeat} runs per workload, alternating mock and bare app; medians, "
        "with the range over the runs. *Ratio* is the mock's throughput over the bare Flask app's for a "
        "body of the same size, run by run. Method and profile: [bench/README.md](bench/README.md).",
        "",
        *report.comparison_table(comparisons),
    ]
    if any(row.mock.capped or row.reference.capped for row in comparisons):
        lines += ["", f"Some runs reached the cap of {args.max_requests:,} requests before their time."]
    if peers:
        lines += ["", *report.peer_table(peers)]
    if startup:
        median = statistics.median(startup)
        met = "yes" if median < STARTUP_TARGET_S else "no"
        lines += [
            "",
            f"Start-up to the first answered page, default data: {median:.2f} s median "
            f"({min(startup):.2f}-{max(startup):.2f} s over {len(startup)}); target < "
            f"{STARTUP_TARGET_S} s: {met}.",
        ]
    slow_p99 = [row.workload.name for row in comparisons if row.mock.p99_ms >= P99_TARGET_MS]
    if slow_p99:
        lines += ["", f"p99 at or over {P99_TARGET_MS:.0f} ms: {', '.join(slow_p99)}."]
    if scale_lines:
        lines += ["", *scale_lines]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
