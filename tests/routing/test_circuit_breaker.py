"""The per-provider circuit breaker, on a fake clock (no test waits 30 s)."""

from __future__ import annotations

from vaos.providers.circuit_breaker import BreakerBoard, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_three_consecutive_failures() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", clock=clock)
    for _ in range(2):
        assert breaker.acquire()
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.acquire()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.acquire() and not breaker.available()
    assert breaker.snapshot().retry_in == 30.0


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker("p", clock=Clock())
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"


def test_half_open_lets_exactly_one_probe_through() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 29.9
    assert not breaker.acquire()
    clock.now += 0.1
    assert breaker.state == "half_open" and breaker.available()
    assert breaker.acquire()  # the probe
    assert not breaker.acquire()  # everyone else waits for its verdict
    assert not breaker.available()
    breaker.record_success()
    assert breaker.state == "closed"
    assert breaker.acquire() and breaker.acquire()


def test_a_failed_probe_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    assert breaker.acquire()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.acquire()
    clock.now += 30
    assert breaker.acquire()


def test_a_released_probe_frees_the_slot() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    assert breaker.acquire()
    breaker.release()
    assert breaker.acquire()


def test_a_late_success_does_not_close_an_open_circuit() -> None:
    breaker = CircuitBreaker("p", clock=Clock())
    for _ in range(3):
        breaker.record_failure()
    breaker.record_success()  # a call admitted before the circuit opened
    assert breaker.state == "open"


def test_rate_limit_hint_blocks_until_it_expires() -> None:
    clock = Clock()
    breaker = CircuitBreaker("p", clock=clock)
    breaker.rate_limited(5)
    assert not breaker.acquire()
    assert breaker.snapshot().rate_limited_for == 5
    clock.now += 5
    assert breaker.acquire()
    assert breaker.state == "closed"


def test_board_keeps_one_breaker_per_provider() -> None:
    board = BreakerBoard(clock=Clock())
    assert board["a"] is board["a"]
    board["a"].record_failure()
    assert board["b"].snapshot().failures == 0
    assert set(board.states()) == {"a", "b"}
