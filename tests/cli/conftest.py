"""Run the real ``floe`` command in a subprocess, as an operator's shell does."""

from __future__ import annotations

import os
import re
import subprocess  # nosec B404 - runs this interpreter on floe's own command
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs
import pyarrow as pa
import pytest

import floe

#: The source tree the tests import floe from: the subprocess imports the same one.
SOURCE = Path(floe.__file__).resolve().parents[1]


@attrs.frozen
class Run:
    """One finished ``floe`` invocation."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        """Everything it printed, stdout then stderr."""
        return self.stdout + self.stderr


def floe_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a run: no catalog variables of the caller, fixed width, no colour."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLOE_CATALOG_", "PYICEBERG_")) and k not in {"COLUMNS", "LINES"}
    }
    env.update(
        {
            "PYTHONPATH": str(SOURCE),
            "COLUMNS": "100",
            "NO_COLOR": "1",
            "TERM": "dumb",
            "TZ": "UTC",
            "PYTHONIOENCODING": "utf-8",
            "HOME": env.get("HOME", "/nonexistent"),
        }
    )
    env.update(extra or {})
    return env


def run_floe(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, stdin: str | None = None
) -> Run:
    """``python -m floe.adapters.cli ARGS`` in ``cwd``, stdin not a terminal."""
    done = subprocess.run(  # nosec B603 - fixed interpreter, test-chosen arguments
        [sys.executable, "-m", "floe.adapters.cli", *args],
        cwd=cwd,
        env=floe_env(env),
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Run(tuple(args), done.returncode, done.stdout, done.stderr)


def golden(text: str, replacements: Mapping[str, str] | None = None) -> str:
    """Output as compared with golden text: replacements applied, trailing spaces cut."""
    for old, new in (replacements or {}).items():
        text = text.replace(old, new)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def scrub_uuids(text: str) -> str:
    """Metadata file names carry a uuid: replace each by ``<uuid>``."""
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)


class Workdir:
    """A working directory whose default catalog (``.floe/warehouse``) tests fill and read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.warehouse = path / ".floe" / "warehouse"

    def lake(self) -> floe.Floe:
        """The same embedded catalog the command opens by default, opened in-process."""
        return floe.Floe.from_config(floe.LocalCatalogConfig(str(self.warehouse)))

    def run(
        self, *args: str, env: Mapping[str, str] | None = None, stdin: str | None = None
    ) -> Run:
        """Run ``floe ARGS`` here."""
        return run_floe(*args, cwd=self.path, env=env, stdin=stdin)


@pytest.fixture
def workdir(tmp_path: Path) -> Workdir:
    """A fresh working directory with no catalog yet."""
    return Workdir(tmp_path)


def orders(ids: Sequence[int], region: str = "eu") -> pa.Table:
    """Rows of the test table ``shop.orders``."""
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "region": pa.array([region] * len(ids), pa.string()),
            "amount": pa.array([float(i) * 1.5 for i in ids], pa.float64()),
        }
    )
