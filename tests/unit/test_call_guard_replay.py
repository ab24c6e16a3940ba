"""A call that consumes a stream is attempted once: never retried, never re-sent after a refresh."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pyiceberg import exceptions as ice

import floe
from floe.adapters.iceberg.auth import TokenProvider
from floe.adapters.iceberg.guard import CallGuard

RETRY = floe.RetryConfig(max_attempts=3, initial_wait_s=0.01, max_wait_s=0.01, jitter_s=0.0)


def flaky(error: Exception, calls: list[int]) -> Callable[[], str]:
    def call() -> str:
        calls.append(1)
        raise error

    return call


@pytest.mark.parametrize(("replayable", "expected"), [(True, 3), (False, 1)])
def test_transient_faults_are_retried_only_when_the_call_can_be_replayed(
    replayable: bool, expected: int
) -> None:
    guard = CallGuard("rest", RETRY, sleep=lambda _: None)
    calls: list[int] = []
    with pytest.raises(floe.CatalogConnectionError):
        guard.run(
            "append stream into", "t", flaky(ConnectionError("reset"), calls), replayable=replayable
        )
    assert len(calls) == expected


@pytest.mark.parametrize(("replayable", "expected"), [(True, 2), (False, 1)])
def test_an_expired_token_re_sends_only_a_replayable_call(replayable: bool, expected: int) -> None:
    tokens = TokenProvider(static_token="tok")
    invalidated: list[int] = []
    tokens.invalidate = lambda: invalidated.append(1) or True  # type: ignore[method-assign]
    guard = CallGuard("rest", RETRY, tokens=tokens, sleep=lambda _: None)
    calls: list[int] = []
    with pytest.raises(floe.FloeStorageError):
        guard.run(
            "append stream into",
            "t",
            flaky(ice.UnauthorizedError("401"), calls),
            replayable=replayable,
        )
    assert len(calls) == expected
    assert invalidated == [1]


def test_a_token_endpoint_that_stays_down_spends_the_retry_budget_and_says_so() -> None:
    # The token provider raises floe's own CatalogConnectionError from inside the request.
    guard = CallGuard("rest", RETRY, sleep=lambda _: None)
    calls: list[int] = []
    down = floe.CatalogConnectionError("cannot reach the token endpoint https://idp/token")
    with pytest.raises(floe.CatalogConnectionError) as info:
        guard.run("load table", "t", flaky(down, calls))
    assert len(calls) == 3
    assert "cannot reach the token endpoint" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)
    assert info.value.__cause__ is down
