"""The command line: ``python -m mockserver serve`` and ``python -m mockserver fixtures``.

Every option of ``serve`` falls back to an environment variable (named in ``--help``), then to
its default.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fixtures
import mockserver.proxy.cli as proxy_cli

from ..core import config
from ..storage.postgres import masked

ENV_PREFIX = "DIAGS_"


def _env(name: str, default: Any) -> Any:
    return os.environ.get(ENV_PREFIX + name, default)


def _tokens_from_env() -> list[str] | None:
    raw = os.environ.get(ENV_PREFIX + "TOKENS", "")
    tokens = [token.strip() for token in raw.split(",") if token.strip()]
    return tokens or None


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=int(_env("SEED", fixtures.DEFAULT_SEED)),
                        help="seed of the generated data: the same seed gives the same data, byte for byte "
                             "(env DIAGS_SEED; default %(default)s)")
    parser.add_argument("--devices", type=int, default=int(_env("DEVICES", fixtures.DEFAULT_DEVICES)),
                        help="devices to generate (env DIAGS_DEVICES; default %(default)s)")
    parser.add_argument("--diags", type=int, default=int(_env("DIAGS", fixtures.DEFAULT_DIAGS)),
                        help="diagnostics to generate (env DIAGS_DIAGS; default %(default)s)")
    parser.add_argument("--reference-time", default=_env("REFERENCE_TIME", fixtures.DEFAULT_REFERENCE_TIME),
                        help="generated timestamps lie before this RFC 3339 instant, not the clock "
                             "(env DIAGS_REFERENCE_TIME; default %(default)s)")


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    limits = (("--max-body", "MAX_BODY_BYTES", int, config.MAX_BODY_BYTES, "BYTES",
               "larger request bodies get a 413"),
              ("--max-header-bytes", "MAX_HEADER_BYTES", int, config.MAX_HEADER_BYTES, "BYTES",
               "larger request headers (all together) get a 431"),
              ("--max-url-bytes", "MAX_URL_BYTES", int, config.MAX_URL_BYTES, "BYTES",
               "a longer path and query string gets a 414"),
              ("--max-json-depth", "MAX_JSON_DEPTH", int, config.MAX_JSON_DEPTH, "LEVELS",
               "a JSON body nested deeper gets a 400"),
              ("--request-timeout", "REQUEST_TIMEOUT", float, config.REQUEST_TIMEOUT_SECONDS, "SECONDS",
               "an API request still running after this gets a 503 with Retry-After; 0: no time-out"),
              ("--body-timeout", "BODY_TIMEOUT", float, config.BODY_TIMEOUT_SECONDS, "SECONDS",
               "a request whose body has not all arrived this long after its head gets a 408; "
               "0: no time-out"))
    for option, env_name, kind, default, metavar, what in limits:
        parser.add_argument(option, type=kind, default=kind(_env(env_name, default)), metavar=metavar,
                            help=f"{what} (env DIAGS_{env_name}; default %(default)s)")


def _add_control_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin-token", default=_env("ADMIN_TOKEN", None), metavar="TOKEN",
                        help="bearer token of the admin API under /__admin/ (env DIAGS_ADMIN_TOKEN); without "
                             "one the admin API is open on a loopback --host and answers 404 on any other")
    parser.add_argument("--journal-size", type=int, default=int(_env("JOURNAL_SIZE", config.JOURNAL_SIZE)),
                        metavar="N", help="requests the admin API's journal keeps, newest first; 0 turns it "
                                          "off (env DIAGS_JOURNAL_SIZE; default %(default)s)")
    parser.add_argument("--faults", type=Path, default=_env("FAULTS_FILE", None), metavar="FILE",
                        help='JSON file of faults in force from the start: {"faults": [{"method": "GET", '
                             '"path": "/api/v1/inventory_device_diags/", "latency_ms": 400}, ...]} '
                             "(env DIAGS_FAULTS_FILE)")
    parser.add_argument("--latency", default=_env("LATENCY", None), metavar="MS[-MAX]",
                        help="delay every API answer by MS milliseconds, or a seeded random MS to MAX "
                             "(env DIAGS_LATENCY)")
    parser.add_argument("--error-rate", type=float, default=_env("ERROR_RATE", None), metavar="RATE",
                        help="answer this share (0 to 1) of API requests with --error-status, seeded "
                             "(env DIAGS_ERROR_RATE)")
    parser.add_argument("--error-status", type=int, default=int(_env("ERROR_STATUS", 503)),
                        metavar="STATUS", help="the status of --error-rate's errors "
                                               "(env DIAGS_ERROR_STATUS; default %(default)s)")
    parser.add_argument("--cors-origin", action="append", dest="cors_origins", metavar="ORIGIN",
                        help="let browser pages from ORIGIN (e.g. http://localhost:3000, or *) call the API; "
                             "repeat for several (env DIAGS_CORS_ORIGINS, comma-separated)")
    parser.add_argument("--db", default=_env("DB", None), metavar="PATH|URL",
                        help="keep the inventory and every diagnostic in this SQLite file (created and "
                             "filled from the seed if new): a restart loses nothing; or in the PostgreSQL "
                             "database of a postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME URL, shared by "
                             "every instance started on it (env DIAGS_DB)")
    parser.add_argument("--instance-name", default=_env("INSTANCE_NAME", None), metavar="NAME",
                        help="this instance's name in every journal entry (env DIAGS_INSTANCE_NAME; "
                             "default HOST:PORT)")
    parser.add_argument("--workers", type=int, default=int(_env("WORKERS", 1)), metavar="N",
                        help="worker processes; more than 1 needs --db, where they share one state "
                             "(env DIAGS_WORKERS; default %(default)s)")


def _startup_faults(args: argparse.Namespace) -> list[Any]:
    raw: list[Any] = []
    if args.faults:
        try:
            loaded = json.loads(Path(args.faults).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SystemExit(f"cannot read the faults file {args.faults}: {error}") from None
        raw.extend(loaded.get("faults", [loaded]) if isinstance(loaded, dict) else loaded)
    if args.latency:
        low, _, high = str(args.latency).partition("-")
        try:
            latency: dict[str, Any] = {"latency_ms": int(low)}
            if high:
                latency["latency_max_ms"] = int(high)
        except ValueError:
            raise SystemExit(f"--latency takes MS or MS-MAX (milliseconds), not {args.latency!r}") from None
        raw.append(latency)
    if args.error_rate is not None:
        raw.append({"status": args.error_status, "rate": float(args.error_rate)})
    return raw


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mockserver",
                                     description="The diags-kit mock of the Inventory Device Diags API.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API at http://HOST:PORT/api/v1",
                                description="Serve the mock API under granian until SIGINT or SIGTERM.")
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"),
                       help="address to bind (env DIAGS_HOST; default %(default)s: loopback only)")
    serve.add_argument("--port", type=int, default=int(_env("PORT", 8000)),
                       help="port to bind (env DIAGS_PORT; default %(default)s)")
    serve.add_argument("--token", action="append", dest="tokens", metavar="TOKEN",
                       help="an accepted bearer token; repeat for several "
                            f"(env DIAGS_TOKENS, comma-separated; default {config.DEFAULT_TOKEN})")
    _add_data_options(serve)
    serve.add_argument("--fixtures", type=Path, default=_env("FIXTURES", None), metavar="FILE",
                       help="serve the devices and diagnostics of this fixture file "
                            "instead of generating them (env DIAGS_FIXTURES)")
    serve.add_argument("--cache-dir", type=Path, default=_env("CACHE_DIR", None), metavar="DIR",
                       help="keep large generated data (--diags 50000 or more) here, for a later start with "
                            "the same data (env DIAGS_CACHE_DIR; default $XDG_CACHE_HOME/diags-kit or "
                            "~/.cache/diags-kit)")
    serve.add_argument("--no-cache", action="store_true",
                       default=str(_env("NO_CACHE", "")).lower() in ("1", "true", "yes"),
                       help="generate large data again at every start, keeping nothing "
                            "(env DIAGS_NO_CACHE=1)")
    serve.add_argument("--helpers-config", type=Path, default=_env("HELPERS_CONFIG", None), metavar="FILE",
                       help="JSON file configuring the diagnostic helpers that update_status=true "
                            'runs, e.g. {"helpers": ["resources", "connectivity"], '
                            '"thresholds": {"disk_low_percent": 25}} (env DIAGS_HELPERS_CONFIG)')
    serve.add_argument("--page-size", type=int, default=int(_env("PAGE_SIZE", config.DEFAULT_PAGE_SIZE)),
                       help="page size when the request gives no limit "
                            "(env DIAGS_PAGE_SIZE; default %(default)s)")
    serve.add_argument("--max-page-size", type=int, default=int(_env("MAX_PAGE_SIZE", config.MAX_PAGE_SIZE)),
                       help="larger limits are capped to this (env DIAGS_MAX_PAGE_SIZE; default %(default)s)")
    _add_limit_options(serve)
    _add_control_options(serve)
    serve.add_argument("--threads", type=int, default=int(_env("THREADS", 2)),
                       help="threads for the requests that can wait (injected latency, a reset, --db); the "
                            "others are answered on the event loop (env DIAGS_THREADS; default %(default)s)")
    serve.add_argument("--no-access-log", action="store_true",
                       default=str(_env("NO_ACCESS_LOG", "")).lower() in ("1", "true", "yes"),
                       help="do not log one line per request (env DIAGS_NO_ACCESS_LOG=1)")
    serve.add_argument("--strict", action="store_true",
                       default=str(_env("STRICT", "")).lower() in ("1", "true", "yes"),
                       help="debugging: validate every response against schemas/ and answer a violation "
                            "with a 500 saying why (env DIAGS_STRICT=1)")

    generate = commands.add_parser("fixtures", help="write a fixture file",
                                   description="Generate seeded devices and diagnostics into a JSON file.")
    _add_data_options(generate)
    generate.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                          help="file to write; - for standard output")
    proxy_cli.add_commands(commands)
    return parser


def _helper_config(path: Path | None) -> Any:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SystemExit(f"cannot read the helpers configuration {path}: {error}") from None


def app_config(args: argparse.Namespace) -> dict[str, Any]:
    """The ``create_app`` settings that ``serve``'s options ask for (JSON-serializable)."""
    settings: dict[str, Any] = {
        "DIAGS_TOKENS": args.tokens or _tokens_from_env() or [config.DEFAULT_TOKEN],
        "DIAGS_SEED": args.seed,
        "DIAGS_DEVICES": args.devices,
        "DIAGS_DIAGS": args.diags,
        "DIAGS_REFERENCE_TIME": args.reference_time,
        "DIAGS_FIXTURES_PATH": str(args.fixtures) if args.fixtures else None,
        "DIAGS_PAGE_SIZE": args.page_size,
        "DIAGS_MAX_PAGE_SIZE": args.max_page_size,
        "MAX_CONTENT_LENGTH": args.max_body,
        "DIAGS_MAX_HEADER_BYTES": args.max_header_bytes,
        "DIAGS_MAX_URL_BYTES": args.max_url_bytes,
        "DIAGS_MAX_JSON_DEPTH": args.max_json_depth,
        "DIAGS_REQUEST_TIMEOUT": args.request_timeout,
        "DIAGS_BODY_TIMEOUT": args.body_timeout,
        "DIAGS_STRICT": args.strict,
    }
    helpers = _helper_config(args.helpers_config)
    if helpers is not None:
        settings["DIAGS_HELPERS"] = helpers
    origins = args.cors_origins or [origin.strip() for origin in str(_env("CORS_ORIGINS", "")).split(",")]
    settings.update({
        "DIAGS_HOST": args.host,
        "DIAGS_ADMIN_TOKEN": args.admin_token or None,
        "DIAGS_JOURNAL_SIZE": args.journal_size,
        "DIAGS_FAULTS": _startup_faults(args),
        "DIAGS_CORS_ORIGINS": [origin for origin in origins if origin],
        "DIAGS_DB": str(args.db) if args.db else None,
        "DIAGS_INSTANCE_NAME": args.instance_name or f"{args.host}:{args.port}",
    })
    settings.update({
        "DIAGS_CACHE_DIR": str(args.cache_dir) if args.cache_dir else None,
        "DIAGS_NO_CACHE": args.no_cache,
        # Not an option: the tests lower it to see the large-data path with small data.
        "DIAGS_SNAPSHOT_MIN_DIAGS": _env("SNAPSHOT_MIN_DIAGS", None),
    })
    return settings


def _prepare_control(args: argparse.Namespace, settings: dict[str, Any]) -> Path | None:
    """Check the control-plane options and prepare the data (``prepare``); a folder to remove at the end."""
    from ..control.admin import is_loopback
    from ..control.faults import FaultError, parse_faults
    from ..services import open_database
    from ..storage.sqlite import DatabaseError
    from ..storage.startup import open_fault_book
    from . import prepare

    if args.workers < 1 or (args.workers > 1 and not args.db):
        raise SystemExit(f"--workers {args.workers} needs --db PATH: worker processes share their data only "
                         "through a database (or serve with --workers 1)")
    try:
        startup = parse_faults(settings["DIAGS_FAULTS"])
    except FaultError as error:
        raise SystemExit(f"invalid start-up fault: {error}") from None
    try:
        scratch = prepare.prepare_data(settings)
    except prepare.PreparationError as error:
        raise SystemExit(str(error)) from None
    if args.db:
        try:
            store = open_database(settings)
        except DatabaseError as error:
            raise SystemExit(f"cannot use --db {masked(args.db)}: {error}") from None
        open_fault_book(store.database).add(startup)
        stats, seed = store.stats(), store.seed()
        store.database.close()
        settings["DIAGS_DB_PREPARED"] = True
        print(f"diags-kit mock: data in {masked(args.db)}: {stats['devices']} devices, "
              f"{stats['diagnostics']} diagnostics, seed {seed}", flush=True)
        if seed != args.seed:
            print(f"diags-kit mock: the database keeps its data (seed {seed}); --seed {args.seed} is not "
                  f"applied (POST /__admin/reset {{\"seed\": {args.seed}}} to regenerate)", flush=True)
    if settings["DIAGS_ADMIN_TOKEN"]:
        access = "bearer admin token required"
    elif is_loopback(args.host):
        access = "open: loopback address, no --admin-token"
    else:
        access = "off (404): not a loopback address and no --admin-token"
    print(f"diags-kit mock: admin API at http://{args.host}:{args.port}/__admin/ ({access})", flush=True)
    return scratch


def _shown_tokens(tokens: list[str]) -> str:
    # Tokens are never logged; only the README's public default is worth showing.
    hidden = sum(token != config.DEFAULT_TOKEN for token in tokens)
    shown = [config.DEFAULT_TOKEN] if config.DEFAULT_TOKEN in tokens else []
    return ", ".join([*shown, *([f"{hidden} more (not shown)"] if hidden else [])])


def port_in_use_message(host: str, port: int) -> str:
    """The one line a busy port gets, with the way out."""
    return (f"diags-kit mock: port {port} on {host} is already in use (another server, or a mock still "
            f"running?); choose another port: --port N, DIAGS_PORT=N, or PORT=N with make serve")


def _refuse_a_busy_port(host: str, port: int) -> None:
    """Stop with one line before any data is prepared when the port is taken (granian's own error is a
    Rust backtrace of some 80 lines)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError):
        return  # granian will say what is wrong with the host
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As granian binds: a port left in TIME_WAIT by a stopped server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise SystemExit(port_in_use_message(host, port)) from None


def _serve(args: argparse.Namespace) -> None:
    from ..api.diagnostics import HelperConfigError, parse_config
    from .server import ServerOptions, serve

    _refuse_a_busy_port(args.host, args.port)
    settings = app_config(args)
    if "DIAGS_HELPERS" in settings:
        try:
            parse_config(settings["DIAGS_HELPERS"])
        except HelperConfigError as error:
            print(f"warning: diagnostic helper configuration is broken ({error}); "
                  "update_status=true will answer 500", file=sys.stderr)
    scratch = _prepare_control(args, settings)
    base_url = f"http://{args.host}:{args.port}/api/v1"
    print(f"diags-kit mock: serving {base_url}/inventory_device_diags/", flush=True)
    tokens = _shown_tokens(settings["DIAGS_TOKENS"])
    if args.db:
        source = f"data in {masked(args.db)}"
    elif args.fixtures:
        source = f"data from the fixture file {args.fixtures}"
    else:
        source = f"data of seed {args.seed}"
    print(f"diags-kit mock: bearer token(s): {tokens}; {source}", flush=True)
    print(f"diags-kit mock: API documentation at {base_url}/docs (OpenAPI: {base_url}/openapi.json)",
          flush=True)
    try:
        serve(ServerOptions(host=args.host, port=args.port, threads=args.threads, workers=args.workers,
                            access_log=not args.no_access_log, app_config=settings))
    except RuntimeError as error:
        # Taken between the check above and granian's bind.
        if "os error 98" not in str(error) and "Address already in use" not in str(error):
            raise
        raise SystemExit(port_in_use_message(args.host, args.port)) from None
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _fixtures(args: argparse.Namespace) -> None:
    from .prepare import print_progress

    progress = print_progress("generating diagnostics")
    fixture = fixtures.generate(args.seed, args.devices, args.diags, args.reference_time, progress=progress)
    counts = f"{len(fixture['devices'])} devices and {len(fixture['diagnostics'])} diagnostics"
    if str(args.output) == "-":
        sys.stdout.buffer.write(fixtures.dumps(fixture))
        sys.stdout.flush()
        print(f"wrote {counts} to standard output", file=sys.stderr)
        return
    fixtures.write(fixture, args.output)
    print(f"wrote {counts} to {args.output}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if proxy_cli.run(args):
        return
    if args.command == "serve":
        _serve(args)
    else:
        _fixtures(args)
