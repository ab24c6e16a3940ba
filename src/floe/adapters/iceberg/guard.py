"""Retries, circuit breaking, token refresh, error translation and observability, in one place.

Every PyIceberg call of the adapters goes through :meth:`CallGuard.run`.
Transient faults (connection errors, timeouts, 429, 5xx on non-commit
requests) are retried with exponential backoff and jitter per
:class:`~floe.domain.config.RetryConfig`, never sooner than a ``Retry-After``
the server sent; a token endpoint that fails is such a fault too. 4xx
answers are not retried; on 401/419 the token is renewed and the refused
request re-sent (:meth:`CallGuard.request_refused`), and a second refusal
gets one more refresh and, for a replayable call, one more run.
Commits never reach here with an unknown outcome still retryable: around
each commit the store uses :func:`commit_outcome_guarded`, which (told by the
catalog's HTTP adapter through :func:`send_observed` what went out) turns any
failure after the request may have reached the catalog into
:class:`CommitStateUnknownError`, never retried. Errors leave the guard
without the stack frames of the code below it (see :func:`without_frames`).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
import tenacity
import urllib3
from pyiceberg import exceptions as ice
from pyiceberg.catalog.rest.response import ErrorResponse

from floe.adapters.iceberg.auth import TokenProvider
from floe.adapters.iceberg.errors import translate_exception
from floe.adapters.observability import OperationRecord, observe
from floe.domain.config import RetryConfig
from floe.domain.errors import (
    CatalogConnectionError,
    CatalogError,
    CommitStateUnknownError,
    FloeStorageError,
)

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

_FRAMES_DROPPED = "stack frames dropped by floe (their locals may hold credentials)"

_TRANSIENT: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
    ice.ServiceUnavailableError,
    ice.TooManyRequestsError,
    ice.ServerError,
    CatalogConnectionError,
)
_AUTH_EXPIRED: tuple[type[BaseException], ...] = (
    ice.UnauthorizedError,
    ice.AuthorizationExpiredError,
)
#: Faults after which a commit may have been applied, when nothing else tells.
_OUTCOME_UNKNOWN: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    ConnectionError,
    TimeoutError,
    ice.ServerError,
    ice.ServiceUnavailableError,
    ice.CommitStateUnknownException,
)
#: Failures of a commit that prove it was not applied, whatever the catalog.
_NOT_APPLIED: tuple[type[BaseException], ...] = (
    ice.CommitFailedException,
    ice.ValidationException,
    ice.NoSuchTableError,
)


def without_frames(error: E) -> E:
    """``error`` and every exception chained to it, stripped of their stack frames.

    Frame locals of HTTP, PyIceberg and FileIO code hold bearer tokens, client
    credentials and S3 keys, and log renderers that print locals (structlog's
    ``dict_tracebacks``, rich tracebacks) would show them. Each exception keeps
    its type, message and chain, plus a note naming where it was raised.
    """
    pending: list[BaseException] = [error]
    seen: set[int] = set()
    while pending:
        link = pending.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        tb = link.__traceback__
        if tb is not None:
            while tb.tb_next is not None:
                tb = tb.tb_next
            code = tb.tb_frame.f_code
            if not any(_FRAMES_DROPPED in note for note in getattr(link, "__notes__", ())):
                link.add_note(
                    f"raised at {code.co_filename}:{tb.tb_lineno} in {code.co_name}; "
                    + _FRAMES_DROPPED
                )
            link.__traceback__ = None
        pending.extend(x for x in (link.__cause__, link.__context__) if x is not None)
    return error


def retry_after_s(
    error: BaseException | None, now: Callable[[], dt.datetime] | None = None
) -> float | None:
    """The wait in seconds a 429/503 answer asked for with ``Retry-After``, if any.

    PyIceberg raises its own exceptions ``from`` the ``requests.HTTPError``
    that holds the response, so the header is found on the exception chain
    (``__cause__``/``__context__``). Both forms are understood: delay seconds
    and an HTTP date.
    """
    for response in _chained_responses(error):
        wait = response_retry_after_s(response, now)
        if wait is not None:
            return wait
    return None


def response_retry_after_s(
    response: Any, now: Callable[[], dt.datetime] | None = None
) -> float | None:
    """The wait in seconds ``response``'s ``Retry-After`` asks for (seconds or an HTTP date)."""
    headers: Any = getattr(response, "headers", None)
    value = headers.get("Retry-After") if headers is not None else None
    if isinstance(value, str) and value.strip():
        return _parse_retry_after(value.strip(), now or (lambda: dt.datetime.now(dt.UTC)))
    return None


def _chained_responses(error: BaseException | None) -> Iterator[Any]:
    """The HTTP responses held along ``error``'s chain, outermost first.

    PyIceberg raises its own exceptions ``from`` the ``requests.HTTPError``
    holding the response, so it is found on ``__cause__``/``__context__``.
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        response = getattr(error, "response", None)
        if response is not None:
            yield response
        error = error.__cause__ or error.__context__


def _parse_retry_after(value: str, now: Callable[[], dt.datetime]) -> float | None:
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now()).total_seconds())


class _CommitWire:
    """What the commit requests of one :func:`commit_outcome_guarded` block did on the wire."""

    def __init__(self) -> None:
        #: A commit request went out and no definitive answer to it came back.
        self.unanswered = False


_COMMIT_WIRE: contextvars.ContextVar[_CommitWire | None] = contextvars.ContextVar(
    "floe_commit_wire", default=None
)
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The operation the current thread is running through a guard.
_RUNNING: contextvars.ContextVar[OperationRecord | None] = contextvars.ContextVar(
    "floe_running_operation", default=None
)


def send_observed(method: str | None, send: Callable[[], requests.Response]) -> requests.Response:
    """Send one catalog HTTP request, noting for an enclosing commit whether it may have landed.

    The catalog's HTTP adapter sends every request through here. Outside
    :func:`commit_outcome_guarded`, or for a read, it only sends. Inside, a
    mutating request counts as possibly applied from the moment it is handed
    to the connection until a definitive answer (:func:`definitive_answer`)
    arrives; a request whose connection could not even be opened was never
    sent.

    Args:
        method: The HTTP method of the request.
        send: Sends it and returns the response (headers read, body not yet).

    Returns:
        The response of ``send``.
    """
    wire = _COMMIT_WIRE.get()
    if wire is None or (method or "GET").upper() in _SAFE_METHODS:
        return send()
    wire.unanswered = True
    try:
        response = send()
    except (requests.ConnectionError, requests.Timeout) as exc:
        if never_sent(exc):
            wire.unanswered = False
        raise
    if definitive_answer(response):
        wire.unanswered = False
    return response


def never_sent(error: BaseException) -> bool:
    """Whether ``error`` says the request never left: the connection could not be opened.

    A refused connection, a failed name lookup and a connect timeout happen
    before a byte of the request is written. Anything later (a reset, a read
    timeout, a cut answer) may follow a request the server received.
    """
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = error.args[0] if isinstance(error, requests.ConnectionError) and error.args else None
    reason = getattr(reason, "reason", reason)  # urllib3 wraps it in MaxRetryError
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def definitive_answer(response: requests.Response) -> bool:
    """Whether ``response`` is the catalog refusing a mutation: it certainly was not applied.

    That is a 409 conflict, or another 4xx (but 408 Request Timeout) whose
    body is an Iceberg REST error (``{"error": {"message", "type", "code"}}``).
    A 4xx in any other
    shape (a gateway's HTML page) does not prove the catalog saw the request,
    and every 2xx, 5xx or unreadable answer may follow an applied commit.
    """
    status = response.status_code
    if status == 409:
        return True
    if status == 408 or not 400 <= status < 500:
        # 408: the server gave up waiting for the request, which may have been
        # applied all the same (PyIceberg treats 500/502/504 alike for commits).
        return False
    try:
        ErrorResponse.model_validate_json(response.content)
    except (ValueError, requests.RequestException, urllib3.exceptions.HTTPError):
        return False  # not an Iceberg error body, or not readable at all
    return True


@contextmanager
def commit_outcome_guarded(subject: str) -> Iterator[None]:
    """Around a commit: once the request may have reached the catalog, a failure is "unknown".

    A commit the catalog applied can still fail on the client: the answer is
    cut mid-body, arrives as HTML or unparseable JSON with status 200, trickles
    past the timeout, or is a 5xx. Re-sending could apply it twice, so once a
    commit request went out, any failure other than a definitive answer (409,
    or a 4xx with an Iceberg error body; see :func:`definitive_answer`)
    becomes :class:`CommitStateUnknownError`, which nothing retries. A failure
    before anything was sent (a refused connection, a token endpoint that
    cannot be reached) is left as it is: transient, so the guard retries it.
    """
    wire = _CommitWire()
    token = _COMMIT_WIRE.set(wire)
    try:
        yield
    except Exception as exc:
        if isinstance(exc, CommitStateUnknownError) or not (
            wire.unanswered or isinstance(exc, ice.CommitStateUnknownException)
        ):
            raise
        raise CommitStateUnknownError(
            f"commit to table {subject} failed with {type(exc).__name__} after the request "
            "was sent; it may or may not have been applied, so floe did not re-send it. "
            "Read the table's snapshots to learn the outcome.",
            subject=subject,
        ) from exc
    finally:
        _COMMIT_WIRE.reset(token)


def commit_refused(error: BaseException) -> bool:
    """Whether a failed commit surely did not land, so the files written for it are unreferenced.

    Called inside :func:`commit_outcome_guarded`, whose record of the wire
    decides first: a commit request that went out without a definitive answer
    may have been applied (the guard reports it as an unknown outcome), so
    its files are kept. Otherwise True for a conflict or failed validation
    (PyIceberg's own rule for deleting a commit's manifests), a table that no
    longer exists, and a 4xx answer of the catalog to the commit request:
    400, 401, 403, 419 and 429 are refusals as much as 409 is. False for
    connection faults and server errors and for anything unrecognised:
    keeping a file leaves an orphan, deleting a referenced one breaks every
    reader.
    """
    wire = _COMMIT_WIRE.get()
    if wire is not None and wire.unanswered:
        return False
    if isinstance(error, _OUTCOME_UNKNOWN):
        return False
    if isinstance(error, _NOT_APPLIED):
        return True
    status = answered_status(error)
    return status is not None and 400 <= status < 500


def answered_status(error: BaseException | None) -> int | None:
    """The HTTP status of the first response on ``error``'s chain."""
    for response in _chained_responses(error):
        status: Any = getattr(response, "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _asked_to_wait(exc: BaseException) -> str:
    hint = retry_after_s(exc)
    return "" if hint is None else f"; it asked to retry after {hint:g} s"


def _worth_retrying(error: BaseException) -> bool:
    """A transient failure, unless it is the circuit refusing the call."""
    return isinstance(error, _TRANSIENT) and not isinstance(error, CircuitOpenError)


class CircuitOpenError(CatalogConnectionError):
    """The circuit is open: the call was refused without asking the catalog.

    Not retried: waiting a backoff or two does not reach the end of the
    cool-down, and failing fast is what an open circuit is for.
    """


class CircuitBreaker:
    """Fail fast after ``threshold`` consecutive failures; try again after ``reset_s``.

    Closed: calls pass. Open: calls fail at once with
    :class:`CatalogConnectionError`. Half-open (after the cool-down): one call
    passes; its success closes the circuit, its failure opens it again.
    ``threshold`` 0 disables the breaker.
    """

    def __init__(
        self, threshold: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open``."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def check(self, subject: str) -> None:
        """Raise :class:`CircuitOpenError` when the circuit is open."""
        if self._threshold <= 0:
            return
        with self._lock:
            if self._state() == "open":
                raise CircuitOpenError(
                    f"catalog circuit is open after {self._failures} consecutive failures; "
                    f"not calling for {subject} until the cool-down ends",
                    subject=subject,
                )

    def reset(self) -> None:
        """Close the circuit and forget the failures counted so far.

        For a caller who checked the server itself (a reconnect, a connection
        probe that was answered): what failed before says nothing about now.
        """
        self.success()

    def success(self) -> None:
        """Record a success: close the circuit."""
        with self._lock:
            self._failures = 0
            self._opened_at = None

    def failure(self) -> None:
        """Record a transient failure: open the circuit at the threshold."""
        with self._lock:
            self._failures += 1
            if self._threshold > 0 and (
                self._failures >= self._threshold or self._opened_at is not None
            ):
                self._opened_at = self._clock()


class CallGuard:
    """Runs adapter calls with retries, token refresh, translation and observability.

    Args:
        adapter: The adapter name for logs and spans (``rest``, ``local``).
        retry: The retry policy.
        tokens: The token provider to refresh on 401/419, if any.
        sleep: How to wait between attempts (injectable for tests).
    """

    def __init__(
        self,
        adapter: str,
        retry: RetryConfig,
        tokens: TokenProvider | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.adapter = adapter
        self.retry = retry
        self.tokens = tokens
        self.breaker = CircuitBreaker(
            retry.circuit_breaker_threshold, retry.circuit_breaker_reset_s
        )
        self._sleep = sleep

    def run(
        self,
        operation: str,
        subject: str,
        call: Callable[[], T],
        *,
        fallback: type[FloeStorageError] = CatalogError,
        replayable: bool = True,
    ) -> T:
        """Run ``call`` for ``operation`` on ``subject``.

        Args:
            operation: What is done, for errors, logs and spans.
            subject: The object it is done to.
            call: The work.
            fallback: The floe error for anything unrecognised.
            replayable: ``False`` for a call that cannot run twice (it consumes
                a stream): it is attempted once, with no retry and no second
                call after a token refresh.

        Raises:
            FloeStorageError: Only floe errors: foreign exceptions are
                translated, with ``fallback`` for anything unrecognised.
        """
        with observe(operation, subject, adapter=self.adapter) as record:
            running = _RUNNING.set(record)
            try:
                if not replayable:
                    return self._attempt(record, call, replayable=False)
                return self._with_retries(record, call)
            except Exception as exc:  # the boundary: nothing foreign passes
                error = translate_exception(
                    exc, operation=operation, subject=subject, fallback=fallback
                )
                if isinstance(exc, ice.TooManyRequestsError):
                    error = CatalogConnectionError(
                        f"{operation} {subject}: the catalog is rate limiting requests "
                        f"(429 Too Many Requests){_asked_to_wait(exc)}",
                        subject=subject,
                    )
                if (
                    isinstance(error, CatalogConnectionError)
                    and record.attempts > 1
                    and "gave up after" not in str(error)  # a nested call said it already
                ):
                    # Whatever failed last (the catalog, its token endpoint), the
                    # caller learns that the retry budget was spent on it.
                    error = CatalogConnectionError(
                        f"{error} (gave up after {record.attempts} attempts)", subject=subject
                    )
                if error is exc:
                    raise without_frames(error)  # noqa: B904 - its own chain is kept
                raise error from without_frames(exc)
            finally:
                _RUNNING.reset(running)

    def request_refused(self) -> None:
        """A request was answered 401/419 and goes again: forget the token, note the refresh.

        Called from inside a running call, where PyIceberg re-sends that one
        request, so a token expiring mid-operation costs a request, not the
        operation. A static token cannot be renewed: nothing is forgotten.
        """
        if self.tokens is None or not self.tokens.invalidate():
            return
        record = _RUNNING.get()
        if record is not None:
            record.note("floe.token_refresh", reason="401/419 from the catalog: request re-sent")

    def _with_retries(self, record: OperationRecord, call: Callable[[], T]) -> T:
        # Nearly every call succeeds at once: the retry machinery is only built
        # after a transient failure. Tenacity then sees that failure as its
        # first attempt, so waits, stops and retry events are the same.
        try:
            return self._attempt(record, call)
        except _TRANSIENT as exc:
            replayed: list[BaseException] = [exc]

        def again(record: OperationRecord, call: Callable[[], T]) -> T:
            if replayed:
                raise replayed.pop()
            return self._attempt(record, call)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            wait = state.next_action.sleep if state.next_action is not None else 0.0
            record.retrying(attempt=state.attempt_number, wait_s=wait, error=type(error).__name__)

        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.retry.initial_wait_s,
            max=self.retry.max_wait_s,
            jitter=self.retry.jitter_s,
        )

        def server_hint(state: tenacity.RetryCallState) -> float | None:
            outcome = state.outcome
            return retry_after_s(outcome.exception() if outcome is not None else None)

        def wait(state: tenacity.RetryCallState) -> float:
            # Never sooner than the server asked (Retry-After), else the backoff.
            hint = server_hint(state)
            return backoff(state) if hint is None else max(backoff(state), hint)

        def stop(state: tenacity.RetryCallState) -> bool:
            # A server asking for a longer pause than max_wait_s is not retried at all.
            hint = server_hint(state)
            too_long = hint is not None and hint > self.retry.max_wait_s
            return state.attempt_number >= self.retry.max_attempts or too_long

        retrying = tenacity.Retrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(_worth_retrying),
            before_sleep=before_sleep,
            sleep=self._sleep,
            reraise=True,
        )
        result: T = retrying(again, record, call)
        return result

    def _attempt(
        self, record: OperationRecord, call: Callable[[], T], *, replayable: bool = True
    ) -> T:
        self.breaker.check(record.subject)
        try:
            result = self._with_one_refresh(record, call, replayable)
        except _TRANSIENT:
            self.breaker.failure()
            raise
        self.breaker.success()
        return result

    def _with_one_refresh(
        self, record: OperationRecord, call: Callable[[], T], replayable: bool
    ) -> T:
        try:
            return call()
        except _AUTH_EXPIRED:
            if self.tokens is None or not self.tokens.invalidate() or not replayable:
                raise
            record.note("floe.token_refresh", reason="401/419 from the catalog")
        return call()
