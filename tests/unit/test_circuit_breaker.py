"""The circuit breaker's states on the test's clock: open, half-open, closed, and reset."""

from __future__ import annotations

import pytest

import floe
from floe.adapters.iceberg.guard import CallGuard, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def opened(clock: Clock) -> CircuitBreaker:
    breaker = CircuitBreaker(threshold=2, reset_s=30.0, clock=clock)
    breaker.failure()
    breaker.failure()
    return breaker


def test_the_circuit_opens_at_the_threshold_and_lets_one_trial_through_after_the_cool_down() -> (
    None
):
    clock = Clock()
    breaker = opened(clock)
    assert breaker.state == "open"
    with pytest.raises(floe.CatalogConnectionError, match="circuit is open"):
        breaker.check("t")
    clock.now = 30.0
    assert breaker.state == "half-open"
    breaker.check("t")  # the trial call passes
    breaker.failure()  # and fails: open again for a whole cool-down
    assert breaker.state == "open"
    clock.now = 60.0
    breaker.success()
    assert breaker.state == "closed"


def test_reset_closes_the_circuit_at_once_and_forgets_the_failures() -> None:
    clock = Clock()
    breaker = opened(clock)
    breaker.reset()
    assert breaker.state == "closed"
    breaker.check("t")
    breaker.failure()  # one failure after a reset is one, not the third
    assert breaker.state == "closed"


def test_an_open_circuit_refuses_at_once_without_retrying_its_refusal() -> None:
    retry = floe.RetryConfig(
        max_attempts=5, initial_wait_s=1.0, max_wait_s=2.0, circuit_breaker_threshold=1
    )
    slept: list[float] = []
    guard = CallGuard("rest", retry, sleep=slept.append)
    calls: list[int] = []

    def down() -> None:
        calls.append(1)
        raise ConnectionError("refused")

    with pytest.raises(floe.CatalogConnectionError):
        guard.run("load table", "t", down)
    assert guard.breaker.state == "open"
    calls.clear()
    slept.clear()

    with pytest.raises(floe.CatalogConnectionError, match="circuit is open") as raised:
        guard.run("load table", "t", down)

    assert calls == []  # the catalog was not asked
    assert slept == []  # and no backoff was spent on the refusal
    assert "gave up after" not in str(raised.value)
