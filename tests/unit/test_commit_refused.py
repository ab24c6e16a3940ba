"""Which failed commits surely did not land, so a streamed append may delete its files."""

from __future__ import annotations

import pytest
import requests
from pyiceberg import exceptions as ice

from floe.adapters.iceberg.guard import commit_refused


def answered(status: int, error: type[Exception]) -> Exception:
    """``error`` raised from the HTTP error of a ``status`` answer, as PyIceberg raises it."""
    response = requests.Response()
    response.status_code = status
    try:
        try:
            raise requests.HTTPError(f"{status}", response=response)
        except requests.HTTPError as http:
            raise error(f"answered {status}") from http
    except Exception as exc:  # the raised chain is the value under test
        return exc


@pytest.mark.parametrize(
    "error",
    [
        answered(400, ice.BadRequestError),
        answered(401, ice.UnauthorizedError),
        answered(403, ice.ForbiddenError),
        answered(419, ice.AuthorizationExpiredError),
        answered(422, ice.RESTError),
        answered(429, ice.TooManyRequestsError),
        answered(409, ice.CommitFailedException),
        ice.CommitFailedException("conflict (embedded catalog)"),
        ice.ValidationException("found conflicting files"),
        ice.NoSuchTableError("dropped meanwhile"),
    ],
    ids=["400", "401", "403", "419", "422", "429", "409", "conflict", "validation", "no-table"],
)
def test_refusals_are_recognised(error: Exception) -> None:
    assert commit_refused(error) is True


@pytest.mark.parametrize(
    "error",
    [
        answered(500, ice.CommitStateUnknownException),
        answered(502, ice.CommitStateUnknownException),
        answered(503, ice.ServiceUnavailableError),
        answered(507, ice.ServerError),
        requests.ConnectionError("reset"),
        requests.ReadTimeout("read timed out"),
        ConnectionResetError("reset"),
        RuntimeError("something unrecognised"),
    ],
    ids=["500", "502", "503", "507", "reset", "timeout", "socket", "unknown"],
)
def test_unknown_outcomes_and_the_unrecognised_are_not_refusals(error: Exception) -> None:
    assert commit_refused(error) is False


def test_only_the_answer_to_the_failing_request_counts() -> None:
    """A 5xx after a refused first try (PyIceberg re-sends after a 419) is still unknown."""
    error = answered(500, ice.CommitStateUnknownException)
    error.__context__ = answered(419, ice.AuthorizationExpiredError)
    assert commit_refused(error) is False
    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = answered(500, ice.ServerError)
    wrapped.__cause__.__context__ = answered(400, ice.BadRequestError)
    assert commit_refused(wrapped) is False
