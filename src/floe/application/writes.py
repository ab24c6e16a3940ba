"""Write use cases: append, overwrite, upsert — each one atomic commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from floe.application.conform import conform
from floe.application.inputs import TableLike, as_arrow, as_identifier
from floe.domain.errors import InvalidFilterError, WriteError
from floe.domain.models import WriteMode, WriteResult
from floe.ports.catalog import CatalogPort
from floe.ports.table_store import TableStorePort


class WriteService:
    """Write PyArrow or pandas data into tables.

    Every write checks the data against the table schema first (see
    :func:`floe.application.conform.conform`): nothing is sent when the data
    does not fit. Schema change and data then land in one commit.

    Args:
        catalog: The catalog port (to read the table schema).
        store: The table store port (to write).
    """

    def __init__(self, catalog: CatalogPort, store: TableStorePort) -> None:
        self._catalog = catalog
        self._store = store

    def append(
        self,
        table: TableLike,
        data: Any,
        *,
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Append rows in one commit. Appending no rows commits nothing.

        Args:
            table: The table.
            data: A ``pyarrow.Table``, ``RecordBatch``, ``RecordBatchReader``
                or ``pandas.DataFrame``.
            allow_schema_evolution: Add new columns and widen int→long,
                float→double when the data needs it.
            snapshot_properties: Extra entries for the snapshot summary.

        Returns:
            What was committed.

        Raises:
            TableNotFoundError: The table does not exist.
            SchemaEvolutionError: The data does not fit the table.
            CommitConflictError, CommitStateUnknownError, WriteError: The commit failed.
        """
        return self.write(
            table,
            data,
            mode=WriteMode.APPEND,
            allow_schema_evolution=allow_schema_evolution,
            snapshot_properties=snapshot_properties,
        )

    def overwrite(
        self,
        table: TableLike,
        data: Any,
        *,
        row_filter: str | None = None,
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Replace all rows, or those matching ``row_filter``, with ``data`` in one commit.

        Args:
            table: The table.
            data: The new rows (see :meth:`append`).
            row_filter: Which rows to replace, e.g. ``"day = '2024-05-01'"``;
                ``None`` replaces the whole table.
            allow_schema_evolution: As in :meth:`append`.
            snapshot_properties: Extra entries for the snapshot summary.

        Raises:
            InvalidFilterError: The filter is malformed or names an unknown column.
            As :meth:`append` otherwise.
        """
        return self.write(
            table,
            data,
            mode=WriteMode.OVERWRITE,
            row_filter=row_filter,
            allow_schema_evolution=allow_schema_evolution,
            snapshot_properties=snapshot_properties,
        )

    def upsert(
        self,
        table: TableLike,
        data: Any,
        *,
        join_columns: Sequence[str],
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Update rows matching on ``join_columns`` and insert the others, in one commit.

        Raises:
            WriteError: No join columns, a join column missing, or duplicate keys in ``data``.
            As :meth:`append` otherwise.
        """
        return self.write(
            table,
            data,
            mode=WriteMode.UPSERT,
            join_columns=join_columns,
            allow_schema_evolution=allow_schema_evolution,
            snapshot_properties=snapshot_properties,
        )

    def write(
        self,
        table: TableLike,
        data: Any,
        *,
        mode: WriteMode | str,
        row_filter: str | None = None,
        join_columns: Sequence[str] = (),
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Write with the given mode; see :meth:`append`, :meth:`overwrite`, :meth:`upsert`."""
        identifier = as_identifier(table)
        mode = _as_mode(mode, str(identifier))
        arrow = as_arrow(data, table=identifier)
        if row_filter is not None and mode is not WriteMode.OVERWRITE:
            raise InvalidFilterError(
                f"a row filter applies to overwrites only, not to {mode.value} "
                f"(table {identifier})",
                subject=str(identifier),
            )
        info = self._catalog.load_table(identifier)
        fitted = conform(
            arrow, info.schema, allow_evolution=allow_schema_evolution, table_name=str(identifier)
        )
        properties = dict(snapshot_properties or {})
        if mode is WriteMode.APPEND:
            if fitted.data.num_rows == 0 and fitted.evolved_schema is None:
                return WriteResult(identifier, mode, None, 0)
            result = self._store.append(
                identifier,
                fitted.data,
                evolve_schema=fitted.evolved_schema,
                snapshot_properties=properties,
            )
        elif mode is WriteMode.OVERWRITE:
            result = self._store.overwrite(
                identifier,
                fitted.data,
                row_filter=row_filter,
                evolve_schema=fitted.evolved_schema,
                snapshot_properties=properties,
            )
        else:
            keys = _join_columns(join_columns, fitted.data.column_names, str(identifier))
            result = self._store.upsert(
                identifier,
                fitted.data,
                join_columns=keys,
                evolve_schema=fitted.evolved_schema,
                snapshot_properties=properties,
            )
        return result if not fitted.change_text else _with_change(result, fitted.change_text)


def _with_change(result: WriteResult, change: str) -> WriteResult:
    return attrs.evolve(result, schema_change=change)


def _as_mode(mode: WriteMode | str, table: str) -> WriteMode:
    try:
        return WriteMode(mode)
    except ValueError:
        raise WriteError(
            f"unknown write mode {mode!r} for table {table}; expected one of "
            + ", ".join(m.value for m in WriteMode),
            subject=table,
        ) from None


def _join_columns(columns: Sequence[str], available: Sequence[str], table: str) -> tuple[str, ...]:
    keys = (columns,) if isinstance(columns, str) else tuple(columns)
    if not keys:
        raise WriteError(f"upsert into table {table} needs join columns", subject=table)
    missing = [k for k in keys if k not in available]
    if missing:
        raise WriteError(
            f"upsert into table {table}: join columns {missing} are not in the data", subject=table
        )
    return keys
