"""Checking traffic with the contract's claims: each exchange alone, and exchanges against each other.

Every claim comes from the contract suite's catalogue and is called as the suite calls it
(``contract_tests.checks``, ``invariants``, ``paging``, ``posting``): this module only decides, from the
traffic, which claims an exchange can be held to and with what, then turns each ``ContractViolation``
into a ``Violation``. What it remembers between exchanges (under one lock): the devices and record ids
met, the 201 echoes of records created through the proxy, the pages of each walk along ``next``, the
last answer to each GET, and which tokens the server accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from contract_tests import claims
from contract_tests.checks import CheckContext, ContractViolation, Expect, check_response, records_of
from contract_tests.exchange import Exchange
from contract_tests.invariants import (
    DeviceIdentity,
    count_grows_by_writes,
    created_at_near_client_clock,
    device_count_never_decreases,
    same_request_same_records,
    updated_not_before_created,
)
from contract_tests.paging import (
    Walk,
    check_page,
    count_stable_while_walking,
    next_links_progress,
    previous_walks_back_to_first_page,
    walk_visits_each_record_once,
)
from contract_tests.posting import (
    created_echoes_fields_sent,
    created_id_is_fresh,
    created_record_is_listed,
    server_owned_fields_ignored,
    unknown_device_stays_unknown,
)
from contract_tests.records import Search
from contract_tests.refreshing import refresh_is_what_later_gets_show, refresh_keeps_what_it_does_not_own
from contract_tests.strategies import SERVER_OWNED

from .near_misses import fingerprint, near_miss_device, near_miss_keys, near_miss_of
from .request_shapes import REQUEST_QUERY_DOCUMENTED, Verdict, bearer_token, classify
from .violations import REQUEST, RESPONSE, Violation

CLIENT_ERRORS = frozenset(range(400, 500))
#: A new record's created_at may differ this much from the proxy's clock (a server's clock drifts).
CLOCK_TOLERANCE_SECONDS = 300.0
#: Bounds on what is remembered, so a long-running proxy does not grow without end.
MAX_REMEMBERED = 2_000
#: A limit this large is far above any page cap: the contract still wants a 200 (a capped page).
HUGE_LIMIT = 1000


RESOURCE = "/inventory_device_diags"


def is_api(url: str, base_url: str) -> bool:
    """Whether ``url`` lies under the API base URL."""
    return url == base_url.rstrip("/") or url.startswith(base_url.rstrip("/") + "/")


def observed(base_url: str, method: str, url: str, headers: dict[str, str], body: bytes, status: int,
             response_headers: list[tuple[str, str]], content: bytes) -> tuple[Exchange, Verdict, str | None]:
    """One exchange with the API as the claims see it, what is wrong with its request, and its token."""
    authorization = next((value for name, value in headers.items() if name.lower() == "authorization"), None)
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    token = bearer_token(authorization)
    on_resource = urlsplit(url).path.rstrip("/") == urlsplit(base_url).path.rstrip("/") + RESOURCE
    verdict = classify(method, on_resource, urlsplit(url).query, authorization, body, content_type)
    operation = method if on_resource else f"{method} (other route)"
    if on_resource and method in ("GET", "POST") and 400 <= status < 500 and verdict.outside_shapes:
        # A refusal of a request the docs do not describe is held to what check_response holds any
        # undocumented request to (JSON, no 5xx), and to the status the contract prescribes, if any.
        operation = f"{method} (undocumented request)"
    received = {name.lower(): value for name, value in response_headers}
    exchange = Exchange(operation, method, url, headers, body or None, status, received, content,
                        secret=token or "")
    return exchange, verdict, token


def _normalized(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    parts = urlsplit(url)
    return parts.path.rstrip("/"), tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _walk_key(query: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, value) for name, value in query.items() if name != "offset"))


def _refresh_requested(exchange: Exchange) -> bool:
    return exchange.query.get("update_status", "").lower() in ("true", "1")


class _Walk:
    """The pages met following ``next`` from a first page, and the changes seen when it began."""

    def __init__(self, first: Exchange, changes: int, begun: int) -> None:
        self.pages = [first]
        self.changes = changes
        self.begun = begun  # the number of exchanges checked before it


class _WalkBack:
    """A complete walk along ``next``, and the pages met since following ``previous`` from its last page."""

    def __init__(self, forward: _Walk, changes: int) -> None:
        self.forward = forward
        self.pages: list[Exchange] = []
        self.changes = changes


class TrafficChecker:
    """Checks each exchange against the claims it can be held to; ``check`` is safe from many threads."""

    def __init__(self, base_url: str, clock_tolerance: float = CLOCK_TOLERANCE_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.context = CheckContext(base_url, strict=False)
        self.clock_tolerance = clock_tolerance
        self.clock = clock
        self.identity = DeviceIdentity()
        self._lock = threading.Lock()
        self._good_tokens: set[str] = set()
        self._near_miss_keys: set[str] = set()
        self._devices: set[str] = set()
        self._unknown_devices: set[str] = set()  # devices the server answered 404 for
        self._refused_devices: set[str] = set()  # ... and of those, the ones a POST was refused for
        self._device_counts: dict[str, int] = {}
        self._ids: set[str] = set()
        self._created: dict[str, tuple[Exchange, int]] = {}  # id -> (201 echo, writes before it)
        self._sent: dict[str, dict[str, Any]] = {}  # id of a record created here -> the body sent
        self._refreshes: dict[Any, tuple[Exchange, int]] = {}  # record id -> (last refresh, exchanges before)
        self._refreshed_created: set[str] = set()  # records created here that a refresh has covered since
        self._checked = 0
        self._walks: dict[Any, _Walk] = {}
        self._walks_back: dict[Any, _WalkBack] = {}  # the page each is expected to reach next -> walk back
        self._last_answers: dict[Any, tuple[Exchange, int]] = {}  # ... and the changes seen by then
        self._writes = 0  # records created (201)
        self._changes = 0  # requests that may have changed records: POSTs not refused, refreshes
        self._baseline: tuple[int, int] | None = None  # (count of the whole list, writes by then)

    def check(self, exchange: Exchange, verdict: Verdict, token: str | None) -> list[Violation]:
        """Every violation this exchange shows: the request's problems, then the response's."""
        url = exchange.mask(exchange.url)
        found = [Violation(REQUEST, name, exchange.mask(message), exchange.method, url, exchange.status)
                 for name, message in verdict.problems]

        def run(check: Callable[..., None], *args: Any) -> bool:
            try:
                check(*args)
            except ContractViolation as violation:
                found.append(Violation(RESPONSE, violation.claim, exchange.mask(violation.problem),
                                       exchange.method, url, exchange.status))
                return False
            return True

        with self._lock:
            expect = self._expectation(exchange, verdict, token)
            if run(check_response, exchange, self.context, expect) and exchange.status in (200, 201) \
                    and exchange.operation in ("GET", "POST"):
                self._check_records(exchange, verdict, run)
            if exchange.operation == "GET" and exchange.query.get("id") in self._refused_devices \
                    and not verdict.problems and exchange.status != 401:
                run(unknown_device_stays_unknown, exchange)
            self._remember(exchange, verdict, token)
            self._checked += 1
        return found

    def _expectation(self, exchange: Exchange, verdict: Verdict, token: str | None) -> Expect | None:
        statuses, rule, why = verdict.expected, verdict.rule, verdict.why
        if statuses is None:
            statuses, rule, why = self._default_expectation(exchange, verdict)
        if statuses is None or rule is None:
            return None
        statuses = set(statuses)
        if verdict.authenticated and (token is None or fingerprint(token) not in self._good_tokens):
            near_miss = near_miss_of(token or "", self._good_tokens, self._near_miss_keys)
            if near_miss:
                return Expect({401}, rule=claims.NEAR_MISS_TOKEN_IS_401, why=f"the token is {near_miss}")
            statuses.add(401)  # a token the server never accepted may be unknown to it
        if exchange.status not in statuses and len(statuses - {401}) == 1:
            # Two faults at once: the contract says which status wins (docs/contract.md's precedence).
            rule = claims.PRECEDENCE.get((min(statuses - {401}), exchange.status), rule)
        return Expect(statuses, rule=rule, why=why)

    def _default_expectation(self, exchange: Exchange, verdict: Verdict
                             ) -> tuple[set[int] | None, claims.Claim | None, str]:
        if exchange.operation == "GET":
            if any(name == REQUEST_QUERY_DOCUMENTED for name, _ in verdict.problems):
                return None, None, ""
            query = exchange.query
            statuses, rule, why = {200}, claims.LIST_ANSWERS_200, "a valid listing request"
            if query:
                rule, why = claims.DOCUMENTED_QUERY_IS_200, "every parameter is documented and valid"
            limit = query.get("limit")
            if limit is not None and (int(limit) == 0 or int(limit) > HUGE_LIMIT):
                rule, why = claims.LIMIT_EDGES_ANSWER_200, f"limit={limit}: a page, capped or empty"
            if "id" in query:
                if query["id"] in self._devices:
                    rule, why = claims.KNOWN_DEVICE_LISTS_200, f"device {query['id']!r} was seen in records"
                else:
                    statuses.add(404)
                    if near_miss_device(query["id"], self._devices):
                        rule, why = claims.DEVICE_FILTER_MATCHES_WHOLE_ID, \
                            f"{query['id']!r} is one character off a device seen"
            if query.get("update_status", "").lower() in ("true", "1"):
                statuses.add(500)
                rule, why = claims.UPDATE_STATUS_IS_200_OR_500, "update_status=true (500: broken helpers)"
            return statuses, rule, why
        if exchange.operation == "POST":
            if verdict.body is None:
                return None, None, ""
            device = verdict.body.get("device_id")
            if device in self._unknown_devices:
                return {404}, claims.UNKNOWN_DEVICE_IS_404, f"device {device!r} was answered 404 before"
            device_known = device in self._devices
            statuses = {201} if device_known else {201, 404}
            return statuses, claims.VALID_BODY_IS_201, "a valid body" + (" for a known device" * device_known)
        if exchange.operation.endswith("(undocumented request)"):
            return None, None, ""
        if exchange.operation.endswith("(other route)"):
            return set(CLIENT_ERRORS), claims.UNKNOWN_ROUTE_IS_A_CLIENT_ERROR, "an unknown route"
        return set(CLIENT_ERRORS), claims.OTHER_METHOD_IS_CLIENT_ERROR, f"{exchange.method} is not documented"

    def _check_records(self, exchange: Exchange, verdict: Verdict, run: Callable[..., bool]) -> None:
        run(updated_not_before_created, exchange)
        run(self.identity.observe, exchange)
        if exchange.operation == "POST":
            run(created_at_near_client_clock, exchange, self.clock(), self.clock_tolerance)
            if verdict.body is not None:
                run(created_echoes_fields_sent, exchange, verdict.body)
                owned = {key: verdict.body[key] for key in SERVER_OWNED if key in verdict.body}
                if owned:
                    run(server_owned_fields_ignored, exchange, owned)
            run(created_id_is_fresh, exchange, self._ids)
            return
        if any(name == REQUEST_QUERY_DOCUMENTED for name, _ in verdict.problems):
            return
        if int(exchange.query.get("limit", "1")) == 0:
            return  # left open by the contract: an empty page (the count only) or the default page
        run(check_page, exchange, exchange.query)
        device = exchange.query.get("id")
        count = exchange.payload.get("count")
        if device is not None and isinstance(count, int):
            if device in self._device_counts:
                run(device_count_never_decreases, exchange, device, self._device_counts[device])
            if len(self._device_counts) >= MAX_REMEMBERED:
                self._device_counts.clear()
            self._device_counts[device] = max(count, self._device_counts.get(device, count))
        self._check_refreshes(exchange, run)
        for record in records_of(exchange):
            created = self._created.get(str(record.get("id")))
            # A record a refresh covered is held to refresh_keeps_what_it_does_not_own instead: a refresh
            # may change its status fields within the second of its created_at, with the same updated_at.
            if created is not None and str(record.get("id")) not in self._refreshed_created:
                search = Search(exchange, {str(record.get("id")): record}, complete=False)
                run(created_record_is_listed, created[0], search)
        self._count_grows(exchange, run)
        self._same_request(exchange, run)
        self._follow_walk_back(exchange, run)
        self._follow_walk(exchange, run)

    def _check_refreshes(self, exchange: Exchange, run: Callable[..., bool]) -> None:
        """A refresh is stored as returned (later GETs show it) and keeps what it does not own."""
        records = records_of(exchange)
        if _refresh_requested(exchange):
            device = exchange.query.get("id")
            for record_id, (echo, _) in self._created.items():
                if device is None or echo.payload.get("device_id") == device:
                    self._refreshed_created.add(record_id)
            if len(self._refreshes) >= MAX_REMEMBERED:
                self._refreshes.clear()
            for record in records:
                self._refreshes[record.get("id")] = (exchange, self._checked)
        else:
            shown: dict[int, tuple[Exchange, dict[str, dict[str, Any]]]] = {}
            for record in records:
                earlier = self._refreshes.get(record.get("id"))
                if earlier is not None:
                    shown.setdefault(id(earlier[0]), (earlier[0], {}))[1][str(record.get("id"))] = record
            for refresh, found in shown.values():
                run(refresh_is_what_later_gets_show, refresh, Search(exchange, found, complete=False))
        for record in records:
            record_id = str(record.get("id"))
            if record_id in self._refreshed_created and record_id in self._created:
                created, sent = self._created[record_id][0].payload, self._sent.get(record_id, {})
                run(refresh_keeps_what_it_does_not_own, exchange, created, sent, record)

    def _count_grows(self, exchange: Exchange, run: Callable[..., bool]) -> None:
        count = exchange.payload.get("count")
        if "id" in exchange.query or not isinstance(count, int):
            return
        if self._baseline is None:
            self._baseline = (count, self._writes)
        else:
            # Other clients may write too: the count must grow by at least what passed through here.
            run(count_grows_by_writes, exchange, self._baseline[0], self._writes - self._baseline[1], False)

    def _same_request(self, exchange: Exchange, run: Callable[..., bool]) -> None:
        key = _normalized(exchange.url)
        earlier = self._last_answers.get(key)
        if earlier is not None and earlier[1] == self._changes:
            run(same_request_same_records, exchange, earlier[0])
        if len(self._last_answers) >= MAX_REMEMBERED:
            self._last_answers.clear()
        self._last_answers[key] = (exchange, self._changes)

    def _follow_walk(self, exchange: Exchange, run: Callable[..., bool]) -> None:
        query = exchange.query
        key = _walk_key(query)
        walk = self._walks.get(key)
        here = _normalized(exchange.url)
        if int(query.get("offset", "0") or 0) == 0:
            walk = self._walks[key] = _Walk(exchange, self._changes, self._checked)
            if len(self._walks) >= MAX_REMEMBERED:
                self._walks = {key: walk}
        elif walk is not None and _normalized(str(walk.pages[-1].payload.get("next"))) == here:
            visited = {_normalized(page.url) for page in walk.pages}
            run(next_links_progress, walk.pages[-1], here in visited)
            walk.pages.append(exchange)
        else:
            return  # a page reached some other way: not part of a walk the proxy saw begin
        quiet = walk.changes == self._changes
        if quiet and len(walk.pages) > 1:
            run(count_stable_while_walking, walk.pages[0], Walk(walk.pages, complete=False))
        if exchange.payload.get("next") is None:
            del self._walks[key]
            if quiet:
                whole = Walk(walk.pages, complete=True)
                run(walk_visits_each_record_once, walk.pages[0], whole)
                self._created_all_listed(walk, whole, run)
                if not _refresh_requested(exchange):
                    self._refreshes_all_listed(walk, whole, run)
                self._begin_walk_back(walk, run)

    def _begin_walk_back(self, walk: _Walk, run: Callable[..., bool]) -> None:
        previous = walk.pages[-1].payload.get("previous")
        if len(walk.pages) < 2:
            return
        if previous is None:
            run(previous_walks_back_to_first_page, walk.pages[0], Walk(walk.pages, complete=True), [])
            return
        if len(self._walks_back) >= MAX_REMEMBERED:
            self._walks_back.clear()
        self._walks_back[_normalized(str(previous))] = _WalkBack(walk, self._changes)

    def _follow_walk_back(self, exchange: Exchange, run: Callable[..., bool]) -> None:
        """A client following ``previous`` from the last page of a walk meets the same pages back to the
        first (judged once it reaches a page without ``previous``, or as many pages as the walk had)."""
        back = self._walks_back.pop(_normalized(exchange.url), None)
        if back is None or back.changes != self._changes:
            return
        back.pages.append(exchange)
        previous = exchange.payload.get("previous")
        forward = back.forward.pages
        if previous is None or len(back.pages) >= len(forward) - 1:
            run(previous_walks_back_to_first_page, forward[0], Walk(forward, complete=True), back.pages)
        else:
            self._walks_back[_normalized(str(previous))] = back

    def _created_all_listed(self, walk: _Walk, whole: Walk, run: Callable[..., bool]) -> None:
        device = walk.pages[0].query.get("id")
        found = {str(record.get("id")): record for record in whole.records}
        for record_id, (echo, _) in self._created.items():
            if device is not None and echo.payload.get("device_id") != device:
                continue
            if record_id in self._refreshed_created:
                sent, listed = self._sent.get(record_id, {}), found.get(record_id)
                run(refresh_keeps_what_it_does_not_own, walk.pages[0], echo.payload, sent, listed)
            else:
                run(created_record_is_listed, echo, Search(walk.pages[0], found, complete=True))

    def _refreshes_all_listed(self, walk: _Walk, whole: Walk, run: Callable[..., bool]) -> None:
        device = walk.pages[0].query.get("id")
        found = {str(record.get("id")): record for record in whole.records}
        earlier = {id(refresh): refresh for refresh, checked in self._refreshes.values()
                   if checked < walk.begun}
        for refresh in earlier.values():
            if device is None or refresh.query.get("id") == device:
                run(refresh_is_what_later_gets_show, refresh, Search(walk.pages[0], found, complete=True))

    def _remember(self, exchange: Exchange, verdict: Verdict, token: str | None) -> None:
        refused = 400 <= exchange.status < 500
        if (exchange.operation.startswith("POST") and not refused) or \
                (exchange.operation == "GET" and _refresh_requested(exchange)):
            self._changes += 1  # a 200 or a 500 may have stored something too
        if 200 <= exchange.status < 300 and token is not None:
            if len(self._near_miss_keys) >= MAX_REMEMBERED:
                self._near_miss_keys.clear()
            self._good_tokens.add(fingerprint(token))
            self._near_miss_keys |= near_miss_keys(token)
        if exchange.operation == "GET" and exchange.status == 200 and "id" in exchange.query:
            self._devices.add(exchange.query["id"])
        self._remember_unknown(exchange, verdict)
        records = records_of(exchange) if exchange.status in (200, 201) else []
        for record in records:
            if isinstance(record.get("device_id"), str):
                self._devices.add(record["device_id"])
                self._unknown_devices.discard(record["device_id"])  # added to the inventory since
                self._refused_devices.discard(record["device_id"])
            self._ids.add(record.get("id"))  # type: ignore[arg-type]
        if exchange.operation == "POST" and exchange.status == 201 and records:
            self._writes += 1
            if len(self._created) >= MAX_REMEMBERED:
                self._created.clear()
                self._sent.clear()
                self._refreshed_created.clear()
            self._created[str(records[0].get("id"))] = (exchange, self._writes)
            if verdict.body is not None:
                self._sent[str(records[0].get("id"))] = verdict.body

    def _remember_unknown(self, exchange: Exchange, verdict: Verdict) -> None:
        """A 404 for a device the server does not know (and that no record has shown)."""
        if exchange.status != 404:
            return
        if exchange.operation == "GET" and "id" in exchange.query:
            device = exchange.query["id"]
        elif exchange.operation == "POST" and verdict.body is not None:
            device = str(verdict.body.get("device_id"))
            if len(self._refused_devices) >= MAX_REMEMBERED:
                self._refused_devices.clear()
            self._refused_devices.add(device)
        else:
            return
        if device not in self._devices:
            if len(self._unknown_devices) >= MAX_REMEMBERED:
                self._unknown_devices.clear()
                self._refused_devices.clear()
            self._unknown_devices.add(device)
