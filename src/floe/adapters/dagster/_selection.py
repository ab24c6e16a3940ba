"""Which rows of a table belong to a set of Dagster partitions.

A :class:`PartitionSelection` is an OR of AND-ed column conditions,
independent of Dagster. It becomes a PyIceberg ``BooleanExpression`` whose
values are typed by the table's column types (a time window is
``ts >= low and ts < high`` with naive wall-clock datetimes for a naive
timestamp column, aware UTC datetimes for a zoned one, dates for a date
column; keys are ints, floats, decimals, booleans, dates, datetimes or
strings as the column holds), so no filter text is rendered and parsed
again. It also checks, in Arrow, that data to be written lies inside it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import attrs
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysFalse,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    LessThan,
    Or,
)

from floe.domain.errors import InvalidConfigError, WriteError
from floe.ports.arrow import canonical_schema


@attrs.frozen
class TimeRange:
    """A half-open time range ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime


@attrs.frozen
class ColumnCondition:
    """Rows whose ``column`` matches partition keys or time ranges.

    Attributes:
        column: The table column the partition dimension maps to.
        keys: The partition keys (identity match, or for time partitions on a
            string column).
        ranges: The partitions' time windows, merged; ``None`` for identity.
    """

    column: str
    keys: tuple[str, ...]
    ranges: tuple[TimeRange, ...] | None = None


@attrs.frozen
class PartitionSelection:
    """An OR of alternatives, each an AND of column conditions.

    Attributes:
        alternatives: The alternatives; one for a single key or a key range,
            none for an empty set of partitions (no row matches).
        label: The partition key(s) as text, for metadata and snapshot summaries.
    """

    alternatives: tuple[tuple[ColumnCondition, ...], ...]
    label: str

    def to_filter(self, schema: pa.Schema, *, table: str) -> BooleanExpression:
        """The selection as a PyIceberg filter for a table with ``schema``.

        ``AlwaysFalse()`` for no partitions; otherwise an ``Or`` of the
        alternatives, each an ``And`` of its column conditions: ``EqualTo``
        or ``In`` of the keys cast to the column's type, or, for time
        windows, ``And(GreaterThanOrEqual(col, low), LessThan(col, high))``
        per merged window (``Or`` of several).

        Args:
            schema: The table's Arrow schema, which types the values.
            table: The table's name, for messages.

        Returns:
            The unbound expression, ready for floe's ``row_filter``.

        Raises:
            InvalidConfigError: A partition column is not in the table, or its
                type cannot hold the partition keys.
        """
        if not self.alternatives:
            return AlwaysFalse()
        return _any(
            [
                _all(
                    [
                        _condition_expression(c, _column_type(schema, c.column, table), table)
                        for c in alternative
                    ]
                )
                for alternative in self.alternatives
            ]
        )

    def check_rows(self, data: pa.Table, schema: pa.Schema, *, table: str) -> None:
        """Refuse data holding rows outside the selection.

        Overwriting a partition deletes only rows inside it, so a row outside
        would survive the next run of the partition and be duplicated.

        Raises:
            WriteError: A partition column is missing from the data or some
                rows lie outside the partition(s).
            InvalidConfigError: As :meth:`to_filter`.
        """
        if data.num_rows == 0:
            return
        inside: pa.ChunkedArray | pa.Array | None = None
        for alternative in self.alternatives:
            mask: pa.ChunkedArray | pa.Array | None = None
            for condition in alternative:
                column_type = _column_type(schema, condition.column, table)
                term = _condition_mask(data, condition, column_type, table)
                mask = term if mask is None else pc.and_kleene(mask, term)
            inside = mask if inside is None else pc.or_kleene(inside, mask)
        matched = 0 if inside is None else pc.sum(pc.fill_null(inside, False)).as_py() or 0
        outside = data.num_rows - matched
        if outside:
            raise WriteError(
                f"{outside} of {data.num_rows} rows written to table {table} for partition "
                f"{self.label} lie outside it; a partitioned asset must only return rows of "
                "its partition",
                subject=table,
            )


@attrs.frozen
class RowsInside:
    """A Ray Data map refusing blocks that hold rows outside a selection (runs on workers).

    Each block is checked where it is made, by :meth:`PartitionSelection.check_rows`
    (one vectorised mask per block, no copy of its rows), and passed on unchanged.

    Attributes:
        selection: The partitions the rows must lie in.
        schema: The table's schema, which types the partition keys; ``None``
            for a table the write creates (each block's own canonical schema).
        table: The table's name, for messages.
    """

    selection: PartitionSelection
    schema: pa.Schema | None
    table: str

    def __call__(self, block: pa.Table) -> pa.Table:
        """``block`` unchanged.

        Raises:
            WriteError: As :meth:`PartitionSelection.check_rows`, the rows
                counted being the block's.
            InvalidConfigError: As :meth:`PartitionSelection.check_rows`.
        """
        schema = self.schema if self.schema is not None else canonical_schema(block.schema)
        try:
            self.selection.check_rows(block, schema, table=self.table)
        except WriteError as exc:
            raise WriteError(
                f"{exc} (counted in one block of the Ray dataset)", subject=self.table
            ) from None
        return block


def merge_ranges(ranges: list[TimeRange]) -> tuple[TimeRange, ...]:
    """Sort time ranges and merge the adjacent or overlapping ones."""
    merged: list[TimeRange] = []
    for current in sorted(ranges, key=lambda r: r.start):
        if merged and current.start <= merged[-1].end:
            last = merged.pop()
            current = TimeRange(last.start, max(last.end, current.end))
        merged.append(current)
    return tuple(merged)


def _column_type(schema: pa.Schema, column: str, table: str) -> pa.DataType:
    index = schema.get_field_index(column)
    if index < 0:
        raise InvalidConfigError(
            f"partition column {column!r} is not a column of table {table} "
            f"(columns: {', '.join(schema.names)})",
            subject=table,
        )
    column_type: pa.DataType = schema.field(index).type
    return column_type


def _all(parts: list[BooleanExpression]) -> BooleanExpression:
    return parts[0] if len(parts) == 1 else And(*parts)


def _any(parts: list[BooleanExpression]) -> BooleanExpression:
    return parts[0] if len(parts) == 1 else Or(*parts)


def _condition_expression(
    condition: ColumnCondition, column_type: pa.DataType, table: str
) -> BooleanExpression:
    name = condition.column
    if condition.ranges is not None and not pa.types.is_string(column_type):
        # A datetime binds to timestamp and timestamptz columns alike, as
        # microseconds since the epoch (a naive one read as UTC), so its kind
        # must be the column's: _range_bounds makes it so.
        windows = [_range_bounds(r, column_type, name, table) for r in condition.ranges]
        return _any(
            [
                And(_on(GreaterThanOrEqual, name, low), _on(LessThan, name, high))
                for low, high in windows
            ]
        )
    values = _values(condition.keys, column_type, name, table)
    if len(values) == 1:
        return _on(EqualTo, name, values[0])
    return _on(In, name, values)


def _on(
    predicate: Callable[..., BooleanExpression], column: str, value: object
) -> BooleanExpression:
    """``predicate(column, value)``.

    PyIceberg's predicates are pydantic models: mypy reads their signature
    from their fields, not from the ``__init__(term, literal)`` they have.
    """
    return predicate(column, value)


def _range_bounds(
    window: TimeRange, column_type: pa.DataType, column: str, table: str
) -> tuple[date, date]:
    """The range's ends as values of the column's kind (datetimes are dates too)."""
    if pa.types.is_timestamp(column_type):
        if column_type.tz is not None:
            return window.start.astimezone(UTC), window.end.astimezone(UTC)
        # A naive column holds wall-clock times, read in the partitions' time zone.
        return window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    if pa.types.is_date(column_type):
        end = window.end.date()
        if window.end.replace(tzinfo=None) != datetime.combine(end, datetime.min.time()):
            end += timedelta(days=1)
        return window.start.date(), end
    raise InvalidConfigError(
        f"time-window partitions of table {table} need a date, timestamp or string "
        f"partition column; {column!r} is {column_type}",
        subject=table,
    )


#: Column types whose keys are cast in Arrow (strings are used as they are).
_CAST_KINDS = (
    pa.types.is_integer,
    pa.types.is_floating,
    pa.types.is_decimal,
    pa.types.is_boolean,
    pa.types.is_date,
    pa.types.is_timestamp,
)


def _values(
    keys: tuple[str, ...], column_type: pa.DataType, column: str, table: str
) -> list[object]:
    """The keys as Python values of the column's type, as :meth:`check_rows` compares them.

    Keys of a column Arrow cannot cast text to (time, binary, UUID…) stay
    strings, which PyIceberg converts to the column's type when binding.
    """
    if any(kind(column_type) for kind in _CAST_KINDS):
        values: list[object] = _typed_keys(keys, column_type, column, table).to_pylist()
        return values
    return list(keys)


def _typed_keys(
    keys: tuple[str, ...], column_type: pa.DataType, column: str, table: str
) -> pa.Array:
    try:
        return pc.cast(pa.array(keys, pa.string()), column_type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidConfigError(
            f"partition keys {list(keys)} do not fit column {column!r} ({column_type}) "
            f"of table {table}: {exc}",
            subject=table,
        ) from exc


def _condition_mask(
    data: pa.Table, condition: ColumnCondition, column_type: pa.DataType, table: str
) -> pa.ChunkedArray:
    if condition.column not in data.column_names:
        raise WriteError(
            f"partition column {condition.column!r} is missing from the data written to "
            f"table {table}",
            subject=table,
        )
    try:
        values = pc.cast(data.column(condition.column), column_type, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise WriteError(
            f"partition column {condition.column!r} of the data for table {table} cannot be "
            f"read as {column_type}: {exc}",
            subject=table,
        ) from exc
    if condition.ranges is not None and not pa.types.is_string(column_type):
        mask: pa.ChunkedArray | None = None
        for window in condition.ranges:
            low, high = _range_bounds(window, column_type, condition.column, table)
            term = pc.and_kleene(
                pc.greater_equal(values, pa.scalar(low, column_type)),
                pc.less(values, pa.scalar(high, column_type)),
            )
            mask = term if mask is None else pc.or_kleene(mask, term)
        if mask is not None:
            return mask
    result: pa.ChunkedArray = pc.is_in(
        values, value_set=_typed_keys(condition.keys, column_type, condition.column, table)
    )
    return result
