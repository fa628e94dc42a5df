"""The command line: ``python -m mockserver serve`` and ``python -m mockserver fixtures``.

Every option of ``serve`` falls back to an environment variable (named in ``--help``), then to
its default.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fixtures

from . import config

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
                       help="an accepted bearer token; repeat for several (env DIAGS_TOKENS, comma-separated; "
                            f"default {config.DEFAULT_TOKEN})")
    _add_data_options(serve)
    serve.add_argument("--fixtures", type=Path, default=_env("FIXTURES", None), metavar="FILE",
                       help="serve the devices and diagnostics of this fixture file instead of generating them "
                            "(env DIAGS_FIXTURES)")
    serve.add_argument("--helpers-config", type=Path, default=_env("HELPERS_CONFIG", None), metavar="FILE",
                       help="JSON file configuring the diagnostic helpers that update_status=true runs, e.g. "
                            '{"helpers": ["resources", "connectivity"], "thresholds": {"disk_low_percent": 25}} '
                            "(env DIAGS_HELPERS_CONFIG)")
    serve.add_argument("--page-size", type=int, default=config.DEFAULT_PAGE_SIZE,
                       help="page size when the request gives no limit (default %(default)s)")
    serve.add_argument("--max-page-size", type=int, default=config.MAX_PAGE_SIZE,
                       help="larger limits are capped to this (default %(default)s)")
    serve.add_argument("--max-body", type=int, default=config.MAX_BODY_BYTES, metavar="BYTES",
                       help="larger request bodies get a 413 (default %(default)s)")
    serve.add_argument("--threads", type=int, default=int(_env("THREADS", 2)),
                       help="request threads (env DIAGS_THREADS; default %(default)s)")
    serve.add_argument("--no-access-log", action="store_true", help="do not log one line per request")
    serve.add_argument("--strict", action="store_true",
                       default=str(_env("STRICT", "")).lower() in ("1", "true", "yes"),
                       help="debugging: validate every response against schemas/ and answer a violation "
                            "with a 500 saying why (env DIAGS_STRICT=1)")

    generate = commands.add_parser("fixtures", help="write a fixture file",
                                   description="Generate seeded devices and diagnostics into a JSON file.")
    _add_data_options(generate)
    generate.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="file to write")
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
        "DIAGS_STRICT": args.strict,
    }
    helpers = _helper_config(args.helpers_config)
    if helpers is not None:
        settings["DIAGS_HELPERS"] = helpers
    return settings


def _serve(args: argparse.Namespace) -> None:
    from .diagnostics import HelperConfigError, parse_config
    from .server import ServerOptions, serve

    settings = app_config(args)
    if args.fixtures:
        try:
            fixtures.load(args.fixtures)
        except (OSError, fixtures.FixtureError) as error:
            raise SystemExit(f"cannot use the fixture file {args.fixtures}: {error}") from None
    if "DIAGS_HELPERS" in settings:
        try:
            parse_config(settings["DIAGS_HELPERS"])
        except HelperConfigError as error:
            print(f"warning: diagnostic helper configuration is broken ({error}); "
                  "update_status=true will answer 500", file=sys.stderr)
    base_url = f"http://{args.host}:{args.port}/api/v1"
    print(f"diags-kit mock: serving {base_url}/inventory_device_diags/", flush=True)
    print(f"diags-kit mock: bearer token(s): {', '.join(settings['DIAGS_TOKENS'])}; seed {args.seed}", flush=True)
    serve(ServerOptions(host=args.host, port=args.port, threads=args.threads,
                        access_log=not args.no_access_log, app_config=settings))


def _progress(done: int, total: int) -> None:
    print(f"\rgenerating diagnostics: {done}/{total} ({done * 100 // max(total, 1)}%)",
          end="" if done < total else "\n", file=sys.stderr, flush=True)


def _fixtures(args: argparse.Namespace) -> None:
    fixture = fixtures.generate(args.seed, args.devices, args.diags, args.reference_time, progress=_progress)
    fixtures.write(fixture, args.output)
    print(f"wrote {len(fixture['devices'])} devices and {len(fixture['diagnostics'])} diagnostics to {args.output}",
          file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        _serve(args)
    else:
        _fixtures(args)
