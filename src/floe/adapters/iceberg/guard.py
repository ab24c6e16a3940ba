"""Retries, circuit breaking, token refresh, error translation and observability, in one place.

Every PyIceberg call of the adapters goes through :meth:`CallGuard.run`.
Transient faults (connection errors, timeouts, 429, 5xx on non-commit
requests) are retried with exponential backoff and jitter per
:class:`~floe.domain.config.RetryConfig`, never sooner than a ``Retry-After``
the server sent; 4xx answers are not, except one token refresh on 401/419.
Commits never reach here with an unknown outcome still retryable: the store
turns those into :class:`CommitStateUnknownError` before, and that error is
never retried. Errors leave the guard without the stack frames of the code
below it (see :func:`without_frames`).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import requests
import tenacity
from pyiceberg import exceptions as ice

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
#: Faults of a commit request after which the catalog may have applied it.
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
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        response: Any = getattr(error, "response", None)
        headers: Any = getattr(response, "headers", None)
        value = headers.get("Retry-After") if headers is not None else None
        if isinstance(value, str) and value.strip():
            return _parse_retry_after(value.strip(), now or (lambda: dt.datetime.now(dt.UTC)))
        error = error.__cause__ or error.__context__
    return None


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


@contextmanager
def commit_outcome_guarded(subject: str) -> Iterator[None]:
    """Around a commit request: a fault that may have let the commit through is not retryable.

    A connection reset, a timeout or a 5xx answer while committing may come
    after the catalog applied the commit. Re-sending could apply it twice, so
    these become :class:`CommitStateUnknownError`, which nothing retries.
    A 4xx answer (including 401/419 and 429) means the commit was refused and
    stays retryable.
    """
    try:
        yield
    except _OUTCOME_UNKNOWN as exc:
        raise CommitStateUnknownError(
            f"commit to table {subject} failed with {type(exc).__name__}; it may or may "
            "not have been applied, so floe did not re-send it. Read the table's snapshots "
            "to learn the outcome.",
            subject=subject,
        ) from exc


def commit_refused(error: BaseException) -> bool:
    """Whether a failed commit surely did not land, so the files written for it are unreferenced.

    True for a conflict or failed validation (PyIceberg's own rule for
    deleting a commit's manifests), a table that no longer exists, and any
    4xx answer of the catalog to the commit request: 400, 401, 403, 419 and
    429 are refusals as much as 409 is. False for the faults
    :func:`commit_outcome_guarded` turns into an unknown outcome and for
    anything unrecognised: keeping a file leaves an orphan, deleting a
    referenced one breaks every reader.
    """
    if isinstance(error, _OUTCOME_UNKNOWN):
        return False
    if isinstance(error, _NOT_APPLIED):
        return True
    status = _answered_status(error)
    return status is not None and 400 <= status < 500


def _answered_status(error: BaseException | None) -> int | None:
    """The HTTP status of the first response on ``error``'s chain (PyIceberg raises ``from`` it)."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        status: Any = getattr(getattr(error, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
        error = error.__cause__ or error.__context__
    return None


def _asked_to_wait(exc: BaseException) -> str:
    hint = retry_after_s(exc)
    return "" if hint is None else f"; it asked to retry after {hint:g} s"


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
        """Raise when the circuit is open."""
        if self._threshold <= 0:
            return
        with self._lock:
            if self._state() == "open":
                raise CatalogConnectionError(
                    f"catalog circuit is open after {self._failures} consecutive failures; "
                    f"not calling for {subject} until the cool-down ends",
                    subject=subject,
                )

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
            try:
                if not replayable:
                    return self._attempt(record, call, replayable=False)
                return self._with_retries(record, call)
            except FloeStorageError as ours:
                raise without_frames(ours)  # noqa: B904 - its own chain is kept
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
                if isinstance(error, CatalogConnectionError) and record.attempts > 1:
                    error = CatalogConnectionError(
                        f"{error} (gave up after {record.attempts} attempts)", subject=subject
                    )
                raise error from without_frames(exc)

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
            retry=tenacity.retry_if_exception_type(_TRANSIENT),
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
