"""floe's events forwarded to a Dagster run's log: per thread, and invisible elsewhere."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
import structlog

from floe.adapters.dagster._logs import forwarding_to
from floe.adapters.observability import observe


class ListLog:
    """A run log that keeps what it is given."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def debug(self, msg: str) -> None:
        self.messages.append(msg)


class Kept(logging.Handler):
    """An application's handler on the ``floe`` logger."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def stdlib_logging() -> Iterator[None]:
    """floe's events on the stdlib logger ``floe``, as when the application has not
    configured structlog (another test may have left structlog configured)."""
    configured, saved = structlog.is_configured(), structlog.get_config()
    structlog.reset_defaults()
    yield
    if configured:
        structlog.configure(**saved)


@pytest.fixture
def application(stdlib_logging: None) -> Iterator[Kept]:
    logger = logging.getLogger("floe")
    handler = Kept()
    logger.addHandler(handler)
    level, filters = logger.level, list(logger.filters)
    yield handler
    logger.removeHandler(handler)
    assert (logger.level, logger.filters) == (level, filters)  # left as it was found


def _event(subject: str) -> None:
    with observe("load table", subject, adapter="memory"):
        pass


def test_each_thread_forwards_its_own_events_to_its_own_log(application: Kept) -> None:
    logs = {"one": ListLog(), "two": ListLog()}
    both_inside = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def step(name: str) -> None:
        try:
            with forwarding_to(logs[name]):
                both_inside.wait()
                _event(f"ns.{name}")
                both_inside.wait()  # neither leaves before both have logged
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=step, args=(name,)) for name in logs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    _event("ns.outside")  # no block is open: nothing is forwarded

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    for name, log in logs.items():
        assert len(log.messages) == 1
        assert "event=floe.operation" in log.messages[0]
        assert f"subject=ns.{name} " in log.messages[0]
    # The application's logger stays at its level (WARNING, from the root): no debug event.
    assert application.records == []


def test_the_application_still_gets_what_its_level_lets_through(application: Kept) -> None:
    logger = logging.getLogger("floe")
    log = ListLog()
    logger.setLevel(logging.DEBUG)
    try:
        with forwarding_to(log), forwarding_to(log):  # nested blocks share one filter
            _event("ns.both")
        _event("ns.application_only")
    finally:
        logger.setLevel(logging.NOTSET)

    assert len(log.messages) == 1  # one filter however many blocks are open
    assert "subject=ns.both " in log.messages[0]
    subjects = [r.getMessage().split("subject=")[1].split()[0] for r in application.records]
    assert subjects == ["ns.both", "ns.application_only"]
