"""The example client's tests, against the mock through the ``diags_mock`` fixture.

They run as they are in any project where ``diags-kit[mock]`` is installed: the fixture comes
from its pytest plugin, nothing needs configuring.
"""

from __future__ import annotations

import pytest
from diags_client import DiagsClient, DiagsError

from mockserver.testing import RESOURCE_PATH

DEVICE = "device-12345"  # the documentation's example device: the mock always has it


@pytest.fixture
def client(diags_mock):
    return DiagsClient(diags_mock.base_url, diags_mock.token, timeout=2.0)


def health_check(device_id: str = DEVICE, notes: str = "from the example client") -> dict:
    return {"device_id": device_id, "diagnostic_type": "health_check", "status": "ok", "notes": notes}


def test_lists_one_devices_diagnostics(client, diags_mock):
    found = client.list_diagnostics(DEVICE)

    assert found and {record["device_id"] for record in found} == {DEVICE}
    diags_mock.verify(at_least=1, method="GET", path=RESOURCE_PATH, status=200)


def test_a_503_is_retried(client, diags_mock):
    diags_mock.fault(method="GET", path=RESOURCE_PATH, status=503, times=1)

    assert client.list_diagnostics(DEVICE)

    diags_mock.verify(1, method="GET", status=503)
    diags_mock.verify(1, method="GET", status=200)


def test_a_post_is_retried_after_503s_and_stored_once(client, diags_mock):
    diags_mock.fault(method="POST", path=RESOURCE_PATH, status=503, times=2)

    stored = client.post_diagnostic(health_check(notes="retried"))

    diags_mock.verify(3, method="POST")
    diags_mock.verify(1, method="POST", status=201)
    retried = [record["id"] for record in client.list_diagnostics(DEVICE) if record.get("notes") == "retried"]
    assert retried == [stored["id"]]


def test_too_many_503s_are_an_error(client, diags_mock):
    diags_mock.fault(method="GET", path=RESOURCE_PATH, status=503)  # every time

    with pytest.raises(DiagsError) as failure:
        client.list_diagnostics(DEVICE)

    assert failure.value.status == 503
    diags_mock.verify(client.retries + 1, method="GET")


def test_a_slow_answer_times_out(diags_mock):
    impatient = DiagsClient(diags_mock.base_url, diags_mock.token, timeout=1.0, retries=0)
    diags_mock.fault(method="GET", path=RESOURCE_PATH, latency_ms=3000)

    with pytest.raises(DiagsError, match=r"no answer within 1\.0 s"):
        impatient.list_diagnostics(DEVICE)


def test_a_get_that_timed_out_is_retried(diags_mock):
    patient = DiagsClient(diags_mock.base_url, diags_mock.token, timeout=1.0, retries=1)
    diags_mock.fault(method="GET", path=RESOURCE_PATH, latency_ms=3000, times=1)

    assert patient.list_diagnostics(DEVICE)


def test_verify_counts_what_the_client_sent(client, diags_mock):
    client.post_diagnostic(health_check())

    entries = diags_mock.verify(1, method="POST", path=RESOURCE_PATH, status=201)
    assert '"notes": "from the example client"' in entries[0]["body"]
    diags_mock.verify(0, method="GET")
    diags_mock.verify(at_most=1, method="POST")


def test_verify_fails_with_what_the_mock_received(client, diags_mock):
    client.list_diagnostics(DEVICE)
    client.post_diagnostic(health_check())

    with pytest.raises(AssertionError) as failure:
        diags_mock.verify(2, method="POST")

    lines = str(failure.value).splitlines()
    assert lines[0] == "Expected exactly 2 requests (method=POST), the mock received 1."
    assert lines[1] == "The mock received 2 request(s) in this test, oldest first (* matched):"
    assert lines[2].split() == ["method", "path", "query", "status", "faults"]
    assert lines[3].split() == ["GET", RESOURCE_PATH, f"id={DEVICE}", "200"]
    assert lines[4].split() == ["*", "POST", RESOURCE_PATH, "201"]


@pytest.mark.diags_mock(seed=7, devices=3, diags=10)
def test_a_mark_serves_other_data(diags_mock):
    client = DiagsClient(diags_mock.base_url, diags_mock.token)
    inventory = diags_mock.state()

    assert (inventory["seed"], inventory["devices"], inventory["diagnostics"]) == (7, 3, 10)
    assert len(client.list_diagnostics(DEVICE)) < 10


def test_a_device_added_for_the_test(client, diags_mock):
    diags_mock.add_devices([{"id": "device-test-1", "name": "Test Router", "serial": "TR-0001"}])

    stored = client.post_diagnostic(health_check("device-test-1"))

    assert stored["device_name"] == "Test Router"
    assert client.list_diagnostics("device-test-1") == [stored]


CREATED: list[str] = []


def test_reset_part_1_a_post(client, diags_mock):
    CREATED.append(client.post_diagnostic(health_check(notes="gone by the next test"))["id"])


def test_reset_part_2_it_is_gone(client, diags_mock):
    if not CREATED:
        pytest.skip("runs after test_reset_part_1_a_post")
    assert CREATED[0] not in [record["id"] for record in client.list_diagnostics(DEVICE)]
    diags_mock.verify(1, method="GET")  # this test's request only: the journal was emptied too
