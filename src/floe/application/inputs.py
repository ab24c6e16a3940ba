"""Turning caller input (strings, DataFrames) into domain values and Arrow data."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa

from floe.domain.errors import WriteError
from floe.domain.identifiers import Namespace, TableIdentifier, parse_namespace

TableLike = TableIdentifier | str
NamespaceLike = str | Iterable[str]
DataLike = pa.Table | pa.RecordBatch | pa.RecordBatchReader | pd.DataFrame


def as_identifier(value: TableLike) -> TableIdentifier:
    """Accept a :class:`TableIdentifier` or ``"ns.table"`` text."""
    if isinstance(value, TableIdentifier):
        return value
    return TableIdentifier.from_string(value)


def as_namespace(value: NamespaceLike) -> Namespace:
    """Accept ``("a", "b")`` or ``"a.b"``."""
    return parse_namespace(value)


def as_arrow(data: Any, *, table: TableIdentifier) -> pa.Table:
    """Accept a PyArrow table, record batch(es) or a pandas DataFrame.

    Raises:
        WriteError: For any other kind of input.
    """
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if isinstance(data, pa.RecordBatchReader):
        return data.read_all()
    if isinstance(data, pd.DataFrame):
        try:
            return pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise WriteError(
                f"cannot convert the DataFrame for table {table} to Arrow: {exc}",
                subject=str(table),
            ) from exc
    raise WriteError(
        f"cannot write a {type(data).__name__} to table {table}; "
        "give a pyarrow.Table, RecordBatch, RecordBatchReader or pandas.DataFrame",
        subject=str(table),
    )
