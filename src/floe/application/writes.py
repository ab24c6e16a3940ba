"""Write use cases: append, overwrite, upsert — each one atomic commit."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from floe.application.conform import (
    SchemaFit,
    cast_rows,
    conform,
    fit_schema,
    unified_schema,
)
from floe.application.inputs import (
    TableLike,
    as_arrow,
    as_identifier,
    check_filter_text,
    is_lazy_frame,
    is_stream,
    lazy_frame_stream,
    open_stream,
)
from floe.application.tables import (
    PartitionLike,
    as_partition_spec,
    prepare_table,
    table_properties,
)
from floe.domain.errors import (
    InvalidFilterError,
    MissingExtraError,
    TableExistsError,
    TableNotFoundError,
    WriteError,
)
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import RowFilter, WriteMode
from floe.domain.partitioning import partition_fields_to_add
from floe.domain.refs import MAIN, check_ref_name
from floe.ports.arrow import describe_schema
from floe.ports.catalog import CatalogPort, TableInfo
from floe.ports.engines import DatasetFit, DatasetTable, RayPort
from floe.ports.table_store import TableStorePort, WriteResult, check_upsert_keys

#: Arrow bytes of a streamed append held in memory at a time (see :meth:`WriteService.append`).
STREAM_CHUNK_BYTES = 128 * 2**20


@attrs.frozen
class NewTable:
    """How to create a table that a write finds missing.

    Attributes:
        partition_spec: Partition transforms (``"day(ts)"``…).
        properties: Table properties, on top of floe's defaults
            (:data:`floe.application.tables.CREATED_TABLE_DEFAULTS`).
    """

    partition_spec: Sequence[PartitionLike] = ()
    properties: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class TableMissing:
    """What a caller hands :meth:`WriteService.write` when it has just found the table missing."""


#: What a caller already knows of the table it writes (see :meth:`WriteService.write`).
Current = TableInfo | TableMissing | None


class WriteService:
    """Write PyArrow or pandas data into tables.

    Every write checks the data against the table schema first (see
    :func:`floe.application.conform.conform`): nothing is sent when the data
    does not fit. Schema change and data then land in one commit.

    Args:
        catalog: The catalog port (to read the table schema).
        store: The table store port (to write).
    """

    def __init__(
        self, catalog: CatalogPort, store: TableStorePort, *, ray: RayPort | None = None
    ) -> None:
        self._catalog = catalog
        self._store = store
        self._ray = ray

    def append_distributed(
        self,
        table: TableLike,
        dataset: Any,
        *,
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
        branch: str | None = None,
        create_if_missing: NewTable | None = None,
    ) -> WriteResult:
        """Append a ``ray.data.Dataset`` written by Ray workers, in ONE commit.

        The dataset is executed once; its schema (its blocks' schemas,
        unified as ``pyarrow.concat_tables(promote_options="permissive")``
        does) must fit the table by the rules of :meth:`append`: columns
        matched by name in any order, missing optional columns written as
        nulls, narrower types cast, and with ``allow_schema_evolution`` new
        columns added and int→long, float→double widened. That schema change
        and every data file are ONE commit, one snapshot. Each block is cast
        on a worker and written there as data files, split by partition,
        with column statistics. Ray re-runs a task that failed on storage or
        the network (up to 3 times): the attempt writes the same files
        again, so no block is committed twice; a block refused for its data
        is not re-run. If a block fails for good, nothing is committed and
        the job's files are deleted. Needs ``floe[ray]`` and a running Ray
        (``ray.init()`` or a cluster).

        Args:
            table: The table (it must exist, unless ``create_if_missing``).
            dataset: The ``ray.data.Dataset`` (executed once).
            allow_schema_evolution: As in :meth:`append`.
            snapshot_properties: Extra entries for the snapshot summary.
            branch: As in :meth:`append`: an existing branch to commit to
                (only it moves); ``None`` or ``"main"``: ``main``.
            create_if_missing: When the table does not exist, create it from
                the dataset's unified block schema with this spec and
                properties, in the SAME commit as the workers' files (as
                :meth:`write` does with rows in memory): a failed job leaves
                no table. If another writer creates it meanwhile, the same
                blocks are appended to that table instead.

        Returns:
            What was committed (``snapshot_id`` ``None`` for a dataset without
            rows that changes no schema); ``schema_change`` says how the
            table's schema changed.

        Raises:
            MissingExtraError: Ray is not installed.
            TableNotFoundError: The table does not exist (and is not to be
                created, or ``branch`` is named: a new table has no branches).
            RefNotFoundError, InvalidRefError: As :meth:`append`, before the
                dataset runs.
            SchemaEvolutionError: The dataset does not fit the table (as
                :meth:`append`), or its blocks' schemas cannot be unified;
                nothing was written.
            InvalidSchemaError, InvalidPartitionSpecError,
            NamespaceNotFoundError: The table to create is refused.
            CommitConflictError, CommitStateUnknownError, WriteError: The job or
                the commit failed (never retried whole: the dataset runs once).
        """
        return self._distributed(
            table,
            dataset,
            WriteMode.APPEND,
            allow_schema_evolution,
            snapshot_properties,
            None,
            branch,
            create_if_missing,
        )

    def overwrite_distributed(
        self,
        table: TableLike,
        dataset: Any,
        *,
        row_filter: RowFilter | None = None,
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
        branch: str | None = None,
        create_if_missing: NewTable | None = None,
    ) -> WriteResult:
        """Replace all rows, or those matching ``row_filter``, by a ``ray.data.Dataset``.

        The distributed twin of :meth:`overwrite`, as :meth:`append_distributed`
        is :meth:`append`'s: the same execution, schema fit and evolution,
        worker-written files, exactly-once naming under task retries and
        clean-up of a failed job; the driver then commits ONE ``overwrite``
        snapshot that removes the rows ``row_filter`` selects (every row
        without one) exactly as :meth:`overwrite` removes them (files whose
        rows all match dropped, files with some matching rows rewritten on
        the driver keeping the others) and adds the workers' files (with the
        schema change). Its conflict predicate is the filter, so a concurrent
        commit is judged as :meth:`overwrite`'s is
        (``write.update.isolation-level``). As :meth:`overwrite`, the
        dataset's rows are not checked against the filter. A dataset without
        rows removes the selected rows. Needs ``floe[ray]`` and a running Ray.

        Args:
            table: The table (it must exist, unless ``create_if_missing``).
            dataset: The ``ray.data.Dataset`` (executed once).
            row_filter: As in :meth:`overwrite`; ``None`` replaces every row.
            allow_schema_evolution: As in :meth:`append`.
            snapshot_properties: Extra entries for the snapshot summary.
            branch: As in :meth:`overwrite`: the rows replaced are the branch's.
            create_if_missing: As in :meth:`append_distributed` (a created
                table holds every row of the dataset).

        Returns:
            What was committed: ``rows_deleted`` the rows removed,
            ``rows_added`` the dataset's; its ``mode`` is ``overwrite``.

        Raises:
            InvalidFilterError: The filter is not text, is malformed or names an
                unknown column; nothing was written.
            As :meth:`append_distributed` otherwise; on any failure the table
            and its files are as they were.
        """
        return self._distributed(
            table,
            dataset,
            WriteMode.OVERWRITE,
            allow_schema_evolution,
            snapshot_properties,
            row_filter,
            branch,
            create_if_missing,
        )

    def _distributed(
        self,
        table: TableLike,
        dataset: Any,
        mode: WriteMode,
        allow_schema_evolution: bool,
        snapshot_properties: Mapping[str, str] | None,
        row_filter: RowFilter | None,
        branch: str | None,
        create_if_missing: NewTable | None,
    ) -> WriteResult:
        """:meth:`append_distributed` or :meth:`overwrite_distributed` (``mode``)."""
        identifier = as_identifier(table)
        check_filter_text(row_filter, table=identifier)
        on = _as_branch(branch)
        if self._ray is None:
            raise MissingExtraError("this floe was built without a Ray hand-off")
        name = str(identifier)
        info: TableInfo | None
        try:
            info = self._catalog.load_table(identifier)
        except TableNotFoundError as exc:
            if create_if_missing is None or on is not None:
                raise _missing(identifier, mode, on) from exc
            info = None
        fits: list[SchemaFit] = []

        def fit(schemas: Sequence[pa.Schema]) -> DatasetFit:
            # A table found missing was created by another writer meanwhile.
            table_schema = (info or self._catalog.load_table(identifier)).schema
            found = fit_schema(
                # No schema (a replacing dataset without columns): the table's.
                unified_schema(schemas, table_name=name) if schemas else table_schema,
                table_schema,
                allow_evolution=allow_schema_evolution,
                table_name=name,
            )
            fits.append(found)
            cast = functools.partial(cast_rows, target=found.target, table_name=name)
            return DatasetFit(found.target, found.evolved_schema, cast)

        create = (
            None
            if info is not None or create_if_missing is None
            else functools.partial(_new_table, identifier, create_if_missing)
        )
        if mode is WriteMode.OVERWRITE:
            result = self._ray.overwrite_dataset(
                identifier,
                dataset,
                fit,
                snapshot_properties=snapshot_properties,
                row_filter=row_filter,
                branch=on,
                create=create,
            )
        else:
            result = self._ray.append_dataset(
                identifier,
                dataset,
                fit,
                snapshot_properties=snapshot_properties,
                branch=on,
                create=create,
            )
        change = fits[-1].change_text if fits and result.snapshot_id is not None else ""
        return _with_change(result, change) if change else result

    def append(
        self,
        table: TableLike,
        data: Any,
        *,
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
        create_if_missing: NewTable | None = None,
        partition_fields: Sequence[PartitionLike] = (),
        chunk_bytes: int = STREAM_CHUNK_BYTES,
        branch: str | None = None,
    ) -> WriteResult:
        """Append rows in one commit. Appending no rows commits nothing.

        A ``RecordBatchReader``, an iterable of ``RecordBatch`` or a
        ``polars.LazyFrame`` (run on polars' streaming engine) is streamed:
        its schema is checked against the table before anything is written,
        then about ``chunk_bytes`` of it (never more than the table's
        ``write.target-file-size-bytes``) is held at a time and written out
        as data files; one commit adds them all, so the append is still one
        snapshot. If the stream fails midway nothing is committed and the
        files already written are deleted (best effort). A stream into a
        missing table with ``create_if_missing`` is read whole first.

        Args:
            table: The table.
            data: A ``pyarrow.Table``, ``RecordBatch``, ``RecordBatchReader``,
                an iterable of ``RecordBatch``, a ``pandas.DataFrame`` or a
                polars ``DataFrame``/``LazyFrame``.
            allow_schema_evolution: Add new columns and widen int→long,
                float→double when the data needs it.
            snapshot_properties: Extra entries for the snapshot summary.
            create_if_missing: Create a missing table in the same commit (see
                :meth:`write`).
            partition_fields: Partition fields to add if missing (see :meth:`write`).
            chunk_bytes: For a stream, the Arrow bytes buffered per chunk.
            branch: Write to this branch (made with ``lake.refs.create_branch``)
                instead of ``main``: only the branch moves, readers of ``main``
                see nothing of it until it is published. ``None`` or ``"main"``:
                ``main``.

        Returns:
            What was committed.

        Raises:
            TableNotFoundError: The table does not exist.
            RefNotFoundError: ``branch`` is not a branch of the table.
            InvalidRefError: ``branch`` is a tag, or not a valid name.
            SchemaEvolutionError: The data does not fit the table.
            CommitConflictError, CommitStateUnknownError, WriteError: The commit
                failed, or reading the stream did (a streamed append is never
                retried: the stream cannot be read twice).
        """
        return self.write(
            table,
            data,
            mode=WriteMode.APPEND,
            allow_schema_evolution=allow_schema_evolution,
            snapshot_properties=snapshot_properties,
            create_if_missing=create_if_missing,
            partition_fields=partition_fields,
            chunk_bytes=chunk_bytes,
            branch=branch,
        )

    def overwrite(
        self,
        table: TableLike,
        data: Any,
        *,
        row_filter: RowFilter | None = None,
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
        create_if_missing: NewTable | None = None,
        partition_fields: Sequence[PartitionLike] = (),
        branch: str | None = None,
    ) -> WriteResult:
        """Replace all rows, or those matching ``row_filter``, with ``data`` in one commit.

        Args:
            table: The table.
            data: The new rows (see :meth:`append`).
            row_filter: Which rows to replace, e.g. ``"day = '2024-05-01'"`` or a
                PyIceberg ``BooleanExpression``;
                ``None`` replaces the whole table.
            allow_schema_evolution: As in :meth:`append`.
            snapshot_properties: Extra entries for the snapshot summary.
            create_if_missing: As in :meth:`append`.
            partition_fields: As in :meth:`append`.
            branch: As in :meth:`append`: the rows replaced are the branch's.

        Raises:
            InvalidFilterError: The filter is not text, is malformed or names an
                unknown column.
            As :meth:`append` otherwise.
        """
        return self.write(
            table,
            data,
            mode=WriteMode.OVERWRITE,
            row_filter=row_filter,
            allow_schema_evolution=allow_schema_evolution,
            snapshot_properties=snapshot_properties,
            create_if_missing=create_if_missing,
            partition_fields=partition_fields,
            branch=branch,
        )

    def upsert(
        self,
        table: TableLike,
        data: Any,
        *,
        join_columns: Sequence[str],
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
        create_if_missing: NewTable | None = None,
        partition_fields: Sequence[PartitionLike] = (),
        branch: str | None = None,
    ) -> WriteResult:
        """Update rows matching on ``join_columns`` and insert the others, in one commit.

        With ``branch`` (as in :meth:`append`), rows are matched against the
        branch's head and only the branch moves.

        Raises:
            WriteError: No join columns, a join column missing, a null in a join
                column (it would match no row), or duplicate keys in ``data``.
            As :meth:`append` otherwise.
        """
        return self.write(
            table,
            data,
            mode=WriteMode.UPSERT,
            join_columns=join_columns,
            allow_schema_evolution=allow_schema_evolution,
            snapshot_properties=snapshot_properties,
            create_if_missing=create_if_missing,
            partition_fields=partition_fields,
            branch=branch,
        )

    def delete(
        self,
        table: TableLike,
        row_filter: RowFilter,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        """Delete the rows ``row_filter`` selects, in one commit.

        Files whose rows all match are dropped whole, files with some matching
        rows are rewritten without them (copy-on-write), the rest stay: one
        ``overwrite`` snapshot, as Iceberg's row-level deletes make. A filter
        that matches no row commits nothing. A concurrent append is kept (or,
        when it added rows the filter selects, the delete is refused as a
        conflict); nothing is lost.

        Args:
            table: The table.
            row_filter: The rows to delete: filter text (``"day < '2024-01-01'"``)
                or a PyIceberg ``BooleanExpression``; ``"true"`` deletes every row.
            snapshot_properties: Extra entries of the snapshot summary.
            branch: Delete from this branch only (as in :meth:`append`).

        Returns:
            What was committed: ``rows_deleted`` rows, ``snapshot_id`` ``None``
            when no row matched. Its ``mode`` is ``overwrite``.

        Raises:
            InvalidFilterError: No filter, or a malformed one, or one naming an
                unknown column; nothing was deleted.
            TableNotFoundError: The table does not exist.
            CommitConflictError, CommitStateUnknownError, WriteError: As
                :meth:`overwrite`.
        """
        identifier = as_identifier(table)
        if row_filter is None:
            raise InvalidFilterError(
                f'delete rows of table {identifier}: a row_filter is needed ("true" is every row)',
                subject=str(identifier),
            )
        check_filter_text(row_filter, table=identifier)
        on = _as_branch(branch)
        try:
            return self._store.delete(
                identifier,
                row_filter,
                snapshot_properties=dict(snapshot_properties or {}),
                branch=on,
            )
        except TableNotFoundError as exc:
            raise TableNotFoundError(
                f"delete rows of table {identifier}: table does not exist", subject=str(identifier)
            ) from exc

    def write(
        self,
        table: TableLike,
        data: Any,
        *,
        mode: WriteMode | str,
        row_filter: RowFilter | None = None,
        join_columns: Sequence[str] = (),
        allow_schema_evolution: bool = False,
        snapshot_properties: Mapping[str, str] | None = None,
        create_if_missing: NewTable | None = None,
        partition_fields: Sequence[PartitionLike] = (),
        chunk_bytes: int = STREAM_CHUNK_BYTES,
        current: Current = None,
        branch: str | None = None,
    ) -> WriteResult:
        """Write with the given mode; see :meth:`append`, :meth:`overwrite`, :meth:`upsert`.

        Only appends stream a ``RecordBatchReader`` or iterable of batches;
        overwrites and upserts read it whole first.

        Args:
            table: The table.
            data: The rows (PyArrow, pandas).
            mode: ``append``, ``overwrite`` or ``upsert``.
            row_filter: Rows an overwrite replaces (all when ``None``).
            join_columns: Upsert keys.
            allow_schema_evolution: Add columns / widen types when needed.
            snapshot_properties: Extra snapshot summary entries.
            create_if_missing: When the table does not exist, create it from
                the data's schema with this spec and properties, in the SAME
                commit as the data: a failure leaves no table behind. Every
                mode then writes the rows as the table's first snapshot.
            partition_fields: Partition fields the table must have: those it
                lacks are added (partition spec evolution) in the write's
                commit; fields it has and this does not name are kept.
            chunk_bytes: Arrow bytes buffered per chunk of a streamed append.
            current: What the caller has just learnt of the table, to save a
                round trip to the catalog: the :class:`TableInfo` that
                ``tables.load`` returned (the data is fitted to its schema and
                the write starts from it), or :class:`TableMissing` when the
                table was just found missing. ``None``: the write loads it.
                A stale ``TableInfo`` costs a retry, never a lost commit: the
                commit checks that the table has not moved since.
            branch: The branch to write (see :meth:`append`); a table that
                does not exist has none, so it is refused with
                ``create_if_missing`` too.

        Raises:
            As :meth:`append`, :meth:`overwrite` and :meth:`upsert`;
            NamespaceNotFoundError when creating in a missing namespace;
            InvalidSchemaError, InvalidPartitionSpecError for a bad new table.
        """
        identifier = as_identifier(table)
        check_filter_text(row_filter, table=identifier)
        mode = _as_mode(mode, str(identifier))
        on = _as_branch(branch)
        if row_filter is not None and mode is not WriteMode.OVERWRITE:
            raise InvalidFilterError(
                f"a row filter applies to overwrites only, not to {mode.value} "
                f"(table {identifier})",
                subject=str(identifier),
            )
        properties = dict(snapshot_properties or {})
        if mode is WriteMode.APPEND and is_lazy_frame(data):
            data = lazy_frame_stream(data, table=identifier)  # streamed, never collected whole
        if mode is WriteMode.APPEND and is_stream(data):
            return self._append_stream(
                identifier,
                data,
                allow_schema_evolution=allow_schema_evolution,
                properties=properties,
                create_if_missing=create_if_missing,
                partition_fields=partition_fields,
                chunk_bytes=chunk_bytes,
                current=current,
                branch=on,
            )
        arrow = as_arrow(data, table=identifier)
        try:
            info = self._current(identifier, current)
        except TableNotFoundError as exc:
            if create_if_missing is None or on is not None:
                raise _missing(identifier, mode, on) from exc
            created = self._create_with(
                identifier,
                arrow,
                mode,
                join_columns,
                create_if_missing,
                properties,
            )
            if created is not None:
                return created
            info = self._catalog.load_table(identifier)  # created concurrently meanwhile
        fitted = conform(
            arrow, info.schema, allow_evolution=allow_schema_evolution, table_name=str(identifier)
        )
        new_fields = partition_fields_to_add(
            info.partition_spec,
            as_partition_spec(partition_fields),
            describe_schema(fitted.evolved_schema or info.schema),
            table_name=str(identifier),
        )
        if mode is WriteMode.APPEND:
            if fitted.data.num_rows == 0 and fitted.evolved_schema is None and not new_fields:
                return WriteResult(identifier, mode, None, 0)
            result = self._store.append(
                identifier,
                fitted.data,
                evolve_schema=fitted.evolved_schema,
                add_partition_fields=new_fields,
                snapshot_properties=properties,
                loaded=info,
                branch=on,
            )
        elif mode is WriteMode.OVERWRITE:
            result = self._store.overwrite(
                identifier,
                fitted.data,
                row_filter=row_filter,
                evolve_schema=fitted.evolved_schema,
                add_partition_fields=new_fields,
                snapshot_properties=properties,
                loaded=info,
                branch=on,
            )
        else:
            keys = _join_columns(join_columns, fitted.data.column_names, str(identifier))
            result = self._store.upsert(
                identifier,
                fitted.data,
                join_columns=keys,
                evolve_schema=fitted.evolved_schema,
                add_partition_fields=new_fields,
                snapshot_properties=properties,
                loaded=info,
                branch=on,
            )
        return result if not fitted.change_text else _with_change(result, fitted.change_text)

    def _current(self, identifier: TableIdentifier, current: Current) -> TableInfo:
        """The table to write: as the caller knows it, else loaded.

        Raises:
            TableNotFoundError: The table does not exist (or was just found missing).
            WriteError: ``current`` describes another table.
        """
        if current is None:
            return self._catalog.load_table(identifier)
        if isinstance(current, TableMissing):
            raise TableNotFoundError(f"table {identifier} does not exist", subject=str(identifier))
        if not isinstance(current, TableInfo) or current.identifier != identifier:
            described = getattr(current, "identifier", type(current).__name__)
            raise WriteError(
                f"write to table {identifier}: current= describes {described}, not this table",
                subject=str(identifier),
            )
        return current

    def _append_stream(
        self,
        identifier: TableIdentifier,
        data: object,
        *,
        allow_schema_evolution: bool,
        properties: dict[str, str],
        create_if_missing: NewTable | None,
        partition_fields: Sequence[PartitionLike],
        chunk_bytes: int,
        current: Current,
        branch: str | None,
    ) -> WriteResult:
        """Append a stream: the fit is decided on its schema, each batch cast as it is read."""
        name = str(identifier)
        if chunk_bytes <= 0:
            raise WriteError(
                f"chunk_bytes must be positive, not {chunk_bytes} (table {name})", subject=name
            )
        schema, batches = open_stream(data, table=identifier)
        if schema is None:
            return WriteResult(identifier, WriteMode.APPEND, None, 0)
        try:
            info = self._current(identifier, current)
        except TableNotFoundError as exc:
            if create_if_missing is None or branch is not None:
                raise _missing(identifier, WriteMode.APPEND, branch) from exc
            # Table and first rows are one commit; that path takes the rows whole.
            return self.write(
                identifier,
                pa.Table.from_batches(list(batches), schema=schema),
                mode=WriteMode.APPEND,
                allow_schema_evolution=allow_schema_evolution,
                snapshot_properties=properties,
                create_if_missing=create_if_missing,
                partition_fields=partition_fields,
                current=current,
            )
        fit = fit_schema(
            schema, info.schema, allow_evolution=allow_schema_evolution, table_name=name
        )
        new_fields = partition_fields_to_add(
            info.partition_spec,
            as_partition_spec(partition_fields),
            describe_schema(fit.target),
            table_name=name,
        )
        result = self._store.append_stream(
            identifier,
            fit.target,
            _cast_batches(batches, fit.target, name),
            chunk_bytes=chunk_bytes,
            evolve_schema=fit.evolved_schema,
            add_partition_fields=new_fields,
            snapshot_properties=properties,
            loaded=info,
            branch=branch,
        )
        return result if not fit.change_text else _with_change(result, fit.change_text)

    def _create_with(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        mode: WriteMode,
        join_columns: Sequence[str],
        new: NewTable,
        properties: dict[str, str],
    ) -> WriteResult | None:
        """Create the table and write its first rows in one commit; None if it appeared."""
        schema, spec = prepare_table(identifier, data.schema, new.partition_spec)
        fitted = conform(data, schema, allow_evolution=False, table_name=str(identifier))
        if mode is WriteMode.UPSERT:
            keys = _join_columns(join_columns, fitted.data.column_names, str(identifier))
            check_upsert_keys(fitted.data, keys, str(identifier))
        try:
            result = self._store.create_with_data(
                identifier,
                schema,
                spec,
                table_properties(new.properties),
                fitted.data,
                snapshot_properties=properties,
            )
        except TableExistsError:
            return None
        return attrs.evolve(result, mode=mode)


def _new_table(
    identifier: TableIdentifier, new: NewTable, schemas: Sequence[pa.Schema]
) -> DatasetTable:
    """The table a dataset's first write creates: its blocks' unified schema, ``new``'s spec.

    Raises:
        SchemaEvolutionError: The blocks' schemas cannot be unified.
        InvalidSchemaError: No block has a column, or a column cannot be stored.
        InvalidPartitionSpecError: ``new``'s spec does not fit the schema.
    """
    name = str(identifier)
    unified = unified_schema(schemas, table_name=name) if schemas else pa.schema([])
    schema, spec = prepare_table(identifier, unified, new.partition_spec)
    cast = functools.partial(cast_rows, target=schema, table_name=name)
    return DatasetTable(schema, spec, table_properties(new.properties), cast)


def _cast_batches(
    batches: Iterator[pa.RecordBatch], target: pa.Schema, table: str
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        yield from cast_rows(pa.Table.from_batches([batch]), target, table_name=table).to_batches()


_WRITE_WORDS = {
    WriteMode.APPEND: "append to",
    WriteMode.OVERWRITE: "overwrite",
    WriteMode.UPSERT: "upsert into",
}


def _as_branch(branch: str | None) -> str | None:
    """The branch a write names, ``None`` for ``main``; a bad name is refused here."""
    if branch is None:
        return None
    return None if check_ref_name(branch) == MAIN else branch


def _missing(
    identifier: TableIdentifier, mode: WriteMode, branch: str | None = None
) -> TableNotFoundError:
    # The write, not the catalog lookup it starts with, is what the caller asked for.
    if branch is not None:
        return TableNotFoundError(
            f"{_WRITE_WORDS[mode]} branch {branch!r} of table {identifier}: table does not "
            "exist (a new table has no branches: create it on main first)",
            subject=str(identifier),
        )
    return TableNotFoundError(
        f"{_WRITE_WORDS[mode]} table {identifier}: table does not exist "
        "(pass create_if_missing=NewTable() to create it with the rows)",
        subject=str(identifier),
    )


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
