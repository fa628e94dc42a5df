"""An independent reference server for the Inventory Device Diags contract, standard library only.

It honours every rule of docs/contract.md that is not marked (mock) and, wherever the documentation
leaves a choice, chooses unlike our mock: newest records first, a default page of 7 and a cap of 50,
bad query values ignored rather than refused, error bodies ``{"message": ...}``, no
``WWW-Authenticate`` header, no ``data`` form, no route without the trailing slash, 405 without
``Allow`` for other methods. ``--break NAME`` turns on one deliberate violation (see ``breaks``).

    python -m tests.contract_servers.reference --port 8099 --token secret [--break lost-write]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from . import bends
from . import breaks as breaks_module
from .inventory import DEVICES, Device, Record, Store, new_id, timestamp
from .validation import SERVER_OWNED, BodyError, parse_object, problems

API_PREFIX = "/api/v1"
RESOURCE = API_PREFIX + "/inventory_device_diags/"
DEFAULT_LIMIT = 7
MAX_LIMIT = 50
MAX_BODY = 1_000_000
TIMESTAMP_FIELDS = ("created_at", "updated_at", "next_check_due")
TRUE_SPELLINGS = frozenset({"true", "1", "yes", "on"})
#: How long the racy breaks hold their window open: long enough for concurrent requests to meet in it.
RACE_WINDOW = 0.1
#: The name the device had before a rename, left on some of its older records (``stale-device-name``).
FORMER_NAME = "Warehouse Scanner Z2"


class ReferenceServer(ThreadingHTTPServer):
    """The HTTP server, holding the store, the accepted token and the active breaks."""

    daemon_threads = True

    def __init__(self, port: int, token: str, active: frozenset[str], *, max_limit: int = MAX_LIMIT,
                 verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.store = Store()
        self.token = token
        self.breaks = active
        self.max_limit = max_limit
        self.verbose = verbose
        self.requests = itertools.count()  # a shared counter: the order-flips break alternates on it
        self.page_buffer: list[Record] = []  # shared by every request under the shared-page-buffer break
        self.sequence = 0  # racy-ids: the last id handed out
        self.writing = threading.Lock()  # busy-409: held while a POST is stored
        self.posted: set[str] = set()  # count-ignores-new: ids created through POST
        renamed = [r["id"] for r in self.store.records(DEVICES[1].device_id)]
        self.stale_names = set(renamed[::2])


def _non_negative(raw: str | None) -> int | None:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value >= 0 else None


class Handler(BaseHTTPRequestHandler):
    """One request; every answer, errors and unknown routes included, is JSON."""

    server: ReferenceServer
    protocol_version = "HTTP/1.1"

    # --- plumbing -------------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def broken(self, name: str) -> bool:
        return name in self.server.breaks

    def send_json(self, status: int, body: Any, *, close: bool = False) -> None:
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_problem(self, status: int, message: str, *, close: bool = False) -> None:
        if self.broken("error-body-not-object"):
            self.send_json(status, message, close=close)
            return
        if self.broken("html-errors"):
            page = f"<html><body><h1>{status}</h1><p>{message}</p></body></html>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(page)
            return
        self.send_json(status, {"message": message}, close=close)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The base class's own errors (bad request line, unknown method) as JSON too."""
        self.send_problem(code, message or explain or "error", close=True)

    def read_body(self) -> bytes | None:
        """The whole body, so the connection stays usable; None when it cannot be read."""
        raw_length = self.headers.get("Content-Length")
        try:
            length = int(raw_length) if raw_length is not None else 0
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def authorized(self) -> bool:
        if self.broken("no-auth"):
            return True
        scheme, _, token = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" and not self.broken("any-scheme"):
            return False
        return bends.token_accepted(token.strip(), self.server.token, self.server.breaks)

    # --- dispatch -------------------------------------------------------------------------------

    def dispatch(self) -> None:
        try:
            self.route()
        except Exception as error:  # a bug here must still answer JSON, never drop the connection
            self.send_problem(500, f"internal error: {type(error).__name__}", close=True)

    def route(self) -> None:
        body = self.read_body()
        if body is None:
            self.send_problem(400 if self.authorized() else 401, "unreadable request body", close=True)
            return
        path = urlsplit(self.path).path
        if self.command == "POST" and path == RESOURCE and self.broken("auth-after-validation"):
            self.create(body, validate_first=True)
            return
        if not self.authorized():
            self.send_problem(401, "authentication required: send Authorization: Bearer <token>")
        elif path != RESOURCE:
            self.send_problem(404, f"no such resource: {path}")
        elif self.command in ("GET", "HEAD"):
            self.list_diagnostics()
        elif self.command == "POST":
            self.create(body)
        elif self.broken("html-on-other-methods"):
            BaseHTTPRequestHandler.send_error(self, 501, f"Unsupported method ({self.command!r})")
        else:
            self.send_problem(405, f"{self.command} is not supported here")

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler looks up do_<METHOD>; every method, however exotic, goes to dispatch.
        if name.startswith("do_"):
            return self.dispatch
        raise AttributeError(name)

    # --- GET ------------------------------------------------------------------------------------

    def list_diagnostics(self) -> None:
        query = parse_qsl(urlsplit(self.path).query, keep_blank_values=True)
        params = dict(reversed(query))  # the first spelling of a repeated parameter wins
        device_id = params.get("id") or None
        records = self.matching(device_id)
        if records is None:
            if self.broken("unknown-device-200"):
                self.send_json(200, {"count": 0, "next": None, "previous": None, "results": []})
            else:
                self.send_problem(404, f"device {device_id!r} does not exist")
            return
        if params.get("update_status", "").lower() in TRUE_SPELLINGS and self.broken("helpers-broken"):
            self.send_problem(500, "diagnostic helper configuration error: no helper named 'resources'")
            return
        if params.get("limit") == "0" and self.broken("limit-zero-refused"):
            self.send_problem(400, "limit must be a positive integer")
            return
        if params.get("update_status", "").lower() in TRUE_SPELLINGS:
            refreshed = self.server.store.refresh(
                {r["device_id"] for r in records}, store=not self.broken("update-status-not-stored"),
                rebuild=self.broken("refresh-drops-notes"), rewind=self.broken("refresh-rewinds-updated-at"))
            records = [refreshed.get(r["id"], r) for r in records]
        if not (self.broken("order-flips") and next(self.server.requests) % 2):
            records.reverse()
        if self.broken("unstable-order"):
            random.shuffle(records)
        limit = _non_negative(params.get("limit")) or DEFAULT_LIMIT
        limit = DEFAULT_LIMIT if self.broken("limit-ignored") else min(limit, self.server.max_limit)
        offset = _non_negative(params.get("offset")) or 0
        page = records[offset : offset + limit]
        if self.broken("huge-limit-empty") and (_non_negative(params.get("limit")) or 0) > 1000:
            page = []  # the huge limit overflowed a 16-bit page size on the way to the query
        if self.broken("last-record-unreachable") and offset > 0 and offset == len(records) - 1:
            page = []
        if self.broken("shared-page-buffer"):
            buffer = self.server.page_buffer
            buffer.clear()
            time.sleep(RACE_WINDOW)
            buffer.extend(page)
            time.sleep(RACE_WINDOW)
            page = list(buffer)
        step = limit - 1 if self.broken("overlapping-pages") and limit > 1 else limit
        step += 1 if self.broken("skipping-pages") else 0
        next_offset = offset + step if offset + limit < len(records) else None
        if next_offset is None and self.broken("next-loops"):
            next_offset = offset
        previous_offset = max(0, offset - limit) if offset > 0 and not self.broken("no-previous") else None
        count = len(records) + 1 if self.broken("wrong-count") else len(records)
        if self.broken("count-ignores-new") and device_id is None:
            count -= len(self.server.posted)
        self.send_json(200, {
            "count": count,
            "next": self.page_link(query, next_offset, limit),
            "previous": self.page_link(query, previous_offset, limit),
            "results": [self.present(r, listing=True) for r in page],
        })

    def matching(self, device_id: str | None) -> list[Record] | None:
        """The records a listing covers, oldest first; None when ``device_id`` names no device."""
        store = self.server.store
        if device_id is None:
            return store.records(None)
        if store.device(device_id) is None:
            if self.broken("prefix-filter"):
                found = [r for r in store.records(None) if r["device_id"].startswith(device_id)]
                return found or None
            return None
        found = store.records(None if self.broken("ignored-filter") else device_id)
        return None if not found and self.broken("empty-device-404") else found

    def page_link(self, query: list[tuple[str, str]], offset: int | None, limit: int) -> str | None:
        if offset is None:
            return None
        kept = [(k, v) for k, v in query if k not in ("limit", "offset")]
        if self.broken("next-drops-filter"):
            kept = [(k, v) for k, v in kept if k not in ("id", "update_status")]
        target = RESOURCE + "?" + urlencode([("limit", str(limit)), ("offset", str(offset)), *kept])
        if self.broken("relative-next"):
            return target
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
        return f"http://{host}{target}"

    def present(self, record: Record, *, listing: bool = False) -> Record:
        """A stored record as it goes on the wire (where the output-side breaks live)."""
        if self.broken("stale-device-name") and record["id"] in self.server.stale_names:
            record["device_name"] = FORMER_NAME
        if listing and self.broken("list-drops-fields"):
            for name in ("notes", "reported_by", "performed_by", "priority"):
                record.pop(name, None)
        if self.broken("non-utc-timestamps"):
            for name in ("created_at", "updated_at"):
                moment = datetime.fromisoformat(record[name].replace("Z", "+00:00"))
                record[name] = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
        if self.broken("missing-field"):
            record.pop("device_serial", None)
        if self.broken("bad-datetime"):
            for name in TIMESTAMP_FIELDS:
                if isinstance(record.get(name), str):
                    moment = datetime.fromisoformat(record[name].replace("Z", "+00:00"))
                    record[name] = timestamp(moment, sloppy=True)
        return record

    # --- POST -----------------------------------------------------------------------------------

    def create(self, raw: bytes, *, validate_first: bool = False) -> None:
        """POST; the token was checked already unless ``validate_first`` (a break) says otherwise."""
        try:
            body = self.validated(raw)
        except BodyError as error:
            self.send_problem(error.status, error.message)
            return
        if validate_first and not self.authorized():
            self.send_problem(401, "authentication required")
            return
        device = self.server.store.device(body["device_id"])
        if device is None and self.broken("post-unknown-device-201"):
            device = Device(body["device_id"], "", "", "")
        if device is None:
            self.send_problem(404, f"device {body['device_id']!r} does not exist")
            return
        if self.broken("busy-409") and not self.server.writing.acquire(blocking=False):
            self.send_problem(409, "another diagnostic is being stored; try again")
            return
        try:
            record = self.build_record(bends.stored_body(body, self.server.breaks), device)
            if not self.broken("lost-write"):
                self.server.store.add(record, racy=self.broken("lost-concurrent-write"))
                self.server.posted.add(record["id"])
            if self.broken("busy-409"):
                time.sleep(RACE_WINDOW)
        finally:
            if self.broken("busy-409"):
                self.server.writing.release()
        self.send_json(200 if self.broken("wrong-status-on-create") else 201, self.present(record))

    def validated(self, raw: bytes) -> dict[str, Any]:
        """The parsed body, or a BodyError with its status; some breaks bend the rules here."""
        if self.broken("500-on-bad-json"):
            try:
                json.loads(raw)
            except ValueError:
                raise BodyError(500, "internal server error") from None
        try:
            body = parse_object(raw)
        except BodyError as error:
            if error.status == 400 and self.broken("422-for-missing-field") and "missing" in error.message:
                error.status = 422
            raise
        found = {**problems(bends.relaxed_for_validation(body, self.server.breaks)),
                 **bends.extra_problems(body, self.server.breaks)}
        if self.broken("bad-severity-accepted") and "issues" in found and "severity" in found["issues"]:
            del found["issues"]
        if not found:
            return body
        device = self.server.store.device(str(body["device_id"]))
        if device is None and self.broken("precedence-404-before-422"):
            raise BodyError(404, f"device {body['device_id']!r} does not exist")
        if device is not None and self.broken("invalid-creates") and "diagnostic_type" not in found:
            # Saved first, validated after: the record is kept without the offending fields.
            kept = {name: value for name, value in body.items() if name not in found}
            self.server.store.add(self.build_record(kept, device))
        raise BodyError(422, "; ".join(f"{name}: {message}" for name, message in sorted(found.items())))

    def build_record(self, body: dict[str, Any], device: Device) -> Record:
        now = datetime.now(UTC)
        record: Record = {"status": "recorded", "details": {}, "issues": [], "site": device.site}
        if body.get("diagnostic_type") == "health_check":
            record["next_check_due"] = timestamp(now + timedelta(hours=6))
        owned = SERVER_OWNED - {"id"} if self.broken("client-ids") else SERVER_OWNED
        record.update((k, v) for k, v in body.items() if k not in owned)
        if self.broken("no-echo"):
            record.pop("notes", None)
        if self.broken("altered-details") and isinstance(record.get("details"), dict):
            record["details"] = {str(k).upper(): v for k, v in record["details"].items()}
        record.setdefault("id", self.server.store.newest_id() if self.broken("reused-ids") else self.new_id())
        created = now - timedelta(hours=2) if self.broken("clock-behind") else now
        updated = created - timedelta(hours=1) if self.broken("updated-before-created") else created
        record.update(device_name=device.name, device_serial=device.serial,
                      created_at=timestamp(created), updated_at=timestamp(updated))
        return record

    def new_id(self) -> str:
        if not self.broken("racy-ids"):
            return new_id()
        # Read, work, write back: two POSTs in the window get the same id.
        last = self.server.sequence
        time.sleep(RACE_WINDOW)
        self.server.sequence = last + 1
        return f"seq-{last + 1:06d}"


@dataclass
class RunningServer:
    """A reference server serving in a daemon thread."""

    server: ReferenceServer
    thread: threading.Thread

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{API_PREFIX}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start(token: str, active_breaks: Iterable[str] = (), *, port: int = 0,
          max_limit: int = MAX_LIMIT) -> RunningServer:
    """Start a reference server on 127.0.0.1 (a free port unless given); ``stop()`` it when done."""
    server = ReferenceServer(port, token, breaks_module.check_names(list(active_breaks)), max_limit=max_limit)
    # A short poll interval makes stop() quick; tests start and stop many servers.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="reference-server", daemon=True)
    thread.start()
    return RunningServer(server, thread)


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--token", required=True)
    parser.add_argument("--break", dest="breaks", action="append", default=[], metavar="NAME",
                        choices=sorted(breaks_module.BREAKS),
                        help="turn on a deliberate contract violation (repeatable): "
                             + ", ".join(sorted(breaks_module.BREAKS)))
    parser.add_argument("--max-limit", type=int, default=MAX_LIMIT,
                        help="the page size cap, left to the server by the contract (default %(default)s)")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    active = breaks_module.check_names(args.breaks)
    server = ReferenceServer(args.port, args.token, active, max_limit=args.max_limit, verbose=args.verbose)
    print(f"reference server on http://127.0.0.1:{server.server_port}{API_PREFIX}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
