"""Turning caller input (strings, DataFrames) into domain values and Arrow data."""

from __future__ import annotations

import importlib
import itertools
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from floe.domain.errors import FloeStorageError, InvalidFilterError, WriteError
from floe.domain.identifiers import Namespace, TableIdentifier, parse_namespace

TableLike = TableIdentifier | str
NamespaceLike = str | Iterable[str]
DataLike = (
    pa.Table | pa.RecordBatch | pa.RecordBatchReader | Iterable[pa.RecordBatch] | pd.DataFrame
)


def as_identifier(value: TableLike) -> TableIdentifier:
    """Accept a :class:`TableIdentifier` or ``"ns.table"`` text."""
    if isinstance(value, TableIdentifier):
        return value
    return TableIdentifier.from_string(value)


def as_namespace(value: NamespaceLike) -> Namespace:
    """Accept ``("a", "b")`` or ``"a.b"``."""
    return parse_namespace(value)


def is_filter_expression(value: object) -> bool:
    """Whether ``value`` is a PyIceberg ``BooleanExpression``.

    Recognised by its class, not by importing PyIceberg: the application
    stays free of it; the adapters parse and bind the expression.
    """
    return any(
        kind.__name__ == "BooleanExpression" and kind.__module__ == "pyiceberg.expressions"
        for kind in type(value).__mro__
    )


def check_filter_text(row_filter: object, *, table: TableIdentifier) -> None:
    """Refuse a row filter that is neither text nor an expression, before any adapter sees it.

    Raises:
        InvalidFilterError: ``row_filter`` is neither ``None``, a ``str`` nor a
            PyIceberg ``BooleanExpression``.
    """
    if row_filter is None or isinstance(row_filter, str) or is_filter_expression(row_filter):
        return
    raise InvalidFilterError(
        f"the row filter for table {table} must be filter text (a str) or a PyIceberg "
        f"BooleanExpression, got {type(row_filter).__name__} {row_filter!r:.60}",
        subject=str(table),
    )


def _polars_frame(data: object) -> str | None:
    # Recognised by class, so that polars (optional) is never imported here.
    kind = type(data)
    if str(getattr(kind, "__module__", "")).split(".")[0] != "polars":
        return None
    return kind.__name__ if kind.__name__ in ("DataFrame", "LazyFrame") else None


def is_lazy_frame(data: object) -> bool:
    """Whether ``data`` is a ``polars.LazyFrame`` (recognised by class; polars is optional)."""
    return _polars_frame(data) == "LazyFrame"


def lazy_frame_stream(data: Any, *, table: TableIdentifier | str) -> pa.RecordBatchReader:
    """A ``polars.LazyFrame`` as a reader: its query runs when the reader is read.

    The schema is planned (no row is read here); the rows come from polars'
    streaming engine one chunk at a time, cast to that schema, so a large
    query is never collected whole.

    Raises:
        WriteError: The LazyFrame's plan cannot be resolved; nothing was read.
    """
    try:
        polars = importlib.import_module("polars")
        # The schema is planned, not computed: no row is read here.
        schema: pa.Schema = polars.DataFrame(schema=data.collect_schema()).to_arrow().schema
    except Exception as exc:  # polars raises its own errors for a broken plan
        raise WriteError(
            f"cannot plan the LazyFrame for table {table} ({type(exc).__name__}: {exc}); "
            "nothing was written",
            subject=str(table),
        ) from exc
    return pa.RecordBatchReader.from_batches(schema, _lazy_batches(data, schema))


def _lazy_batches(frame: Any, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    for chunk in frame.collect_batches(lazy=True, engine="streaming"):
        for batch in chunk.to_arrow().to_batches():
            yield batch if batch.schema.equals(schema) else batch.cast(schema)


def is_stream(data: Any) -> bool:
    """Whether ``data`` is a stream of record batches (a reader or an iterable of batches)."""
    if isinstance(data, pa.RecordBatchReader):
        return True
    return (
        isinstance(data, Iterable)
        and not isinstance(data, pa.Table | pa.RecordBatch | pd.DataFrame | str | bytes | dict)
        and _polars_frame(data) is None
    )


def open_stream(
    data: Any, *, table: TableIdentifier
) -> tuple[pa.Schema | None, Iterator[pa.RecordBatch]]:
    """A stream's schema and its batches; the schema is ``None`` for an empty iterable.

    The batches are checked as they are read: an error the source raises, a
    value that is not a record batch or a batch of another schema becomes a
    :class:`WriteError` (floe errors pass unchanged).

    Raises:
        WriteError: The first item is not a record batch, or reading it failed.
    """
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, _checked(iter(data), data.schema, table)
    items = iter(data)
    try:
        first = next(items, None)
    except FloeStorageError:
        raise
    except Exception as exc:
        raise _source_failed(exc, table) from exc
    if first is None:
        return None, iter(())
    if not isinstance(first, pa.RecordBatch):
        raise WriteError(
            f"cannot write an iterable of {type(first).__name__} to table {table}; "
            "an iterable must yield pyarrow.RecordBatch values",
            subject=str(table),
        )
    return first.schema, _checked(itertools.chain([first], items), first.schema, table)


def _checked(
    batches: Iterator[Any], schema: pa.Schema, table: TableIdentifier
) -> Iterator[pa.RecordBatch]:
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except FloeStorageError:
            raise
        except Exception as exc:
            raise _source_failed(exc, table) from exc
        if not isinstance(batch, pa.RecordBatch) or not batch.schema.equals(schema):
            what = (
                f"a batch with schema {batch.schema}"
                if isinstance(batch, pa.RecordBatch)
                else f"a {type(batch).__name__}"
            )
            raise WriteError(
                f"the rows for table {table} changed shape mid-stream: {what} after batches "
                f"with schema {schema}; nothing was written",
                subject=str(table),
            )
        yield batch


def _source_failed(exc: Exception, table: TableIdentifier) -> WriteError:
    return WriteError(
        f"reading the rows for table {table} failed ({type(exc).__name__}: {exc}); "
        "nothing was written",
        subject=str(table),
    )


def as_arrow(data: Any, *, table: TableIdentifier) -> pa.Table:
    """Accept a PyArrow table, record batch(es), a pandas or polars DataFrame, read whole.

    A ``polars.LazyFrame`` is collected first.

    Raises:
        WriteError: For any other kind of input, or an empty iterable of batches
            (it has no schema).
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if is_stream(data):
        schema, batches = open_stream(data, table=table)
        if schema is None:
            raise WriteError(
                f"cannot write an empty iterable to table {table}: it has no schema; "
                "give a pyarrow.RecordBatchReader or a Table",
                subject=str(table),
            )
        return pa.Table.from_batches(list(batches), schema=schema)
    frame = _polars_frame(data)
    if isinstance(data, pd.DataFrame) or frame is not None:
        try:
            if frame is None:
                return pa.Table.from_pandas(data, preserve_index=False)
            collected = data.collect() if frame == "LazyFrame" else data
            converted: pa.Table = collected.to_arrow()
            return converted
        except Exception as exc:  # object cells are anything: 2**70 overflows; queries fail
            raise WriteError(
                f"cannot convert the {type(data).__name__} for table {table} to Arrow "
                f"({type(exc).__name__}: {exc}); nothing was written",
                subject=str(table),
            ) from exc
    raise WriteError(
        f"cannot write a {type(data).__name__} to table {table}; "
        "give a pyarrow.Table, RecordBatch, RecordBatchReader, an iterable of "
        "RecordBatch, a pandas.DataFrame or a polars.DataFrame/LazyFrame",
        subject=str(table),
    )
