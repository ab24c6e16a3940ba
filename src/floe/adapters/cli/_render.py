"""Output: text for people (rich) or stable JSON for scripts, and the values' formats."""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def human_bytes(size: int | float) -> str:
    """A size in binary units: ``512 B``, ``1.5 KiB``, ``3.0 GiB``."""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def local_time(epoch_ms: int) -> str:
    """A commit time in the local zone, to the second, with its offset."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def utc_iso(epoch_ms: int) -> str:
    """A time as ISO 8601 in UTC (the JSON form)."""
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def human_duration(span: timedelta) -> str:
    """``3d``, ``12h``, ``1d 6h``, ``90s``: the largest units that are exact."""
    seconds = int(span.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"


def json_value(value: Any) -> Any:
    """A cell of a row as JSON: times ISO 8601, decimals as text, bytes in base64."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


class Output:
    """Where a command's results and messages go.

    Args:
        as_json: Results as one JSON document on stdout, instead of text.
    """

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        # highlight=False: no guessing colours for numbers; rich honours NO_COLOR and COLUMNS.
        self.out = Console(highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, highlight=False)

    @property
    def interactive(self) -> bool:
        """Whether progress may be drawn: text output to a terminal."""
        return not self.as_json and self.err.is_terminal

    def emit(self, document: Mapping[str, Any]) -> None:
        """Print a JSON document (stable key order as given)."""
        sys.stdout.write(json.dumps(json_value(document), indent=2) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """Print one line of text as it is (no markup, never wrapped)."""
        self.out.print(Text(text), soft_wrap=True)

    def fields(self, pairs: Iterable[tuple[str, object]]) -> None:
        """Print ``name: value`` lines, names aligned."""
        rows = list(pairs)
        width = max((len(name) for name, _ in rows), default=0)
        for name, value in rows:
            self.line(f"{name + ':':<{width + 1}} {value}")

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[object]],
        *,
        title: str | None = None,
        right: Sequence[str] = (),
    ) -> None:
        """Print rows as a table; ``right`` names the right-aligned (numeric) columns."""
        grid = Table(
            box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, show_edge=False
        )
        for column in columns:
            grid.add_column(column, justify="right" if column in right else "left", overflow="fold")
        for row in rows:
            grid.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
        self.out.print(grid)

    def note(self, text: str) -> None:
        """A message for the person at the terminal (stderr, never in JSON output)."""
        self.err.print(Text(text), soft_wrap=True)
