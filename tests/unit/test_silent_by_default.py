"""floe prints nothing unless the application configures logging, as libraries do."""

from __future__ import annotations

import subprocess  # nosec B404 - runs this interpreter on a fixed script
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import floe, pyarrow as pa
    {setup}
    lake = floe.Floe.from_config({{"type": "memory"}})
    lake.namespaces.create_if_not_exists("shop")
    print("exists", lake.tables.exists("shop.orders"))
    lake.writes.append("shop.orders", pa.table({{"id": [1]}}), create_if_missing=floe.NewTable())
    try:
        lake.reads.scan("shop.orders", row_filter="nope = 1")
    except floe.InvalidFilterError:
        print("refused")
    """
)


def run(setup: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # nosec B603
        [sys.executable, "-c", SCRIPT.format(setup=setup)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


def test_nothing_but_the_programs_own_output_without_logging_configured() -> None:
    done = run()

    assert done.stdout == "exists False\nrefused\n"
    assert done.stderr == ""


def test_events_reach_the_standard_logging_logger_floe_when_configured() -> None:
    done = run(
        "import logging; logging.basicConfig("
        "level=logging.DEBUG, format='%(name)s %(levelname)s %(message)s')"
    )

    lines = [line for line in done.stderr.splitlines() if line.startswith("floe ")]
    assert 'floe DEBUG event=floe.operation operation="load table"' in "\n".join(lines)
    assert any("outcome=not_found" in line for line in lines)
    assert any("INFO" in line and "error=InvalidFilterError" in line for line in lines)
    assert done.stdout == "exists False\nrefused\n"


def test_an_application_that_configured_structlog_gets_the_events_there() -> None:
    done = run(
        "import structlog; structlog.configure("
        "processors=[structlog.processors.KeyValueRenderer()],"
        " logger_factory=structlog.PrintLoggerFactory())"
    )

    assert "event='floe.operation'" in done.stdout
    assert done.stderr == ""
