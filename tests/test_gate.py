"""The reset gate: a reset waits for the requests in flight, holds new ones back, and gives up with a 503."""

from __future__ import annotations

import threading
import time

import pytest

from mockserver.core.gate import ResetGate
from mockserver.core.responses import ApiError


def test_the_reset_gate_waits_for_requests_in_flight_and_holds_new_ones() -> None:
    gate = ResetGate()
    gate.enter()
    events: list[str] = []
    writer_in = threading.Event()

    def reset() -> None:
        with gate.exclusive(timeout=10):
            writer_in.set()
            events.append("reset")
            time.sleep(0.05)

    def late_request() -> None:
        gate.enter()
        events.append("late request")
        gate.leave()

    writer = threading.Thread(target=reset)
    writer.start()
    time.sleep(0.05)
    late = threading.Thread(target=late_request)
    late.start()
    time.sleep(0.05)
    assert events == []  # the reset waits for the request in flight, the late request for the reset
    events.append("request done")
    gate.leave()
    writer.join(timeout=10)
    late.join(timeout=10)
    assert events == ["request done", "reset", "late request"]


def test_a_reset_that_cannot_get_in_answers_503() -> None:
    gate = ResetGate()
    gate.enter()
    with pytest.raises(ApiError) as raised, gate.exclusive(timeout=0.05):
        pass
    assert raised.value.status == 503
    gate.leave()
    with gate.exclusive(timeout=1):
        pass
