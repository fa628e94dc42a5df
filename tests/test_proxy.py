"""The validation proxy in front of the mock and of the reference server: answers passed on unchanged,
nothing flagged on correct servers but the deliberate bad requests, each break named by its claim."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import live
import pytest
import requests
from contract_servers import breaks, reference
from proxy_live import DELIBERATE_BAD_REQUESTS, RESOURCE, drive, proxied, proxied_in_process, violations

from contract_tests import claims
from contract_tests.contract_coverage import LOG
from mockserver.proxy.app import create_app
from mockserver.proxy.forward import rewrite_links
from mockserver.proxy.scope import NOT_FROM_TRAFFIC
from mockserver.proxy.traffic import TrafficChecker, observed

TOKEN = "proxy-check-7c1e0b"


@pytest.fixture
def upstream() -> Iterator[reference.RunningServer]:
    server = reference.start(TOKEN)
    yield server
    server.stop()


def _claims(found: list[dict[str, object]], side: str) -> set[object]:
    return {violation["claim"] for violation in found if violation["side"] == side}


def test_nothing_flagged_on_the_reference_server_but_the_bad_requests(upstream: reference.RunningServer,
                                                                     tmp_path: Path) -> None:
    with proxied(upstream.base_url, log_path=tmp_path / "proxy.log") as proxy:
        drive(proxy, TOKEN)
        found = violations(proxy)
    assert _claims(found, "response") == set(), found
    assert _claims(found, "request") == DELIBERATE_BAD_REQUESTS
    assert "contract violation (request) request_authenticated" in proxy.log()


def test_nothing_flagged_on_the_mock_but_the_bad_requests(tmp_path: Path) -> None:
    with live.serve(token=TOKEN, log_path=tmp_path / "mock.log") as mock, \
            proxied(mock.url + "/api/v1", log_path=tmp_path / "proxy.log") as proxy:
        drive(proxy, TOKEN)
        found = violations(proxy)
    assert _claims(found, "response") == set(), found
    assert _claims(found, "request") == DELIBERATE_BAD_REQUESTS


def test_answers_pass_unchanged_but_for_the_origin_of_page_links(upstream: reference.RunningServer,
                                                                 tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    direct = requests.get(upstream.base_url + "/inventory_device_diags/", params={"limit": 2, "offset": 2},
                          headers=headers, timeout=30)
    with proxied(upstream.base_url, log_path=tmp_path / "proxy.log") as proxy:
        through = requests.get(proxy.url + RESOURCE, params={"limit": 2, "offset": 2}, headers=headers,
                               timeout=30)
        refused = requests.get(proxy.url + RESOURCE, timeout=30)
    upstream_origin = upstream.base_url.removesuffix("/api/v1")
    assert through.status_code == direct.status_code == 200
    assert through.content == direct.content.replace(upstream_origin.encode(), proxy.url.encode())
    assert through.json()["next"].startswith(proxy.url + RESOURCE)
    assert through.json()["previous"].startswith(proxy.url + RESOURCE)
    for name, value in direct.headers.items():
        if name.lower() not in ("date", "content-length"):  # a second apart; the links' origin differs
            assert through.headers[name] == value, name
    assert through.headers["X-Contract-Violations"] == "0"
    assert refused.status_code == 401 and refused.headers["X-Contract-Violations"] == "1"


def test_rewrite_links_touches_only_page_links() -> None:
    body = (b'{"count": 9, "next": "http://up:1/api/v1/x/?offset=2", '
            b'"previous":"http:\\/\\/up:1\\/api/v1/x/",'
            b' "results": [{"notes": "see http://up:1/api/v1/x/"}]}')
    rewritten = rewrite_links(body, "http://up:1", "http://me:2")
    assert rewritten == (b'{"count": 9, "next": "http://me:2/api/v1/x/?offset=2", '
                         b'"previous":"http://me:2\\/api/v1/x/",'
                         b' "results": [{"notes": "see http://up:1/api/v1/x/"}]}')


#: The breaks the traffic of ``drive`` shows, and the claims that may name each (any one of them will do):
#: stateless ones, which one exchange shows, then stateful ones, which the exchanges show together. A
#: break often breaks more than one claim, and a broken walk breaks the claims that rest on it too.
FLAGGED: dict[str, set[str]] = {
    "wrong-status-on-create": {"valid_body_is_201"},
    "missing-field": {"body_matches_schema"},
    "html-errors": {"content_type_is_json"},
    "html-on-other-methods": {"content_type_is_json"},
    "error-body-not-object": {"body_is_json_object"},
    "bad-datetime": {"body_matches_schema", "datetimes_parse"},
    "non-utc-timestamps": {"timestamps_are_utc"},
    "relative-next": {"body_matches_schema", "page_links_absolute_same_host"},
    "500-on-bad-json": {"no_server_error", "malformed_json_is_400"},
    "limit-ignored": {"results_within_limit", "page_links_keep_query"},
    "next-drops-filter": {"page_links_keep_query"},
    "ignored-filter": {"results_match_device_filter"},
    "prefix-filter": {"results_match_device_filter"},
    "no-previous": {"previous_set_past_the_first_page"},
    "wrong-count": {"next_is_null_exactly_at_the_end", "page_size_consistent_with_count",
                    "walk_visits_each_record_once"},
    "huge-limit-empty": {"next_is_null_exactly_at_the_end", "page_size_consistent_with_count"},
    "limit-zero-refused": {"limit_edges_answer_200"},
    "last-record-unreachable": {"next_is_null_exactly_at_the_end", "page_size_consistent_with_count"},
    "no-auth": {"unauthenticated_is_401", "auth_checked_first"},
    "any-scheme": {"unauthenticated_is_401"},
    "auth-after-validation": {"auth_checked_first"},
    "token-case-insensitive": {"near_miss_token_is_401"},
    "token-prefix-accepted": {"near_miss_token_is_401"},
    "token-suffix-ignored": {"near_miss_token_is_401"},
    "token-quotes-stripped": {"near_miss_token_is_401"},
    "token-whitespace-removed": {"near_miss_token_is_401"},
    "422-for-missing-field": {"missing_required_field_is_400", "precedence_400_over_422"},
    "precedence-404-before-422": {"precedence_422_over_404"},
    "bad-severity-accepted": {"wrong_type_or_format_is_422"},
    "enum-case-insensitive": {"enum_case_variant_is_422"},
    "plus-email-refused": {"valid_body_is_201"},
    "critical-priority-refused": {"valid_body_is_201"},
    "updated-before-created": {"updated_not_before_created"},
    "clock-behind": {"created_at_near_client_clock"},
    "no-echo": {"created_echoes_fields_sent"},
    "altered-details": {"created_echoes_fields_sent"},
    "null-dropped-in-details": {"created_echoes_fields_sent"},
    "floats-rounded": {"created_echoes_fields_sent"},
    "sorted-arrays": {"created_echoes_fields_sent"},
    "issues-sorted-by-severity": {"created_echoes_fields_sent"},
    "deep-nesting-flattened": {"created_echoes_fields_sent"},
    "non-ascii-mangled": {"created_echoes_fields_sent"},
    "long-text-truncated": {"created_echoes_fields_sent"},
    "client-ids": {"server_owned_fields_ignored"},
    # Across exchanges.
    "next-loops": {"next_links_progress", "next_is_null_exactly_at_the_end"},
    "overlapping-pages": {"walk_visits_each_record_once"},
    "skipping-pages": {"walk_visits_each_record_once"},
    "lost-write": {"created_record_is_listed"},
    "list-drops-fields": {"created_record_is_listed", "refresh_keeps_what_it_does_not_own"},
    "reused-ids": {"created_id_is_fresh"},
    "stale-device-name": {"device_identity_consistent"},
    "unstable-order": {"same_request_same_records", "walk_visits_each_record_once"},
    "order-flips": {"same_request_same_records", "walk_visits_each_record_once"},
    "count-ignores-new": {"count_grows_by_writes"},
    "unknown-device-200": {"unknown_device_stays_unknown"},
    "post-unknown-device-201": {"unknown_device_is_404"},
    "update-status-not-stored": {"refresh_is_what_later_gets_show"},
    "refresh-drops-notes": {"refresh_keeps_what_it_does_not_own"},
    "refresh-rewinds-updated-at": {"updated_not_before_created"},
    # Clients at the same time (drive sends its POSTs, then its GETs, released together).
    "racy-ids": {"created_id_is_fresh"},
    "lost-concurrent-write": {"created_record_is_listed", "count_grows_by_writes"},
    "busy-409": {"valid_body_is_201"},
    "shared-page-buffer": {"results_within_limit", "page_size_consistent_with_count",
                           "same_request_same_records"},
}

#: The breaks no client's traffic can show, and why. The proxy must stay silent on them (were it not,
#: the reason given here would be wrong).
NOT_SHOWN: dict[str, str] = {
    "empty-device-404": "a known device without records answers 404 like an unknown one: only the inventory, "
                        "which the API does not list, tells them apart",
    "invalid-creates": "a record stored from a refused body looks like one from a later valid body with the "
                       "same fields: only a marker the client puts in its bodies tells them apart",
    "helpers-broken": "the 500 of update_status=true is documented (broken helpers): the proxy passes it, as "
                      "the suite does with --allow-helper-errors",
}


def test_every_break_is_either_flagged_or_listed_as_not_shown() -> None:
    assert FLAGGED.keys() | NOT_SHOWN.keys() == breaks.BREAKS.keys()
    assert not FLAGGED.keys() & NOT_SHOWN.keys()


@pytest.mark.parametrize("name", sorted(breaks.BREAKS))
def test_each_break_is_flagged_by_its_claim_or_not_shown(name: str) -> None:
    # A fresh proxy app per break, served in this process: it remembers nothing of another server.
    server = reference.start(TOKEN, [name])
    try:
        with proxied_in_process(server.base_url) as proxy:
            drive(proxy, TOKEN)
            found = violations(proxy)
    finally:
        server.stop()
    flagged = _claims(found, "response")
    if name in NOT_SHOWN:
        assert flagged == set(), f"{name}, listed as not shown, is flagged: {found[:3]}"
    else:
        assert flagged & FLAGGED[name], f"{name}: flagged {sorted(flagged)} ({found[:3]})"


def _claims_run() -> Counter[str]:
    """How often each claim has run in this process (over every operation and status)."""
    return sum(LOG.checks.values(), Counter())


def test_every_claim_is_applied_to_traffic_or_listed_as_out_of_its_reach(
        upstream: reference.RunningServer) -> None:
    before = _claims_run()
    with proxied_in_process(upstream.base_url) as proxy:
        drive(proxy, TOKEN)
    # A precedence claim names a refusal whose status lost to another fault's: only a wrong status runs it.
    for status, body in ((404, b'{"device_id": "nowhere"}'), (422, b'{"device_id": "nowhere"}'),
                         (404, b'{"device_id": "nowhere", "diagnostic_type": 7}')):
        _check("POST", "/inventory_device_diags/", status, {"detail": "refused"}, body)
    ran = {name for name, count in (_claims_run() - before).items() if count > 0}
    ran.add(claims.SERVER_ANSWERS.name)  # named by the app when the upstream does not answer (tested below)
    assert not ran & NOT_FROM_TRAFFIC.keys(), sorted(ran & NOT_FROM_TRAFFIC.keys())
    missing = sorted(claims.CATALOGUE.keys() - ran - NOT_FROM_TRAFFIC.keys())
    assert missing == [], missing


def test_errors_turns_a_broken_answer_into_a_502_naming_the_claims(tmp_path: Path) -> None:
    server = reference.start(TOKEN, ["wrong-status-on-create"])
    try:
        with proxied(server.base_url, "--errors", log_path=tmp_path / "proxy.log") as proxy:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            listed = session.get(proxy.url + RESOURCE, timeout=30)
            device = listed.json()["results"][0]["device_id"]
            created = session.post(proxy.url + RESOURCE, json={"device_id": device,
                                                               "diagnostic_type": "health_check"}, timeout=30)
    finally:
        server.stop()
    assert listed.status_code == 200
    assert created.status_code == 502
    assert created.headers["Content-Type"] == "application/json"
    assert created.json()["claims"] == ["valid_body_is_201"]
    assert created.headers["X-Contract-Violations"] == "1"


def test_violations_are_cleared_and_reported_with_the_token_masked(upstream: reference.RunningServer,
                                                                   tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    with proxied(upstream.base_url, "--report", str(reports), log_path=tmp_path / "proxy.log") as proxy:
        answer = requests.get(proxy.url + RESOURCE, params={"colour": TOKEN},
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert answer.headers["X-Contract-Violations"] == "1"
        (found,) = violations(proxy)
        assert found["side"] == "request" and found["claim"] == "request_query_documented"
        assert TOKEN not in json.dumps(found) and "***" in found["url"]
        assert requests.delete(proxy.url + "/__admin/violations", timeout=30).json()["count"] == 0
        assert violations(proxy) == []
        requests.get(proxy.url + RESOURCE, params={"colour": TOKEN},
                     headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    report = json.loads((reports / "contract-violations.json").read_text())
    assert report["count"] == 1 and report["violations"][0]["claim"] == "request_query_documented"
    suite = ElementTree.parse(reports / "contract-violations.xml").getroot()
    assert suite.get("failures") == "1"
    assert suite.find("testcase").get("name") == "request_query_documented"
    everything = proxy.log() + (reports / "contract-violations.json").read_text() \
        + (reports / "contract-violations.xml").read_text()
    assert TOKEN not in everything


def test_the_admin_api_needs_the_admin_token_when_one_is_set(upstream: reference.RunningServer,
                                                             tmp_path: Path) -> None:
    with proxied(upstream.base_url, "--admin-token", "adm-secret", log_path=tmp_path / "proxy.log") as proxy:
        refused = requests.get(proxy.url + "/__admin/violations", timeout=30)
        allowed = requests.get(proxy.url + "/__admin/violations",
                               headers={"Authorization": "Bearer adm-secret"}, timeout=30)
    assert refused.status_code == 401
    assert allowed.status_code == 200 and allowed.json() == {"count": 0, "violations": []}


def _check(method: str, url: str, status: int, answer: object, body: bytes = b"",
           authorization: str = f"Bearer {TOKEN}", content_type: str = "application/json"
           ) -> list[tuple[str, str]]:
    base = "http://up:1/api/v1"
    headers = {"Authorization": authorization, "Content-Type": content_type}
    exchange, verdict, token = observed(base, method, base + url, headers, body,
                                        status, [("Content-Type", "application/json")],
                                        json.dumps(answer).encode())
    found = TrafficChecker(base).check(exchange, verdict, token)
    return [(violation.side, violation.claim) for violation in found]


def test_a_refusal_of_a_bad_request_is_the_clients_fault() -> None:
    refusal = {"detail": "offset must be a non-negative integer"}
    assert _check("GET", "/inventory_device_diags/?offset=-1", 400, refusal) == \
        [("request", "request_query_documented")]
    assert _check("POST", "/inventory_device_diags/", 400, refusal, b"{not json") == \
        [("request", "request_body_matches_schema")]
    assert _check("POST", "/inventory_device_diags/", 201, refusal, b"{not json") == \
        [("request", "request_body_matches_schema"), ("response", "malformed_json_is_400")]
    valid = b'{"device_id": "device-1", "diagnostic_type": "health_check"}'
    assert _check("POST", "/inventory_device_diags/", 400, refusal, valid, content_type="text/plain") == \
        [("request", "request_body_matches_schema")]


def test_a_device_the_server_called_unknown_stays_unknown() -> None:
    base, empty = "http://up:1/api/v1", {"count": 0, "next": None, "previous": None, "results": []}
    checker = TrafficChecker(base)

    def check(method: str, url: str, status: int, answer: object, body: bytes = b"",
              authorization: str = f"Bearer {TOKEN}") -> list[str]:
        exchange, verdict, token = observed(base, method, base + url, {"Authorization": authorization}, body,
                                            status, [("Content-Type", "application/json")],
                                            json.dumps(answer).encode())
        return [violation.claim for violation in checker.check(exchange, verdict, token)]

    body = b'{"device_id": "gone", "diagnostic_type": "maintenance"}'
    assert check("POST", "/inventory_device_diags/", 404, {"detail": "no such device"}, body) == []
    refused = check("GET", "/inventory_device_diags/?id=gone", 401, {"detail": "no token"}, authorization="")
    assert refused == ["request_authenticated"]
    assert check("GET", "/inventory_device_diags/?id=gone", 404, {"detail": "no such device"}) == []
    assert check("GET", "/inventory_device_diags/?id=gone", 200, empty) == ["unknown_device_stays_unknown"]
    created = check("POST", "/inventory_device_diags/", 201, {"detail": "created?"}, body)
    assert created[0] == "unknown_device_is_404"


def test_a_request_without_a_token_must_get_a_401() -> None:
    empty = {"count": 0, "next": None, "previous": None, "results": []}
    assert _check("GET", "/inventory_device_diags/", 200, empty, authorization="") == \
        [("request", "request_authenticated"), ("response", "unauthenticated_is_401")]
    assert _check("GET", "/inventory_device_diags/", 200, empty) == []


def test_a_fault_of_the_checks_does_not_cost_the_client_its_answer(upstream: reference.RunningServer,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug in the proxy's checks")

    monkeypatch.setattr(TrafficChecker, "check", broken)
    client = create_app({"PROXY_UPSTREAM": upstream.base_url}).test_client()
    answer = client.get(RESOURCE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and answer.json is not None and "results" in answer.json
    assert answer.headers["X-Contract-Violations"] == "0"


def test_an_upstream_that_does_not_answer_is_a_502_and_a_violation() -> None:
    app = create_app({"PROXY_UPSTREAM": f"http://127.0.0.1:{live.free_port()}/api/v1"})
    client = app.test_client()
    answer = client.get(RESOURCE, headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 502 and answer.json is not None
    assert answer.json["claims"] == ["server_answers"]
    listed = client.get("/__admin/violations").json
    assert listed is not None
    assert [violation["claim"] for violation in listed["violations"]] == ["server_answers"]
    assert TOKEN not in json.dumps(listed)
