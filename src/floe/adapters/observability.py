"""Structured logs and OpenTelemetry spans for every catalog and table operation.

One event and one span per port operation (``operation``, ``subject``,
``adapter``, ``outcome``, ``attempts``, ``duration_ms``), and one event per
retry. Values are plain strings and numbers chosen here; configs, tokens and
secrets are never passed in, so they cannot leak into logs or spans.

floe is a library, so it is silent until the application asks for its
events: they go to the standard ``logging`` logger ``floe`` (which has a
``NullHandler``, so nothing shows unless logging is configured), or, when
the application has configured structlog, through the application's
structlog pipeline. Levels: routine success and "not found" answers of
existence checks are ``debug``, a failed operation (the caller also gets
the exception) ``info``, a retried fault (the caller sees nothing of it)
``warning``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import attrs
import structlog
from opentelemetry import trace

from floe.domain.errors import NamespaceNotFoundError, TableNotFoundError

logging.getLogger("floe").addHandler(logging.NullHandler())
_STDLIB = structlog.wrap_logger(
    logging.getLogger("floe"),
    wrapper_class=structlog.stdlib.BoundLogger,
    processors=[
        structlog.stdlib.filter_by_level,  # nothing is rendered for a disabled level
        structlog.processors.LogfmtRenderer(key_order=["event"]),
    ],
)


def _logger() -> Any:
    """The application's structlog pipeline when it configured one, else stdlib ``logging``."""
    return structlog.get_logger("floe") if structlog.is_configured() else _STDLIB


_EXPECTED = (NamespaceNotFoundError, TableNotFoundError)
_tracer = trace.get_tracer("floe")


@attrs.define
class OperationRecord:
    """Mutable facts about one running operation, filled in by the code it wraps."""

    operation: str
    subject: str
    adapter: str
    attempts: int = 1

    def retrying(self, *, attempt: int, wait_s: float, error: str) -> None:
        """Log that attempt ``attempt`` failed and another follows after ``wait_s``."""
        self.attempts = attempt + 1
        _logger().warning(
            "floe.retry",
            operation=self.operation,
            subject=self.subject,
            adapter=self.adapter,
            attempt=attempt,
            wait_s=round(wait_s, 3),
            error=error,
        )

    def note(self, event: str, **fields: str | int | float | bool) -> None:
        """Log a noteworthy step of the operation (e.g. a token refresh)."""
        _logger().info(
            event, operation=self.operation, subject=self.subject, adapter=self.adapter, **fields
        )


def note(event: str, **fields: str | int | float | bool) -> None:
    """Log a noteworthy fact an operation reports rather than raises (``info``).

    E.g. a file maintenance could not delete: the caller finds it in the
    result, whoever follows floe's events sees it here.
    """
    _logger().info(event, **fields)


def _tracing() -> bool:
    """Whether a tracer provider is set; without one every span is a no-op.

    OpenTelemetry's API then hands out non-recording spans that nobody can
    see; skipping them saves most of the per-operation cost of tracing.
    """
    provider = trace.get_tracer_provider()
    return not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider)


@contextmanager
def observe(operation: str, subject: str, *, adapter: str) -> Iterator[OperationRecord]:
    """Wrap one port operation in a span and a closing log event.

    Args:
        operation: What is done, e.g. ``"create table"``.
        subject: The object, e.g. ``"sales.orders"``.
        adapter: Which adapter does it (``rest``, ``local``, ``memory``).
    """
    record = OperationRecord(operation, subject, adapter)
    start = time.perf_counter()
    spans: AbstractContextManager[trace.Span] = (
        _tracer.start_as_current_span(
            f"floe {operation}",
            attributes={
                "floe.operation": operation,
                "floe.subject": subject,
                "floe.adapter": adapter,
            },
        )
        if _tracing()
        else nullcontext(trace.INVALID_SPAN)
    )
    with spans as span:
        try:
            yield record
        except BaseException as exc:
            duration_ms = round((time.perf_counter() - start) * 1000, 3)
            span.set_attributes(
                {
                    "floe.outcome": "error",
                    "floe.attempts": record.attempts,
                    "floe.error": type(exc).__name__,
                    "floe.duration_ms": duration_ms,
                }
            )
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
            # The caller gets the exception: the event is for whoever traces
            # floe. "Not found" is how existence checks answer, not a failure.
            expected = isinstance(exc, _EXPECTED)
            log = _logger()
            report = log.debug if expected else log.info
            report(
                "floe.operation",
                operation=operation,
                subject=subject,
                adapter=adapter,
                outcome="not_found" if expected else "error",
                error=type(exc).__name__,
                message=str(exc)[:300],
                attempts=record.attempts,
                duration_ms=duration_ms,
            )
            raise
        duration_ms = round((time.perf_counter() - start) * 1000, 3)
        if span.is_recording():  # no tracer provider set: a no-op span
            span.set_attributes(
                {
                    "floe.outcome": "ok",
                    "floe.attempts": record.attempts,
                    "floe.duration_ms": duration_ms,
                }
            )
        # Routine success is debug: visible when asked for, silent in production.
        _logger().debug(
            "floe.operation",
            operation=operation,
            subject=subject,
            adapter=adapter,
            outcome="ok",
            attempts=record.attempts,
            duration_ms=duration_ms,
        )


C = TypeVar("C", bound=type)


def instrumented(adapter: str) -> Callable[[C], C]:
    """Class decorator: observe every port method a class implements.

    For adapters whose calls need no retry guard (the in-memory one): each
    method named abstract in one of the class's bases (the ports) runs inside
    :func:`observe`, with its first argument as the subject.
    """

    def decorate(cls: C) -> C:
        names = {
            name
            for base in cls.__mro__[1:]
            for name in getattr(base, "__abstractmethods__", frozenset())
        }
        for name in sorted(names):
            setattr(cls, name, _observed(getattr(cls, name), name.replace("_", " "), adapter))
        return cls

    return decorate


def _subject(value: object) -> str:
    if isinstance(value, tuple) and all(isinstance(p, str) for p in value):
        return ".".join(value)
    return str(value)


def _observed(method: Callable[..., Any], operation: str, adapter: str) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
        subject = _subject(args[0]) if args else ""
        with observe(operation, subject, adapter=adapter):
            return method(self, *args, **kwargs)

    return wrapper
