"""``python -m bench.run`` (``make bench``): the mock against a bare Flask app under the same server.

Starts the mock as ``make serve`` does and ``bench.bare_app`` through the same granian options,
loads both with the same generator (wrk if installed, else ``bench.load``'s), and prints one table:
req/s, p50/p99 and the ratio to the bare app per workload; then the start-up time, any peers named
with ``--peer``, and the scale measurements (``bench.scale``). The report replaces the block
between the bench markers of bench/README.md. Every run is bounded in seconds and requests and loads
127.0.0.1 only. ``--duration 1 --repeat 1 --scale-diags 0 --no-postgres ...`` makes a smoke run.
The PostgreSQL part (``bench.postgres``) starts a throwaway cluster of its own; ``--no-postgres``
skips it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from mockserver.serving.server import ServerOptions

from . import postgres, report, scale, slow_clients
from .load import Bounds, pick_generator, require_loopback
from .measure import P99_TARGET_MS, Comparison, Plan, compare
from .probe import answer_sizes, discover
from .servers import AUTH_HEADERS, REPO_ROOT, Server, bare_command, free_port, mock_command
from .workloads import RESOURCE, Call, Workload, bare_twin, build_workloads, list_call

#: Where ``make bench`` writes its report, between the bench markers.
REPORT_PAGE = REPO_ROOT / "bench" / "README.md"
READY_TIMEOUT = 120.0
STARTUP_TARGET_S = 1.5

Peer = tuple[str, Comparison]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--duration", type=float, default=5.0, help="seconds per run (default %(default)s)")
    add("--connections", type=int, default=16, help="concurrent connections (default %(default)s)")
    add("--repeat", type=int, default=3, help="runs per workload and server (default %(default)s)")
    add("--max-requests", type=int, default=300_000,
        help="a run stops after this many answers (default %(default)s)")
    add("--warmup", type=float, default=1.0, help="seconds of warm-up per workload (default %(default)s)")
    add("--generator", choices=("auto", "wrk", "python"), default="auto",
        help="load generator: wrk if installed (auto), or the Python one")
    add("--threads", type=int, default=ServerOptions().threads,
        help="server threads, for both servers (default %(default)s, as make serve)")
    add("--no-access-log", action="store_true", help="serve both without the access log")
    add("--only", default="", help="comma-separated: only the workloads whose name contains one of these")
    add("--peer", action="append", default=[], metavar="NAME=URL",
        help="also load a peer on loopback with its one-record request, e.g. "
             "prism=http://127.0.0.1:4010/api/v1/inventory_device_diags/?limit=1")
    add("--slow-clients", type=int, default=slow_clients.STALLED,
        help="clients stalled mid-body (and as many mid-head) in the slow-client runs, 0 to skip them "
             "(default %(default)s)")
    add("--startup-runs", type=int, default=3, help="start-up measurements (default %(default)s)")
    add("--scale-diags", type=int, default=scale.SCALE_DIAGS,
        help="diagnostics of the scale run, 0 to skip it (default %(default)s)")
    add("--scale-devices", type=int, default=scale.SCALE_DEVICES,
        help="devices of the scale run (default %(default)s)")
    add("--scale-stores", default=",".join(scale.STORES),
        help="comma-separated stores of the scale run (default %(default)s)")
    add("--no-postgres", action="store_true",
        help="skip the PostgreSQL part (one instance against two on one database, and its pages)")
    add("--postgres-diags", type=int, default=postgres.POSTGRES_DIAGS,
        help="diagnostics of the PostgreSQL pages run, 0 to skip only that run (default %(default)s)")
    add("--readme", type=Path, default=REPORT_PAGE,
        help="the Markdown file whose bench block gets the report (default: bench/README.md)")
    add("--no-readme", action="store_true", help="print the report only")
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


def plan_of(args: argparse.Namespace) -> Plan:
    return Plan(
        generator=pick_generator(args.generator),
        bounds=Bounds(args.duration, args.max_requests, args.connections),
        warmup=Bounds(args.warmup, max(1, args.max_requests // 10), args.connections),
        repeat=args.repeat,
        headers=AUTH_HEADERS,
    )


def measure_servers(
    args: argparse.Namespace, plan: Plan, log_dir: Path
) -> tuple[list[Comparison], list[Peer]]:
    """The mock against the bare app, workload by workload, then against each peer."""
    access_log = not args.no_access_log
    mock_port, bare_port = free_port(), free_port()
    with (
        Server("mock", mock_command(mock_port, args.threads, access_log), mock_port, log_dir) as mock,
        Server("bare", bare_command(bare_port, args.threads, access_log), bare_port, log_dir) as bare,
    ):
        mock.wait_ready(f"{RESOURCE}?limit=1", AUTH_HEADERS, READY_TIMEOUT)
        bare.wait_ready("/bare/16", {}, READY_TIMEOUT)
        shape = discover(mock_port)
        workloads = [workload for workload in build_workloads(shape) if wanted(workload.name, args.only)]
        sizes = answer_sizes(mock_port, workloads)
        comparisons = []
        for workload in workloads:
            print(f"bench: {workload.name}", file=sys.stderr, flush=True)
            comparisons.append(compare(plan, workload, mock_port, bare_twin(workload, sizes), bare_port,
                                       mock.cpu_seconds, bare.cpu_seconds))
        one_record = Workload("one record", "read", (list_call(limit=1),))
        peers = []
        for name, port, peer_workload in (parse_peer(text) for text in args.peer):
            print(f"bench: peer {name}", file=sys.stderr, flush=True)
            peers.append((name, compare(plan, one_record, mock_port, peer_workload, port, mock.cpu_seconds)))
    return comparisons, peers


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    plan = plan_of(args)
    for text in args.peer:
        parse_peer(text)  # refuse a bad peer before anything runs
    stores = tuple(store.strip() for store in args.scale_stores.split(",") if store.strip())
    if not set(stores) <= set(scale.STORES):
        raise SystemExit(f"--scale-stores takes {', '.join(scale.STORES)}, not {args.scale_stores!r}")
    machine = report.machine_line()
    print(f"bench: {plan.generator}, {args.connections} connections, {args.duration:g}s x {args.repeat} "
          f"per workload; {machine}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="diags-bench-") as scratch:
        log_dir = Path(scratch)
        comparisons, peers = measure_servers(args, plan, log_dir)
        print("bench: start-up", file=sys.stderr, flush=True)
        startup = measure_startup(args.startup_runs, args.threads, not args.no_access_log, log_dir)
        slow_lines = []
        if args.slow_clients:
            slow_lines = slow_clients.measure(plan, args.threads, not args.no_access_log, log_dir,
                                              args.slow_clients)
        scale_lines = []
        if args.scale_diags:
            scale_lines = scale.run_scale(plan, args.scale_diags, args.scale_devices, args.threads,
                                          not args.no_access_log, log_dir, stores)
        postgres_lines = []
        if not args.no_postgres:
            measured = postgres.run_postgres(plan, args.postgres_diags, args.threads, not args.no_access_log,
                                             log_dir)
            postgres_lines = report.postgres_lines(measured, args.connections)
    block = render(args, plan.generator, machine, comparisons, peers, startup, slow_lines,
                   [*scale_lines, *([""] if scale_lines and postgres_lines else []), *postgres_lines])
    print(block)
    if args.no_readme:
        return
    if report.replace_between_markers(args.readme, block):
        print(f"bench: wrote the report into {args.readme.name}", file=sys.stderr)
    else:
        print(f"bench: {args.readme.name} has no {report.START_MARKER} ... {report.END_MARKER} block; "
              "the report above was not written anywhere", file=sys.stderr)


def render(
    args: argparse.Namespace,
    generator: str,
    machine: str,
    comparisons: list[Comparison],
    peers: list[tuple[str, Comparison]],
    startup: list[float],
    slow_lines: list[str],
    scale_lines: list[str],
) -> str:
    logging = "off" if args.no_access_log else "on: the mock's own, the same middleware around the bare app"
    lines = [
        f"Measured {report.now_stamp()} by `make bench` on: {machine}.",
        "",
        f"Both servers run under granian with the mock's own options ({args.threads} threads, access log "
        f"{logging}); load from {report.generator_version(generator)}, {args.connections} connections, "
        f"{args.duration:g} s x {args.repeat} runs per workload, alternating mock and bare app; medians, "
        "with the range over the runs. *Ratio* is the mock's throughput over the bare Flask app's for a "
        "body of the same size, run by run. Method: [below](#method); profile: "
        "[where the time goes](#where-the-time-goes-profile).",
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
    if slow_lines:
        lines += ["", *slow_lines]
    if scale_lines:
        lines += ["", *scale_lines]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
