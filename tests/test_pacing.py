"""--max-rps: turns one interval apart, from any thread, the rate shared out among xdist workers."""

from __future__ import annotations

import threading

import pytest

from contract_tests.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_requests_are_spaced_one_interval_apart() -> None:
    clock = FakeClock()
    pacer = Pacer(4, clock=clock, sleep=clock.sleep)
    waits = [pacer.wait_turn() for _ in range(5)]
    assert waits == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])


def test_no_rate_means_no_wait() -> None:
    assert Pacer(None).wait_turn() == 0.0


def test_threads_share_one_schedule() -> None:
    clock = FakeClock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    threads = [threading.Thread(target=pacer.wait_turn) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(clock.slept) == pytest.approx([round(0.1 * turn, 6) for turn in range(1, 20)])


def test_workers_take_a_share_of_the_rate() -> None:
    assert Pacer.for_worker(30, 3).interval == pytest.approx(0.1)
    assert Pacer.for_worker(None, 3).interval == 0.0
    with pytest.raises(ValueError):
        Pacer(0)
