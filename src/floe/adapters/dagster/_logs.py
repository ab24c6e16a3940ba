"""floe's events during an IO manager call, sent to the Dagster run's log.

floe logs through the standard ``logging`` logger ``floe`` (silent unless
the application configures logging). While ``handle_output`` or
``load_input`` runs, :func:`to_run_log` also hands every event floe emits
*from that call's thread* to ``context.log.debug``, so the run's event log
holds them at DEBUG level. What the application sees of the ``floe`` logger
does not change: records below the level it had are delivered to Dagster
only, never to other handlers (nor, through the root logger, to a console).

A filter on the ``floe`` logger does the forwarding, because a filter runs
before any handler and before propagation: it is installed when the first
call starts and removed, with the logger's level restored, when the last
one ends. Calls on other threads (or outside any call) are not forwarded.

Dagster's native way, ``python_logs: managed_python_loggers: [floe]`` in the
instance's ``dagster.yaml``, captures the logger at the instance's level but
needs the instance configured so; an instance that is gets floe's events
that way and this module stands aside, so that no event is logged twice.
When the application has configured structlog, floe's events follow the
application's structlog pipeline instead of the ``floe`` logger, and reach
the run's log only if that pipeline ends in it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

import dagster as dg

_FLOE = "floe"


class RunLog(Protocol):
    """Where forwarded events go: ``context.log`` (a ``DagsterLogManager``)."""

    def debug(self, msg: str) -> Any:
        """Log ``msg`` at DEBUG level."""


# The run log of the IO manager call running in this thread (or task).
_run_log: contextvars.ContextVar[RunLog | None] = contextvars.ContextVar(
    "floe_dagster_run_log", default=None
)


class _Forwarder(logging.Filter):
    """Sends records of threads inside a call to Dagster; keeps the logger's old threshold."""

    def __init__(self, threshold: int) -> None:
        super().__init__()
        self.threshold = threshold

    def filter(self, record: logging.LogRecord) -> bool:
        log = _run_log.get()
        if log is not None:
            log.debug(record.getMessage())
        return record.levelno >= self.threshold


class _Installation:
    """The forwarder on the ``floe`` logger, shared by concurrent calls (reference counted)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._forwarder: _Forwarder | None = None
        self._saved_level = logging.NOTSET

    def enter(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            logger = logging.getLogger(_FLOE)
            self._saved_level = logger.level
            self._forwarder = _Forwarder(logger.getEffectiveLevel())
            logger.addFilter(self._forwarder)
            logger.setLevel(logging.DEBUG)

    def leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users > 0 or self._forwarder is None:
                return
            logger = logging.getLogger(_FLOE)
            logger.removeFilter(self._forwarder)
            logger.setLevel(self._saved_level)
            self._forwarder = None


_INSTALLATION = _Installation()


@contextmanager
def to_run_log(context: dg.OutputContext | dg.InputContext) -> Iterator[None]:
    """Forward floe's events of this thread to ``context.log.debug`` for the block.

    Nothing is forwarded when the context has no run log (a context built
    outside a run) or when the instance already captures the ``floe``
    logger itself (``managed_python_loggers``).
    """
    log = _log_of(context)
    if log is None:
        yield
        return
    with forwarding_to(log):
        yield


@contextmanager
def forwarding_to(log: RunLog) -> Iterator[None]:
    """Forward floe's events of this thread to ``log.debug`` for the block.

    Blocks may run at the same time in several threads, each forwarding its
    own thread's events to its own log; the ``floe`` logger gets its level
    and filters back when the last block ends.
    """
    token = _run_log.set(log)
    _INSTALLATION.enter()
    try:
        yield
    finally:
        _INSTALLATION.leave()
        _run_log.reset(token)


@contextmanager
def to_op_log(context: dg.OpExecutionContext) -> Iterator[None]:
    """Forward floe's events of this thread to an op's ``context.log.debug`` for the block.

    As :func:`to_run_log`, nothing is forwarded when the instance already
    captures the ``floe`` logger itself.
    """
    managed = context.instance.managed_python_loggers
    if _FLOE in managed or "root" in managed:
        yield
        return
    with forwarding_to(context.log):
        yield


def _log_of(context: dg.OutputContext | dg.InputContext) -> dg.DagsterLogManager | None:
    try:
        log = context.log
        step = context.step_context
    except dg.DagsterInvariantViolationError:
        return None
    if log is None:
        return None
    managed = step.instance.managed_python_loggers
    if _FLOE in managed or "root" in managed:
        return None
    return log
