"""The ``floe`` command at a terminal: it asks before destroying, and draws progress."""

from __future__ import annotations

import os
import pty
import select
import subprocess  # nosec B404 - runs this interpreter on floe's own command
import sys

import floe
from tests.cli.conftest import Workdir, floe_env, orders


def run_at_terminal(workdir: Workdir, *args: str, answer: str = "") -> tuple[int, str, str]:
    """Run ``floe ARGS`` with stdin and stderr on a pseudo-terminal; type ``answer``.

    Returns the exit code, stdout (a pipe) and what the terminal showed.
    """
    main, child = pty.openpty()
    try:
        process = subprocess.Popen(  # nosec B603 - fixed interpreter, test-chosen arguments
            [sys.executable, "-m", "floe.adapters.cli", *args],
            cwd=workdir.path,
            env=floe_env({"TERM": "xterm"}),
            stdin=child,
            stdout=subprocess.PIPE,
            stderr=child,
        )
        os.close(child)
        if answer:
            os.write(main, answer.encode())
        shown = bytearray()
        for _ in range(100_000):  # bounded: the process ends, the terminal then reads EOF
            ready, _, _ = select.select([main], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(main, 65536)
                except OSError:  # the terminal closed: the process has exited
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        stdout = process.stdout.read().decode() if process.stdout else ""
        code = process.wait(timeout=120)
    finally:
        os.close(main)
    return code, stdout, shown.decode(errors="replace")


def test_a_destructive_command_asks_at_a_terminal(workdir: Workdir) -> None:
    lake = workdir.lake()
    lake.namespaces.create("shop")
    lake.writes.append("shop.orders", orders([1, 2]), create_if_missing=floe.NewTable())

    code, _, shown = run_at_terminal(workdir, "tables", "drop", "shop.orders", answer="n\n")
    assert code == 1
    assert "Drop table shop.orders?" in shown
    assert lake.tables.exists("shop.orders")

    code, stdout, shown = run_at_terminal(workdir, "tables", "drop", "shop.orders", answer="y\n")
    assert code == 0, shown
    assert stdout == "dropped table shop.orders\n"
    assert not lake.tables.exists("shop.orders")


def test_reading_to_a_file_draws_progress_at_a_terminal(workdir: Workdir) -> None:
    lake = workdir.lake()
    lake.namespaces.create("shop")
    lake.writes.append("shop.orders", orders(list(range(1000))), create_if_missing=floe.NewTable())

    code, stdout, shown = run_at_terminal(workdir, "read", "shop.orders", "--to", "out.jsonl")
    assert code == 0, shown
    assert "reading shop.orders" in shown
    assert stdout.startswith("wrote 1,000 rows of shop.orders to out.jsonl")
    assert len((workdir.path / "out.jsonl").read_text().splitlines()) == 1000
