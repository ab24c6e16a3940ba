"""Asset values ↔ Arrow: PyArrow tables, pandas and (when installed) polars frames.

polars is optional (``pip install floe[polars]``); it is imported only when a
polars value or annotation is met, so floe never requires it.

A ``polars.LazyFrame`` output is streamed when the write can stream
(:func:`to_stream`: the query runs on polars' streaming engine, batch by
batch, as the table store pulls them) and collected otherwise. A
``LazyFrame`` input is a deferred scan (:mod:`floe.adapters.dagster._lazy`).
"""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd
import pyarrow as pa

from floe.application.inputs import lazy_frame_stream
from floe.domain.errors import WriteError

#: Rows per batch when a DuckDB relation is streamed into a table.
_DUCKDB_BATCH_ROWS = 122_880


def _is_polars(kind: object) -> bool:
    return str(getattr(kind, "__module__", "")).split(".")[0] == "polars"


def _is_lazy(value: object) -> bool:
    return _is_polars(type(value)) and type(value).__name__ == "LazyFrame"


def _is_duckdb(kind: object) -> bool:
    module = str(getattr(kind, "__module__", "")).split(".")[0]
    return module in ("duckdb", "_duckdb") and getattr(kind, "__name__", "") == "DuckDBPyRelation"


def wants_duckdb(annotation: object) -> bool:
    """Whether an input annotated so gets a ``duckdb.DuckDBPyRelation``."""
    return _is_duckdb(annotation)


def is_ray_dataset(value: object) -> bool:
    """Whether ``value`` is a ``ray.data.Dataset`` (a ``MaterializedDataset`` too)."""
    return any(wants_ray(cls) for cls in type(value).__mro__)


def wants_ray(annotation: object) -> bool:
    """Whether an input annotated so gets a ``ray.data.Dataset``."""
    module = str(getattr(annotation, "__module__", ""))
    return module.startswith("ray.data") and getattr(annotation, "__name__", "") == "Dataset"


def _polars() -> Any:
    # An optional dependency: imported on use, untyped to mypy when absent.
    return importlib.import_module("polars")


def can_stream(value: object) -> bool:
    """Whether ``value`` is a stream of rows :func:`to_stream` hands over unread.

    A ``pyarrow.RecordBatchReader``, a ``polars.LazyFrame`` or a
    ``duckdb.DuckDBPyRelation``.
    """
    return isinstance(value, pa.RecordBatchReader) or _is_lazy(value) or _is_duckdb(type(value))


def to_stream(value: Any, *, table: str) -> pa.RecordBatchReader:
    """A streamable output (see :func:`can_stream`) as a reader, nothing read yet.

    A ``LazyFrame`` runs on polars' streaming engine when the reader is first
    read, and its batches are handed over one at a time. A failing query
    fails the read (the write turns that into a :class:`WriteError`).

    Raises:
        WriteError: The value cannot stream, or the LazyFrame's schema cannot
            be resolved.
    """
    if isinstance(value, pa.RecordBatchReader):
        return value
    if _is_duckdb(type(value)):
        # DuckDB runs the query as the reader is pulled, batch by batch.
        reader: pa.RecordBatchReader = value.to_arrow_reader(_DUCKDB_BATCH_ROWS)
        return reader
    if not _is_lazy(value):
        raise WriteError(
            f"cannot stream a {type(value).__name__} into table {table}", subject=table
        )
    return lazy_frame_stream(value, table=table)


def to_arrow(value: Any, *, table: str) -> pa.Table:
    """An asset's output as an Arrow table.

    A pandas index is not stored (call ``reset_index()`` first to keep it).
    A ``LazyFrame`` is collected (on the streaming engine).

    Raises:
        WriteError: The value is of an unsupported type or cannot be converted.
    """
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    try:
        if isinstance(value, pa.RecordBatchReader):
            return value.read_all()
        if isinstance(value, pd.DataFrame):
            return pa.Table.from_pandas(value, preserve_index=False)
        if _is_lazy(value):
            return _polars_to_arrow(value.collect(engine="streaming"))
        if _is_duckdb(type(value)):
            return _duckdb_to_arrow(value)
        if is_ray_dataset(value):
            return _ray_to_arrow(value)
        if _is_polars(type(value)) and hasattr(value, "to_arrow"):
            return _polars_to_arrow(value)
    except WriteError:
        raise
    except Exception as exc:  # object cells are anything: 2**70 overflows; queries fail
        raise WriteError(
            f"cannot convert the {type(value).__name__} for table {table} to Arrow "
            f"({type(exc).__name__}: {exc}); nothing was written",
            subject=table,
        ) from exc
    raise WriteError(
        f"cannot write a {type(value).__name__} to table {table}; return a pyarrow.Table, "
        "a RecordBatchReader, a pandas.DataFrame, a polars.DataFrame/LazyFrame, a "
        "duckdb relation or a ray.data.Dataset",
        subject=table,
    )


def _ray_to_arrow(value: Any) -> pa.Table:
    ray = importlib.import_module("ray")
    blocks: list[pa.Table] = ray.get(list(value.to_arrow_refs()))
    return pa.concat_tables(blocks, promote_options="permissive") if blocks else pa.table({})


def _duckdb_to_arrow(value: Any) -> pa.Table:
    table: pa.Table = value.to_arrow_table()
    return table


def _polars_to_arrow(value: Any) -> pa.Table:
    table: pa.Table = value.to_arrow()
    return table


def from_arrow(data: pa.Table, annotation: object) -> Any:
    """Arrow data as the type a downstream input annotates.

    ``pandas.DataFrame`` → pandas, ``polars.DataFrame`` → polars, anything
    else (``pyarrow.Table``, no annotation) → PyArrow. A ``LazyFrame`` input
    is read by :func:`floe.adapters.dagster._lazy.lazy_scan` instead.
    """
    if annotation is pd.DataFrame:
        return data.to_pandas()
    if _is_polars(annotation):
        frame = _polars().from_arrow(data)
        return frame.lazy() if wants_lazy(annotation) else frame
    return data


def wants_lazy(annotation: object) -> bool:
    """Whether an input annotated so gets a ``polars.LazyFrame``."""
    return _is_polars(annotation) and getattr(annotation, "__name__", "") == "LazyFrame"
