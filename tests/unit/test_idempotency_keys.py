"""Idempotency keys, the advertised window and the re-send rule, without a server.

The integration suite (tests/integration/test_idempotent_commits.py) runs
them against the proxy over HTTP; here the edges: the key's form, what
``/v1/config`` answers say, the bounds of the re-sends, and which failure a
commit ends with when every attempt went unanswered.
"""

from __future__ import annotations

import uuid

import pytest
import requests
import urllib3

from floe.adapters.iceberg.idempotency import HEADER, is_keyed, new_key, send_keyed
from floe.adapters.iceberg.server import ServerTraits, iso_duration_s
from floe.domain.config import RetryConfig

RETRY = RetryConfig(max_attempts=3, initial_wait_s=0.01, max_wait_s=2.0, jitter_s=0.0)


def test_a_key_is_a_uuid_v7_starting_with_the_time() -> None:
    key = uuid.UUID(new_key(lambda: 0x0123456789AB))
    assert key.version == 7
    assert key.variant == uuid.RFC_4122
    assert str(key).startswith("01234567-89ab-7")
    assert new_key() != new_key()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT30M", 1800.0),
        ("PT24H", 86400.0),
        ("P1DT1H", 90000.0),
        ("PT0.5S", 0.5),
        ("pt1m30s", 90.0),
    ],
)
def test_iso_durations_of_days_and_time(text: str, seconds: float) -> None:
    assert iso_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "P1M", "P1Y", "30m", "PT0S", "-PT1M"])
def test_durations_that_are_no_window(text: str) -> None:
    assert iso_duration_s(text) is None


def test_config_answers_say_polaris_and_the_window() -> None:
    traits = ServerTraits()
    traits.learn(
        b'{"defaults": {}, "overrides": {}, "idempotency-key-lifetime": "PT30M",'
        b' "endpoints": ["GET /v1/{prefix}/namespaces",'
        b' "GET /polaris/v1/{prefix}/applicable-policies"]}'
    )
    assert traits.is_polaris
    assert traits.idempotency_window_s == 1800.0
    traits.learn(b'{"defaults": {}, "overrides": {}, "endpoints": ["GET /v1/{prefix}/namespaces"]}')
    assert not traits.is_polaris
    assert traits.idempotency_window_s is None
    traits.learn(b"<html>not json</html>")  # says nothing: what was learnt stays
    assert traits.idempotency_window_s is None


@pytest.mark.parametrize(
    ("method", "path", "keyed"),
    [
        ("POST", "/api/catalog/v1/wh/namespaces/ns/tables", True),
        ("POST", "/api/catalog/v1/wh/namespaces/a%1Fb/tables/t", True),
        ("POST", "/v1/namespaces/ns/tables/t", True),
        ("POST", "/api/catalog/v1/wh/namespaces/ns/tables/t/metrics", False),
        ("POST", "/api/catalog/v1/wh/namespaces/ns/register", False),
        ("POST", "/api/catalog/v1/wh/tables/rename", False),
        ("POST", "/api/catalog/v1/wh/namespaces", False),
        ("GET", "/api/catalog/v1/wh/namespaces/ns/tables/t", False),
        ("DELETE", "/api/catalog/v1/wh/namespaces/ns/tables/t", False),
    ],
)
def test_only_table_creates_and_commits_are_keyed(method: str, path: str, keyed: bool) -> None:
    request = requests.Request(method, f"http://127.0.0.1:1{path}").prepare()
    assert is_keyed(request) is keyed


def answer(status: int, retry_after: str | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = retry_after
    return response


def reset() -> requests.ConnectionError:
    return requests.ConnectionError("Connection reset by peer")


def refused() -> requests.ConnectionError:
    cause = urllib3.exceptions.NewConnectionError(None, "refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", cause))  # type: ignore[arg-type]


class Script:
    """Sends that answer or fail as listed, recording the key each one carried."""

    def __init__(self, request: requests.PreparedRequest, *outcomes: object) -> None:
        self.request = request
        self.outcomes = list(outcomes)
        self.keys: list[str] = []
        self.waits: list[float] = []

    def send(self) -> requests.Response:
        self.keys.append(self.request.headers[HEADER])
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        assert isinstance(outcome, requests.Response)
        return outcome

    def run(self, window_s: float = 1800.0, retry: RetryConfig = RETRY) -> requests.Response:
        return send_keyed(
            self.request, self.send, window_s=window_s, retry=retry, sleep=self.waits.append
        )


def commit() -> requests.PreparedRequest:
    return requests.Request("POST", "http://127.0.0.1:1/v1/namespaces/n/tables/t").prepare()


def test_an_unanswered_commit_goes_again_with_the_same_key_until_answered() -> None:
    script = Script(commit(), reset(), answer(502), answer(200))
    assert script.run().status_code == 200
    assert len(script.keys) == 3
    assert len(set(script.keys)) == 1


def test_a_refusal_is_final_and_not_resent() -> None:
    script = Script(commit(), answer(409), answer(200))
    assert script.run().status_code == 409
    assert len(script.keys) == 1


def test_the_wait_a_busy_server_names_is_honoured() -> None:
    script = Script(commit(), answer(503, "1"), answer(200))
    assert script.run().status_code == 200
    assert script.waits == [1.0]


def test_a_wait_beyond_the_policy_or_the_window_ends_the_resends() -> None:
    longer = Script(commit(), answer(429, "5"), answer(200))
    assert longer.run().status_code == 429  # 5 s is more than max_wait_s
    assert longer.waits == []
    late = Script(commit(), answer(503, "1"), answer(200))
    assert late.run(window_s=0.5).status_code == 503
    assert late.waits == []


def test_the_attempts_are_bounded_and_the_last_failure_is_raised() -> None:
    script = Script(commit(), reset(), reset(), reset(), answer(200))
    with pytest.raises(requests.ConnectionError):
        script.run()
    assert len(script.keys) == RETRY.max_attempts


def test_a_commit_that_may_have_landed_stays_so_when_a_later_attempt_cannot_connect() -> None:
    landed = reset()
    script = Script(commit(), landed, refused(), refused())
    with pytest.raises(requests.ConnectionError) as info:
        script.run()
    assert info.value is landed  # not "never sent", which would invite a new commit
