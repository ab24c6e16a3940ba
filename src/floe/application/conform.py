"""Fitting incoming Arrow data to a table's schema before it is written."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from floe.domain.errors import SchemaEvolutionError
from floe.domain.schema import SchemaChange, describe_change, plan_schema_change
from floe.ports.arrow import canonical_field, canonical_schema, describe_schema


@attrs.frozen
class ConformedData:
    """Data ready for a table store.

    Attributes:
        data: The rows, with exactly the target schema.
        evolved_schema: The table's new schema when the write changes it, else ``None``.
        change: The schema change, for results and logs.
    """

    data: pa.Table
    evolved_schema: pa.Schema | None
    change: SchemaChange

    @property
    def change_text(self) -> str:
        """The schema change in words, empty when there is none."""
        return "" if self.change.is_empty else describe_change(self.change)


@attrs.frozen
class SchemaFit:
    """How incoming data of one schema fits a table, decided before any row is read.

    Attributes:
        target: The schema the rows are cast to (the table's, plus added columns).
        evolved_schema: The table's new schema when the write changes it, else ``None``.
        change: The schema change, for results and logs.
    """

    target: pa.Schema
    evolved_schema: pa.Schema | None
    change: SchemaChange

    @property
    def change_text(self) -> str:
        """The schema change in words, empty when there is none."""
        return "" if self.change.is_empty else describe_change(self.change)


def fit_schema(
    incoming: pa.Schema, table_schema: pa.Schema, *, allow_evolution: bool, table_name: str
) -> SchemaFit:
    """Decide how data with schema ``incoming`` fits a table (rows are not looked at).

    Args:
        incoming: The incoming data's schema.
        table_schema: The table's current schema (canonical Arrow).
        allow_evolution: Whether new columns and type widening may change the table.
        table_name: The table, for messages.

    Returns:
        The target schema and the schema change.

    Raises:
        SchemaEvolutionError: The data does not fit (see
            :func:`floe.domain.schema.plan_schema_change`).
    """
    change = plan_schema_change(
        describe_schema(table_schema),
        describe_schema(canonical_schema(incoming)),
        allow_evolution=allow_evolution,
        table_name=table_name,
    )
    widened = {name for name, _, _ in change.widened}
    target_fields = [
        canonical_field(incoming.field(f.name)).with_nullable(f.nullable)
        if f.name in widened
        else f
        for f in table_schema
    ]
    added = {c.name for c in change.added}
    target_fields += [canonical_field(f).with_nullable(True) for f in incoming if f.name in added]
    target = pa.schema(target_fields)
    return SchemaFit(target, None if change.is_empty else target, change)


def unified_schema(schemas: Sequence[pa.Schema], *, table_name: str) -> pa.Schema:
    """One schema for data arriving in parts (a dataset's blocks) with their own schemas.

    Unified as ``pyarrow.concat_tables(promote_options="permissive")``
    unifies the parts' columns: by name, a column missing from a part is
    null there, types are promoted to a common one (``int32`` and ``int64``:
    ``int64``).

    Raises:
        SchemaEvolutionError: No schema, or a column whose types have no
            common type (``int64`` and ``string``).
    """
    if not schemas:
        raise SchemaEvolutionError(f"data for table {table_name} has no schema", subject=table_name)
    try:
        return pa.unify_schemas(list(schemas), promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise SchemaEvolutionError(
            f"the parts of the data for table {table_name} disagree on a column's type "
            f"and cannot be unified ({exc})",
            subject=table_name,
        ) from exc


def cast_rows(data: pa.Table, target: pa.Schema, *, table_name: str) -> pa.Table:
    """``data`` with exactly the ``target`` schema: missing columns null, types cast safely.

    Picklable with ``functools.partial`` (Ray workers cast a dataset's blocks with it).

    Raises:
        SchemaEvolutionError: A required column is missing or holds nulls, or
            a value cannot be converted without loss.
    """
    # Columns by name, looked up once: Table.column(name) searches the schema,
    # which made wide tables (10 000 columns) quadratic.
    by_name = dict(zip(data.column_names, data.columns, strict=True))
    columns = [_column(by_name.get(f.name), data.num_rows, f, table_name) for f in target]
    return pa.Table.from_arrays(columns, schema=target)


def conform(
    data: pa.Table, table_schema: pa.Schema, *, allow_evolution: bool, table_name: str
) -> ConformedData:
    """Check data against a table and cast it to the table's (possibly evolved) schema.

    Args:
        data: The incoming rows.
        table_schema: The table's current schema (canonical Arrow).
        allow_evolution: Whether new columns and type widening may change the table.
        table_name: The table, for messages.

    Returns:
        The data in the target schema and the schema change.

    Raises:
        SchemaEvolutionError: The data does not fit (see
            :func:`floe.domain.schema.plan_schema_change`) or a value cannot be
            converted without loss.
    """
    fit = fit_schema(
        data.schema, table_schema, allow_evolution=allow_evolution, table_name=table_name
    )
    return ConformedData(
        data=cast_rows(data, fit.target, table_name=table_name),
        evolved_schema=fit.evolved_schema,
        change=fit.change,
    )


def _column(
    column: pa.ChunkedArray | None, num_rows: int, field: pa.Field, table_name: str
) -> pa.ChunkedArray | pa.Array:
    if column is None:
        if not field.nullable and num_rows:
            # fit_schema refuses such data whole; a part of it (a block) may still lack it.
            raise SchemaEvolutionError(
                f"column {field.name!r} of table {table_name} is required but "
                f"{num_rows} row(s) of the data lack it",
                subject=table_name,
            )
        return pa.nulls(num_rows, type=field.type)
    if not field.nullable and column.null_count:
        raise SchemaEvolutionError(
            f"column {field.name!r} of table {table_name} is required but the data "
            f"holds {column.null_count} null(s)",
            subject=table_name,
        )
    if column.type == field.type:
        return column
    try:
        return pc.cast(column, field.type, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaEvolutionError(
            f"column {field.name!r} of table {table_name}: cannot convert {column.type} "
            f"to {field.type} without loss ({exc})",
            subject=table_name,
        ) from exc
