"""A description of table schemas and the rules for evolving them.

The domain does not know Arrow or Iceberg types; adapters and the
application describe schemas with :class:`ColumnType`, and the rules here
decide whether incoming data fits a table, may evolve it, or is rejected.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable

import attrs

from floe.domain.errors import SchemaEvolutionError


class ColumnType(enum.StrEnum):
    """The Iceberg type family of a column."""

    BOOLEAN = "boolean"
    INT = "int"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    DECIMAL = "decimal"
    DATE = "date"
    TIME = "time"
    TIMESTAMP = "timestamp"
    TIMESTAMPTZ = "timestamptz"
    STRING = "string"
    UUID = "uuid"
    FIXED = "fixed"
    BINARY = "binary"
    STRUCT = "struct"
    LIST = "list"
    MAP = "map"
    NULL = "null"
    UNSUPPORTED = "unsupported"

    @property
    def is_primitive(self) -> bool:
        """Whether the type is a primitive (not struct, list or map)."""
        return self not in (ColumnType.STRUCT, ColumnType.LIST, ColumnType.MAP)


#: Types data can have but an Iceberg column cannot.
NON_STORABLE: frozenset[ColumnType] = frozenset({ColumnType.NULL, ColumnType.UNSUPPORTED})

#: Type changes Iceberg allows without rewriting data (safe widening).
SAFE_WIDENINGS: frozenset[tuple[ColumnType, ColumnType]] = frozenset(
    {(ColumnType.INT, ColumnType.LONG), (ColumnType.FLOAT, ColumnType.DOUBLE)}
)

#: (table type, incoming type) pairs written as they are: the narrower data fits.
_FITS_WIDER_COLUMN: frozenset[tuple[ColumnType, ColumnType]] = frozenset(
    (wide, narrow) for narrow, wide in SAFE_WIDENINGS
)


@attrs.frozen
class Column:
    """One top-level column of a schema.

    Attributes:
        name: Column name.
        type: Iceberg type family.
        required: Whether nulls are forbidden.
        detail: Exact type text where the family is not enough (e.g.
            ``decimal(10, 2)``, ``struct<a: int>``); columns of equal family
            and different detail are different types.
    """

    name: str
    type: ColumnType
    required: bool = False
    detail: str = ""


def _as_columns(columns: Iterable[Column]) -> tuple[Column, ...]:
    return tuple(columns)


@attrs.frozen
class SchemaDescription:
    """The ordered top-level columns of a table or of incoming data."""

    columns: tuple[Column, ...] = attrs.field(converter=_as_columns)

    def get(self, name: str) -> Column | None:
        """Return the column called ``name``, or ``None``."""
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, Column]:
        # Built once: a linear search per column made wide schemas quadratic.
        return {c.name: c for c in reversed(self.columns)}

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)


@attrs.frozen
class SchemaChange:
    """What a write must change in the table schema.

    Attributes:
        added: New optional columns, in the order they arrive.
        widened: ``(column, old type, new type)`` safe promotions.
    """

    added: tuple[Column, ...] = ()
    widened: tuple[tuple[str, ColumnType, ColumnType], ...] = ()

    @property
    def is_empty(self) -> bool:
        """True when the table schema stays as it is."""
        return not self.added and not self.widened


def _same_type(a: Column, b: Column) -> bool:
    return a.type == b.type and a.detail == b.detail


def plan_schema_change(
    table: SchemaDescription,
    incoming: SchemaDescription,
    *,
    allow_evolution: bool,
    table_name: str,
) -> SchemaChange:
    """Decide how incoming data fits a table.

    Incoming columns absent from the table are added (as optional) when
    evolution is allowed. An incoming column of a wider type than the table's
    (int→long, float→double) widens the table column when evolution is
    allowed. A narrower incoming type is written into the wider column as is.
    Table columns missing from the data are written as nulls, unless required.

    Args:
        table: The table's current schema.
        incoming: The schema of the data to write.
        allow_evolution: Whether the table schema may change.
        table_name: The table, for error messages.

    Returns:
        The schema change the write needs (possibly empty).

    Raises:
        SchemaEvolutionError: On an incompatible type, a missing required
            column, a duplicate column, or a needed change while evolution
            is off.
    """
    _reject_duplicates(incoming.names, table_name)
    added: list[Column] = []
    widened: list[tuple[str, ColumnType, ColumnType]] = []
    problems: list[str] = []
    for col in incoming.columns:
        current = table.get(col.name)
        if current is None:
            if col.type is ColumnType.UNSUPPORTED:
                problems.append(f"column {col.name!r} has a type Iceberg cannot store")
            elif col.type is ColumnType.NULL:
                problems.append(f"column {col.name!r} holds only nulls, so its type is unknown")
            else:
                added.append(attrs.evolve(col, required=False))
            continue
        if col.type is ColumnType.NULL and not current.required:
            continue  # an all-null column fits any optional column
        if _same_type(current, col) or (current.type, col.type) in _FITS_WIDER_COLUMN:
            continue
        if (current.type, col.type) in SAFE_WIDENINGS:
            widened.append((col.name, current.type, col.type))
            continue
        problems.append(
            f"column {col.name!r} is {_render(current)} in the table but {_render(col)} in the data"
        )
    for current in table.columns:
        if current.required and incoming.get(current.name) is None:
            problems.append(f"required column {current.name!r} is missing from the data")
    if problems:
        raise SchemaEvolutionError(
            f"data does not fit table {table_name}: " + "; ".join(problems),
            subject=table_name,
        )
    change = SchemaChange(added=tuple(added), widened=tuple(widened))
    if not change.is_empty and not allow_evolution:
        raise SchemaEvolutionError(
            f"data does not fit table {table_name} without a schema change "
            f"({describe_change(change)}) and schema evolution is off",
            subject=table_name,
        )
    return change


def describe_change(change: SchemaChange) -> str:
    """Render a schema change for messages and logs."""
    parts = [f"add {c.name} {_render(c)}" for c in change.added]
    parts += [f"widen {name} {old}->{new}" for name, old, new in change.widened]
    return ", ".join(parts) or "no change"


def _render(column: Column) -> str:
    return column.detail or column.type.value


def _reject_duplicates(names: Iterable[str], table_name: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise SchemaEvolutionError(
                f"data for table {table_name} has column {name!r} twice", subject=table_name
            )
        seen.add(name)
