"""Asset values ↔ Arrow: PyArrow tables, pandas and (when installed) polars frames.

polars is optional (``pip install floe[polars]``); it is imported only when a
polars value or annotation is met, so floe never requires it.
"""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd
import pyarrow as pa

from floe.domain.errors import WriteError


def _is_polars(kind: object) -> bool:
    return str(getattr(kind, "__module__", "")).split(".")[0] == "polars"


def to_arrow(value: Any, *, table: str) -> pa.Table:
    """An asset's output as an Arrow table.

    A pandas index is not stored (call ``reset_index()`` first to keep it).

    Raises:
        WriteError: The value is of an unsupported type or cannot be converted.
    """
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if isinstance(value, pa.RecordBatchReader):
        return value.read_all()
    try:
        if isinstance(value, pd.DataFrame):
            return pa.Table.from_pandas(value, preserve_index=False)
        if _is_polars(type(value)) and hasattr(value, "to_arrow"):
            return _polars_to_arrow(value)
    except Exception as exc:  # object cells are anything: 2**70 overflows
        raise WriteError(
            f"cannot convert the {type(value).__name__} for table {table} to Arrow "
            f"({type(exc).__name__}: {exc}); nothing was written",
            subject=table,
        ) from exc
    raise WriteError(
        f"cannot write a {type(value).__name__} to table {table}; return a pyarrow.Table, "
        "a RecordBatchReader, a pandas.DataFrame or a polars.DataFrame/LazyFrame",
        subject=table,
    )


def _polars_to_arrow(value: Any) -> pa.Table:
    if type(value).__name__ == "LazyFrame":
        value = value.collect()
    table: pa.Table = value.to_arrow()
    return table


def from_arrow(data: pa.Table, annotation: object) -> Any:
    """Arrow data as the type a downstream input annotates.

    ``pandas.DataFrame`` → pandas, ``polars.DataFrame``/``LazyFrame`` →
    polars, anything else (``pyarrow.Table``, no annotation) → PyArrow.
    """
    if annotation is pd.DataFrame:
        return data.to_pandas()
    if _is_polars(annotation):
        # An optional dependency: imported on use, untyped to mypy when absent.
        polars = importlib.import_module("polars")
        frame = polars.from_arrow(data)
        return frame.lazy() if getattr(annotation, "__name__", "") == "LazyFrame" else frame
    return data
