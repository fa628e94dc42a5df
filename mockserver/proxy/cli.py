"""The proxy's commands: ``proxy``, ``record`` and ``check-har`` of ``python -m mockserver``.

``add_commands`` adds their parsers to the mock's command line; ``run`` runs one of them and says
whether it was one of them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROXY_COMMANDS = ("proxy", "record", "check-har")


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    proxy = commands.add_parser(
        "proxy", help="forward to a real server and check every exchange against the contract",
        description="Serve http://HOST:PORT/api/v1, forward every request to --upstream, return its answer "
                    "unchanged (but for pagination links, which point back at the proxy), and check each "
                    "exchange with the contract's claims. Violations: X-Contract-Violations on each answer, "
                    "GET /__admin/violations, one log line each.")
    proxy.add_argument("--upstream", required=True, metavar="URL",
                       help="the API base URL to forward to, e.g. https://staging.example/api/v1")
    proxy.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    proxy.add_argument("--port", type=int, default=8001, help="port to bind (default %(default)s)")
    proxy.add_argument("--report", type=Path, metavar="DIR",
                       help="keep a JSON and a JUnit XML report of the violations in DIR (complete at exit)")
    proxy.add_argument("--errors", action="store_true",
                       help="answer a response that breaks the contract with a 502 naming the claims")
    proxy.add_argument("--record", type=Path, metavar="FILE",
                       help="write every record that passes through to FILE, a fixture file for serve")
    proxy.add_argument("--admin-token", metavar="TOKEN",
                       help="bearer token of /__admin/; without one it is open on a loopback --host only")
    proxy.add_argument("--threads", type=int, default=8, help="request threads (default %(default)s)")

    record = commands.add_parser(
        "record", help="copy a server's records into a fixture file (GET only)",
        description="Walk the API read-only (GET, never update_status=true) and write the records, exactly "
                    "as served, with their devices, to a fixture file that serve --fixtures serves.")
    record.add_argument("--from", dest="source", required=True, metavar="URL", help="the API base URL")
    record.add_argument("--token", required=True, help="bearer token of the source (never written)")
    record.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="file to write")
    record.add_argument("--device", action="append", dest="devices", metavar="ID",
                        help="only this device's records; repeat for several (default: every record)")
    record.add_argument("--max-records", type=int, default=10_000, metavar="N",
                        help="stop after N records (default %(default)s)")

    har = commands.add_parser("check-har", help="check a HAR capture against the contract, offline",
                              description="Check every exchange with the API in a HAR file with the same "
                                          "claims as the proxy; exit 1 when any is broken.")
    har.add_argument("file", type=Path, metavar="FILE", help="the .har file")
    har.add_argument("--base-url", metavar="URL",
                     help="the API base URL in the capture (default: found from the resource's URLs)")


def run(args: argparse.Namespace) -> bool:
    """Run ``args.command`` if it is one of the proxy's; False for any other command."""
    if args.command not in PROXY_COMMANDS:
        return False
    if args.command == "proxy":
        _proxy(args)
    elif args.command == "record":
        from .walk import record

        sys.exit(record(args.source, args.token, args.output, args.devices or [], args.max_records))
    else:
        from .har import check_har

        sys.exit(check_har(args.file, args.base_url))
    return True


def _proxy(args: argparse.Namespace) -> None:
    from mockserver.control.admin import is_loopback
    from mockserver.serving.server import ServerOptions, serve

    upstream = args.upstream.rstrip("/")
    if not upstream.startswith(("http://", "https://")):
        raise SystemExit(f"--upstream takes an http(s) API base URL, not {args.upstream!r}")
    settings = {"PROXY_UPSTREAM": upstream, "PROXY_HOST": args.host, "PROXY_ADMIN_TOKEN": args.admin_token,
                "PROXY_REPORT_DIR": str(args.report) if args.report else None, "PROXY_ERRORS": args.errors,
                "PROXY_RECORD": str(args.record) if args.record else None}
    print(f"diags-kit proxy: http://{args.host}:{args.port}/api/v1 -> {upstream}"
          f"{' (--errors: a broken answer becomes a 502)' if args.errors else ''}", flush=True)
    if args.admin_token:
        access = "bearer admin token required"
    elif is_loopback(args.host):
        access = "open: loopback address, no --admin-token"
    else:
        access = "off (404): not a loopback address and no --admin-token"
    print(f"diags-kit proxy: violations at http://{args.host}:{args.port}/__admin/violations ({access})",
          flush=True)
    if args.report:
        print(f"diags-kit proxy: reports in {args.report}/", flush=True)
    if args.record:
        print(f"diags-kit proxy: recording records into {args.record}", flush=True)
    # One worker: the checks across exchanges need all the traffic in one process.
    # Each request waits on the upstream, so each runs in one of --threads threads, not on the event loop.
    serve(ServerOptions(host=args.host, port=args.port, threads=args.threads, workers=1, access_log=False,
                        app_config=settings, factory="mockserver.proxy.app:app_from_environment",
                        blocking_app=True))
