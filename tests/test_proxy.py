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
from contract_servers import reference
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
