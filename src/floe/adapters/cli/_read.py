"""``floe read``: rows of a table, on the terminal or streamed to a Parquet, CSV or JSONL file."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import click
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn

from floe.adapters.cli._app import State, cli, json_option, pass_state
from floe.adapters.cli._exit import CliError, ExitCode
from floe.adapters.cli._render import Output, human_bytes, json_value

#: Rows shown on the terminal when no --limit is given (files get every row).
SHOWN_ROWS = 20
FORMATS = ("parquet", "csv", "jsonl")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl"}


class _Sink(Protocol):
    def write(self, batch: pa.RecordBatch) -> None: ...

    def close(self) -> None: ...


class _JsonLines:
    """One JSON object per row (times ISO 8601, decimals as text, bytes base64)."""

    def __init__(self, path: Path) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8")

    def write(self, batch: pa.RecordBatch) -> None:
        for row in batch.to_pylist():
            self._file.write(json.dumps(json_value(row)) + "\n")

    def close(self) -> None:
        self._file.close()


class _Arrow:
    """A pyarrow file writer (Parquet or CSV) fed batch by batch."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()


def _sink(path: Path, kind: str, schema: pa.Schema) -> _Sink:
    if kind == "parquet":
        return _Arrow(pq.ParquetWriter(str(path), schema))
    if kind == "csv":
        return _Arrow(pa_csv.CSVWriter(str(path), schema))
    return _JsonLines(path)


def _format(path: Path, given: str | None) -> str:
    if given is not None:
        return given
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise click.BadParameter(
            f"cannot tell the format of {path.name}; name it .parquet, .csv or .jsonl "
            "or pass --format",
            param_hint="--to",
        )
    return kind


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time such as 2024-05-01T12:00:00+00:00",
            param_hint="--as-of",
        ) from None
    return moment if moment.tzinfo is not None else moment.astimezone()


@contextlib.contextmanager
def _progress(out: Output, table: str, total: int | None) -> Iterator[Progress | None]:
    if not out.interactive:
        yield None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
    )
    with Progress(*columns, console=out.err, transient=True) as progress:
        yield progress


def _stream_to_file(
    out: Output, reader: pa.RecordBatchReader, table: str, path: Path, kind: str, limit: int | None
) -> int:
    """Write every batch to a hidden file beside ``path``, then rename it: all or nothing."""
    partial = path.with_name(f".{path.name}.partial")
    rows = 0
    try:
        sink = _sink(partial, kind, reader.schema)
        try:
            with _progress(out, table, limit) as progress:
                task = progress.add_task(f"reading {table}", total=limit) if progress else None
                for batch in reader:
                    sink.write(batch)
                    rows += batch.num_rows
                    if progress is not None and task is not None:
                        progress.update(task, completed=rows)
        finally:
            sink.close()
        os.replace(partial, path)
    except pa.ArrowException as exc:
        raise CliError(f"cannot write {table} as {kind} to {path}: {exc}", ExitCode.ERROR) from exc
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", ExitCode.ERROR) from exc
    finally:
        partial.unlink(missing_ok=True)
    return rows


@cli.command()
@click.argument("table")
@click.option("--columns", "-c", multiple=True, help="Columns to read, comma-separated.")
@click.option("--where", "row_filter", help="Iceberg filter, e.g. \"region = 'eu' and n > 1\".")
@click.option("--as-of", "as_of", help="Read the snapshot current at this ISO 8601 time.")
@click.option("--snapshot", "snapshot_id", type=click.IntRange(min=0), help="Snapshot id.")
@click.option(
    "--ref", "ref", help="Read this branch or tag (default: main); with --as-of, as it was then."
)
@click.option("--limit", type=click.IntRange(min=0), help="At most this many rows.")
@click.option(
    "--to",
    "target",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Stream every row to this file instead of showing some.",
)
@click.option("--format", "file_format", type=click.Choice(FORMATS), help="File format.")
@click.option("--overwrite", is_flag=True, help="Replace the --to file if it exists.")
@json_option
@pass_state
def read(
    state: State,
    table: str,
    columns: tuple[str, ...],
    row_filter: str | None,
    as_of: str | None,
    snapshot_id: int | None,
    ref: str | None,
    limit: int | None,
    target: Path | None,
    file_format: str | None,
    overwrite: bool,
) -> None:
    """Read TABLE: show its first rows, or stream them all to a file with --to.

    The file is Parquet, CSV or JSON lines (by its suffix or --format); it is
    written in bounded memory, batch by batch, and appears only when complete.
    A time without an offset is in the local zone.
    """
    names = [n.strip() for group in columns for n in group.split(",") if n.strip()] or None
    moment = _moment(as_of)
    kind = _format(target, file_format) if target is not None else None
    if target is not None and target.exists() and not overwrite:
        raise CliError(f"{target} exists; pass --overwrite to replace it", ExitCode.CONFLICT)
    if target is None and limit is None:
        limit = SHOWN_ROWS
    reader = state.lake.reads.batches(
        table,
        columns=names,
        row_filter=row_filter,
        snapshot_id=snapshot_id,
        as_of=moment,
        limit=limit,
        ref=ref,
    )
    out = state.output
    if target is not None and kind is not None:
        rows = _stream_to_file(out, reader, table, target, kind, limit)
        size = target.stat().st_size
        if out.as_json:
            out.emit(
                {"table": table, "path": str(target), "format": kind, "rows": rows, "bytes": size}
            )
        else:
            out.line(f"wrote {rows:,} rows of {table} to {target} ({kind}, {human_bytes(size)})")
        return
    data = reader.read_all()
    _show_rows(out, table, data)


def _show_rows(out: Output, table: str, data: pa.Table) -> None:
    if out.as_json:
        out.emit({"table": table, "columns": data.column_names, "rows": data.to_pylist()})
        return
    out.table(data.column_names, ([row[c] for c in data.column_names] for row in data.to_pylist()))
    out.note(f"{data.num_rows} rows")
