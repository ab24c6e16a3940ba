"""``polars.LazyFrame`` inputs: a polars IO source over floe's batch scan.

Polars calls the source only when the frame is collected, with the columns
the query needs, its filter (a polars expression) and, sometimes, a row
count. The columns and the row count go into floe's scan; the filter is
translated into floe filter text where that is exactly safe (see
:func:`filter_text`) and always applied by polars to each batch as well, so
the rows are polars' whatever is pushed down.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa

from floe.domain.errors import InvalidFilterError

#: Reads the input's rows: ``(columns or None for all, extra filter text or None,
#: row limit or None)`` → batches.
BatchSource = Callable[[Sequence[str] | None, str | None, int | None], pa.RecordBatchReader]

_COMPARISONS = {"Eq": "=", "NotEq": "!=", "Lt": "<", "LtEq": "<=", "Gt": ">", "GtEq": ">="}
_MIRRORED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEYWORDS = {"and", "or", "not", "in", "is", "null", "nan", "true", "false", "like", "between"}


def lazy_scan(read: BatchSource, schema: pa.Schema, *, name: str) -> Any:
    """A ``polars.LazyFrame`` over rows that are read only when it is collected.

    Args:
        read: Reads the rows: ``read(columns, filter_text, limit)``.
        schema: The rows' Arrow schema, before projection.
        name: What is scanned, for polars' query plan (``explain``).

    Returns:
        The lazy frame.
    """
    polars = importlib.import_module("polars")

    def source(
        with_columns: list[str] | None,
        predicate: Any,
        n_rows: int | None,
        _batch_size: int | None,
    ) -> Iterator[Any]:
        pushed = filter_text(predicate, schema) if predicate is not None else None
        # A limit counts rows AFTER the filter: push it down only without one.
        limit = n_rows if predicate is None else None
        try:
            reader = read(with_columns, pushed, limit)
        except InvalidFilterError:
            if pushed is None:
                raise
            reader = read(with_columns, None, limit)  # the catalog refused the translation
        remaining = n_rows
        for batch in reader:
            frame = polars.from_arrow(pa.Table.from_batches([batch], schema=batch.schema))
            if with_columns is not None:
                frame = frame.select(with_columns)
            if predicate is not None:
                frame = frame.filter(predicate)
            if remaining is not None:
                frame = frame.head(remaining)
                remaining -= frame.height
            yield frame
            if remaining is not None and remaining <= 0:
                return

    return polars.io.plugins.register_io_source(
        source,
        schema=polars.from_arrow(schema.empty_table()).schema,
        explain_name="floe",
        explain_detail=name,
    )


def filter_text(predicate: Any, schema: pa.Schema) -> str | None:
    """Filter text (floe's) selecting every row a polars predicate keeps, or ``None``.

    Translated: comparisons of an integer, string or boolean column with a
    literal, ``is_between``, ``is_null``/``is_not_null``, a boolean column
    itself, and ``&``, ``|`` and ``~`` of those.
    Floating-point columns are never pushed down (polars orders NaN above
    every number, Iceberg does not). Conjuncts that cannot be translated
    are left to polars, so the text may select more rows, never fewer.

    Args:
        predicate: The polars expression.
        schema: The scanned rows' Arrow schema.

    Returns:
        The filter text, or ``None`` when nothing can be pushed down.
    """
    try:
        tree = json.loads(predicate.meta.serialize(format="json"))
    except Exception:  # an expression polars cannot serialise: polars filters alone
        return None
    parts = [text for node in _conjuncts(tree) if (text := _exact(node, schema)) is not None]
    return " and ".join(f"({p})" for p in parts) if parts else None


def _conjuncts(node: Any) -> list[Any]:
    binary = node.get("BinaryExpr") if isinstance(node, dict) else None
    if isinstance(binary, dict) and binary.get("op") in ("And", "LogicalAnd"):
        return [*_conjuncts(binary.get("left")), *_conjuncts(binary.get("right"))]
    return [node]


def _exact(node: Any, schema: pa.Schema) -> str | None:
    """Filter text selecting exactly the rows ``node`` keeps, or ``None``."""
    if not isinstance(node, dict) or len(node) != 1:
        return None
    ((kind, body),) = node.items()
    if kind == "Column":  # a boolean column as the predicate itself
        column = _column(node, schema)
        if column is not None and pa.types.is_boolean(schema.field(column).type):
            return f"{column} = true"
        return None
    if kind == "BinaryExpr" and isinstance(body, dict):
        op = body.get("op")
        left, right = body.get("left"), body.get("right")
        if op in ("And", "LogicalAnd", "Or", "LogicalOr"):
            a, b = _exact(left, schema), _exact(right, schema)
            word = "and" if op in ("And", "LogicalAnd") else "or"
            return None if a is None or b is None else f"({a}) {word} ({b})"
        if op in _COMPARISONS:
            return _comparison(_COMPARISONS[op], left, right, schema)
        return None
    if kind == "Function" and isinstance(body, dict):
        inputs = body.get("input")
        function = body.get("function")
        if not isinstance(inputs, list) or not inputs:
            return None
        if isinstance(function, dict) and len(inputs) == 3:
            return _between(function.get("Boolean"), inputs, schema)
        if len(inputs) != 1:
            return None
        if function == {"Boolean": "Not"}:
            inner = _exact(inputs[0], schema)
            return None if inner is None else f"not ({inner})"
        column = _column(inputs[0], schema)
        if column is not None and function == {"Boolean": "IsNull"}:
            return f"{column} is null"
        if column is not None and function == {"Boolean": "IsNotNull"}:
            return f"{column} is not null"
    return None


def _comparison(op: str, left: Any, right: Any, schema: pa.Schema) -> str | None:
    column, literal = _column(left, schema), right
    if column is None:
        column, literal, op = _column(right, schema), left, _MIRRORED[op]
    if column is None:
        return None
    value = _literal(literal, schema.field(column).type)
    return None if value is None else f"{column} {op} {value}"


_BETWEEN = {"Both": (">=", "<="), "Left": (">=", "<"), "Right": (">", "<="), "None": (">", "<")}


def _between(function: Any, inputs: list[Any], schema: pa.Schema) -> str | None:
    closed = function.get("IsBetween", {}).get("closed") if isinstance(function, dict) else None
    if closed not in _BETWEEN:
        return None
    low, high = _BETWEEN[closed]
    lower = _comparison(low, inputs[0], inputs[1], schema)
    upper = _comparison(high, inputs[0], inputs[2], schema)
    return None if lower is None or upper is None else f"({lower}) and ({upper})"


def _column(node: Any, schema: pa.Schema) -> str | None:
    name = node.get("Column") if isinstance(node, dict) else None
    if (
        not isinstance(name, str)
        or name not in schema.names
        or not _PLAIN_NAME.match(name)
        or name.lower() in _KEYWORDS
    ):
        return None
    kind = schema.field(name).type
    if pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_boolean(kind):
        return name
    return None


def _literal(node: Any, kind: pa.DataType) -> str | None:
    literal = node.get("Literal") if isinstance(node, dict) else None
    if not isinstance(literal, dict) or len(literal) != 1:
        return None
    ((_, scalar),) = literal.items()  # "Dyn" (a Python value) or "Scalar" (typed)
    if not isinstance(scalar, dict) or len(scalar) != 1:
        return None
    ((tag, value),) = scalar.items()
    if pa.types.is_integer(kind) and tag in _INT_TAGS and type(value) is int:
        info = _int_range(kind)
        return str(value) if info[0] <= value <= info[1] else None
    if pa.types.is_string(kind) and tag == "String" and isinstance(value, str):
        return f"'{value}'" if "'" not in value and "\\" not in value else None
    if pa.types.is_boolean(kind) and tag == "Boolean" and isinstance(value, bool):
        return "true" if value else "false"
    return None


_INT_TAGS = {"Int", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"}


def _int_range(kind: pa.DataType) -> tuple[int, int]:
    bits = kind.bit_width
    if pa.types.is_signed_integer(kind):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1
