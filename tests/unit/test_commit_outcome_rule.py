"""The commit-outcome rule, case by case, without a server.

Once a commit request may have reached the catalog, any failure but a
definitive answer is an unknown outcome; a request that never left is a
plain transient fault. (The same cases against a real catalog are in
tests/integration/test_commit_outcome.py.)
"""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import requests
import urllib3
from pydantic import ValidationError
from pyiceberg import exceptions as ice
from pyiceberg.table import CommitTableResponse

import floe
from floe.adapters.iceberg.guard import (
    commit_outcome_guarded,
    definitive_answer,
    never_sent,
    send_observed,
)

ICEBERG_ERROR = b'{"error": {"message": "no", "type": "NoSuchTableException", "code": 404}}'
HTML = b"<html><body>Bad gateway</body></html>"


def answer(status: int, body: bytes) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.raw = io.BytesIO(body)
    return response


def refused() -> requests.ConnectionError:
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/v1", reason))  # type: ignore[arg-type]


def aborted() -> requests.ConnectionError:
    return requests.ConnectionError(urllib3.exceptions.ProtocolError("Connection aborted"))


@pytest.mark.parametrize(
    ("status", "body", "definitive"),
    [
        (409, HTML, True),
        (404, ICEBERG_ERROR, True),
        (400, ICEBERG_ERROR, True),
        (404, HTML, False),
        (401, b"", False),
        (200, b"{}", False),
        (500, ICEBERG_ERROR, False),
        (503, HTML, False),
    ],
)
def test_only_a_conflict_or_an_iceberg_4xx_is_a_definitive_answer(
    status: int, body: bytes, definitive: bool
) -> None:
    assert definitive_answer(answer(status, body)) is definitive


@pytest.mark.parametrize(
    ("error", "unsent"),
    [
        (refused(), True),
        (requests.ConnectTimeout("connect timed out"), True),
        (aborted(), False),
        (requests.ReadTimeout("read timed out"), False),
        (requests.exceptions.ChunkedEncodingError("cut"), False),
    ],
    ids=["refused", "connect-timeout", "aborted", "read-timeout", "cut"],
)
def test_only_a_connection_that_never_opened_means_nothing_was_sent(
    error: requests.RequestException, unsent: bool
) -> None:
    assert never_sent(error) is unsent


def raising(error: BaseException) -> Callable[[], requests.Response]:
    def send() -> requests.Response:
        raise error

    return send


def bad_body() -> ValidationError:
    try:
        CommitTableResponse.model_validate_json(HTML)
    except ValidationError as exc:
        return exc
    raise AssertionError("HTML parsed as a commit answer")


@pytest.mark.parametrize(
    "after_sending",
    [
        lambda: send_observed("POST", lambda: answer(200, HTML)),  # then the parse fails
        lambda: send_observed("POST", raising(aborted())),
        lambda: send_observed("POST", raising(requests.ReadTimeout("slow"))),
        lambda: send_observed("POST", lambda: answer(502, HTML)),
        lambda: send_observed("POST", lambda: answer(403, HTML)),  # not the catalog speaking
    ],
    ids=["bad-200-body", "aborted", "read-timeout", "502", "gateway-403"],
)
def test_a_failure_once_the_commit_went_out_is_an_unknown_outcome(
    after_sending: Callable[[], requests.Response],
) -> None:
    def commit() -> None:
        with commit_outcome_guarded("ns.t"):
            after_sending()  # a send that fails raises here
            raise bad_body()  # one that answers: the answer does not parse

    with pytest.raises(floe.CommitStateUnknownError) as info:
        commit()
    assert "ns.t" in str(info.value)


def test_a_refused_connection_stays_a_transient_fault() -> None:
    with pytest.raises(requests.ConnectionError), commit_outcome_guarded("ns.t"):
        send_observed("POST", raising(refused()))


def test_a_definitive_refusal_stays_what_it_is_even_if_a_later_read_fails() -> None:
    # PyIceberg re-reads the table after a 409 before trying again.
    def commit() -> None:
        with commit_outcome_guarded("ns.t"):
            send_observed("POST", lambda: answer(409, ICEBERG_ERROR))
            send_observed("GET", raising(requests.ReadTimeout("slow")))

    with pytest.raises(requests.ReadTimeout):
        commit()


def test_a_failure_before_any_request_passes_unchanged() -> None:
    # The embedded catalog sends nothing: its errors are what they are.
    with pytest.raises(ice.CommitFailedException), commit_outcome_guarded("ns.t"):
        raise ice.CommitFailedException("requirement failed")
    with pytest.raises(floe.CatalogConnectionError), commit_outcome_guarded("ns.t"):
        raise floe.CatalogConnectionError("cannot reach the token endpoint")


def test_the_catalog_saying_the_outcome_is_unknown_is_unknown() -> None:
    with pytest.raises(floe.CommitStateUnknownError), commit_outcome_guarded("ns.t"):
        raise ice.CommitStateUnknownException("500")


def test_requests_outside_a_commit_are_only_sent() -> None:
    assert send_observed("POST", lambda: answer(200, b"{}")).status_code == 200
    with pytest.raises(requests.ReadTimeout):
        send_observed("DELETE", raising(requests.ReadTimeout("slow")))
