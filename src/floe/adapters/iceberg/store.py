"""TableStorePort over PyIceberg tables: each write one transaction, one commit."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypeVar

import pyarrow as pa
from pyiceberg.exceptions import (
    CommitFailedException,
    TableAlreadyExistsError,
    ValidationException,
)
from pyiceberg.expressions import (
    AlwaysFalse,
    AlwaysTrue,
    And,
    BooleanExpression,
    In,
    IsNaN,
    IsNull,
    Not,
    NotEqualTo,
    NotIn,
    NotNaN,
    NotNull,
    Or,
    UnboundPredicate,
)
from pyiceberg.expressions.visitors import bind, extract_field_ids
from pyiceberg.io.pyarrow import expression_to_pyarrow
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import DataScan, Table, Transaction, upsert_util

from floe.adapters.filters import (
    bind_filter,
    filter_arrow,
    iceberg_schema,
    is_floating,
    parse_filter,
    scan_pushdown,
    without_predicates_on,
)
from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.iceberg.errors import translated
from floe.adapters.iceberg.guard import commit_outcome_guarded, commit_refused, without_frames
from floe.adapters.iceberg.rewrite import stage_overwrite
from floe.adapters.iceberg.streaming import append_producer, delete_quietly, write_stream
from floe.adapters.iceberg_model import (
    arrow_schema,
    build_partition_spec,
    iceberg_transform,
    partition_values,
)
from floe.domain.errors import (
    CommitConflictError,
    FloeStorageError,
    InvalidScanError,
    NamespaceNotFoundError,
    ScanError,
    SnapshotNotFoundError,
    TableExistsError,
    WriteError,
)
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import (
    DataFileInfo,
    RowFilter,
    ScanOptions,
    SnapshotInfo,
    WriteMode,
    WriteResult,
)
from floe.domain.partitioning import PartitionTransform
from floe.domain.retention import refs_by_snapshot, refuse_expiring_ref_heads
from floe.ports.table_store import TableStorePort


def _snapshot_info(snapshot: object, refs: Iterable[str] = ()) -> SnapshotInfo:
    summary = getattr(snapshot, "summary", None)
    operation = summary.operation.value if summary is not None else "unknown"
    entries = {"operation": operation}
    if summary is not None:
        entries.update({str(k): str(v) for k, v in summary.additional_properties.items()})
    return SnapshotInfo(
        snapshot_id=snapshot.snapshot_id,  # type: ignore[attr-defined]
        parent_id=snapshot.parent_snapshot_id,  # type: ignore[attr-defined]
        timestamp_ms=snapshot.timestamp_ms,  # type: ignore[attr-defined]
        operation=operation,
        summary=entries,
        refs=refs,
    )


def _refs_by_snapshot(table: Table) -> dict[int, list[str]]:
    """For each snapshot a branch or tag points at, the names of those refs."""
    return refs_by_snapshot((name, ref.snapshot_id) for name, ref in table.refs().items())


class IcebergTableStore(TableStorePort):
    """Table data through PyIceberg: transactions for writes, table scans for reads.

    Args:
        backend: The PyIceberg catalog (shared with the catalog port) and the
            guard every call goes through.
    """

    def __init__(self, backend: IcebergBackend) -> None:
        self._backend = backend
        self._guard = backend.guard

    def _load(self, identifier: TableIdentifier) -> Table:
        return self._backend.catalog.load_table(identifier.parts)

    # -- writes ---------------------------------------------------------------

    def _write(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        mode: WriteMode,
        *,
        row_filter: RowFilter | None = None,
        join_columns: Sequence[str] = (),
        evolve_schema: pa.Schema | None,
        add_partition_fields: Sequence[PartitionTransform] = (),
        snapshot_properties: Mapping[str, str] | None,
    ) -> WriteResult:
        name = str(identifier)

        def call() -> WriteResult:
            table = self._load(identifier)
            target: Schema = (
                table.schema() if evolve_schema is None else iceberg_schema(evolve_schema)
            )
            if row_filter is not None:  # reject a bad filter before anything is written
                bind_filter(row_filter, target, table=name)
            before = table.current_snapshot()
            before_id = None if before is None else before.snapshot_id
            props = dict(snapshot_properties or {})
            added, deleted = data.num_rows, 0
            tx = table.transaction()
            _evolve(tx, evolve_schema, add_partition_fields)
            if mode is WriteMode.APPEND:
                tx.append(data, snapshot_properties=props)
            elif mode is WriteMode.OVERWRITE:
                where = rows_where(parse_filter(row_filter, table=name), target)
                deleted = stage_overwrite(tx, table.io, where, data, props)
            else:
                _reject_duplicate_keys(data, join_columns, name)
                updated, inserted = _upsert(tx, table, data, list(join_columns), props)
                added, deleted = updated + inserted, updated
            with commit_outcome_guarded(name), _conflict_typed(name, mode):
                tx.commit_transaction()
            after = table.current_snapshot()
            after_id = None if after is None else after.snapshot_id
            committed = after_id if after_id != before_id else None
            return WriteResult(
                identifier,
                mode,
                committed,
                data.num_rows,
                rows_added=added if committed is not None else 0,
                rows_deleted=deleted if committed is not None else 0,
            )

        return self._guard.run(f"{mode.value} into table", name, call, fallback=WriteError)

    def append(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        *,
        evolve_schema: pa.Schema | None = None,
        add_partition_fields: Sequence[PartitionTransform] = (),
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write(
            identifier,
            data,
            WriteMode.APPEND,
            evolve_schema=evolve_schema,
            add_partition_fields=add_partition_fields,
            snapshot_properties=snapshot_properties,
        )

    def append_stream(
        self,
        identifier: TableIdentifier,
        schema: pa.Schema,
        batches: Iterable[pa.RecordBatch],
        *,
        chunk_bytes: int,
        evolve_schema: pa.Schema | None = None,
        add_partition_fields: Sequence[PartitionTransform] = (),
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        name = str(identifier)

        def call() -> WriteResult:
            table = self._load(identifier)
            tx = table.transaction()
            _evolve(tx, evolve_schema, add_partition_fields)
            producer = append_producer(tx, dict(snapshot_properties or {}))
            written: list[DataFile] = []
            try:
                rows = write_stream(tx, table.io, producer, schema, batches, chunk_bytes, written)
            except BaseException:
                delete_quietly(table.io, written)
                raise
            if not rows and evolve_schema is None and not add_partition_fields:
                return WriteResult(identifier, WriteMode.APPEND, None, 0)
            producer.commit()
            _commit_or_clean(tx, table, written, name)
            snapshot = table.current_snapshot()
            return WriteResult(
                identifier,
                WriteMode.APPEND,
                None if snapshot is None else snapshot.snapshot_id,
                rows,
                rows_added=rows,
            )

        # A stream is read once: a failed attempt cannot be repeated.
        return self._guard.run(
            "append stream into table", name, call, fallback=WriteError, replayable=False
        )

    def overwrite(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        *,
        row_filter: RowFilter | None = None,
        evolve_schema: pa.Schema | None = None,
        add_partition_fields: Sequence[PartitionTransform] = (),
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write(
            identifier,
            data,
            WriteMode.OVERWRITE,
            row_filter=row_filter,
            evolve_schema=evolve_schema,
            add_partition_fields=add_partition_fields,
            snapshot_properties=snapshot_properties,
        )

    def upsert(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        *,
        join_columns: Sequence[str],
        evolve_schema: pa.Schema | None = None,
        add_partition_fields: Sequence[PartitionTransform] = (),
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write(
            identifier,
            data,
            WriteMode.UPSERT,
            join_columns=join_columns,
            evolve_schema=evolve_schema,
            add_partition_fields=add_partition_fields,
            snapshot_properties=snapshot_properties,
        )

    def create_with_data(
        self,
        identifier: TableIdentifier,
        schema: pa.Schema,
        partition_spec: Sequence[PartitionTransform],
        properties: Mapping[str, str] | None,
        data: pa.Table,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        name = str(identifier)

        def call() -> WriteResult:
            catalog = self._backend.catalog
            if not catalog.namespace_exists(identifier.namespace):
                raise NamespaceNotFoundError(
                    f"cannot create table {name}: its namespace does not exist", subject=name
                )
            if catalog.table_exists(identifier.parts):
                raise TableExistsError(f"table {name} already exists", subject=name)
            ice_schema = iceberg_schema(schema)
            tx = catalog.create_table_transaction(
                identifier.parts,
                schema=ice_schema,
                partition_spec=build_partition_spec(tuple(partition_spec), ice_schema),
                properties=dict(properties or {}),
            )
            tx.append(data, snapshot_properties=dict(snapshot_properties or {}))
            try:
                with commit_outcome_guarded(name):
                    table = tx.commit_transaction()
            except (CommitFailedException, TableAlreadyExistsError) as exc:
                # Another writer created the table between the check above and
                # this commit: the commit was refused, so its files are ours alone.
                if not catalog.table_exists(identifier.parts):
                    raise
                _delete_staged_files(tx)
                raise TableExistsError(
                    f"table {name} was created by another writer meanwhile", subject=name
                ) from exc
            snapshot = table.current_snapshot()
            return WriteResult(
                identifier,
                WriteMode.APPEND,
                None if snapshot is None else snapshot.snapshot_id,
                data.num_rows,
                rows_added=data.num_rows,
            )

        return self._guard.run("create table with data", name, call, fallback=WriteError)

    # -- reads ----------------------------------------------------------------

    def _plan(
        self, identifier: TableIdentifier, options: ScanOptions
    ) -> tuple[Table, Schema, BooleanExpression, tuple[str, ...]]:
        name = str(identifier)
        if options.as_of is not None:
            raise InvalidScanError("as_of is resolved to a snapshot id before the scan")
        table = self._load(identifier)
        schema = table.schema()
        if options.snapshot_id is not None:
            snapshot = table.snapshot_by_id(options.snapshot_id)
            if snapshot is None:
                raise SnapshotNotFoundError(
                    f"table {name} has no snapshot {options.snapshot_id}", subject=name
                )
            if snapshot.schema_id is not None:
                schema = table.schemas().get(snapshot.schema_id, schema)
        bound = bind_filter(options.row_filter, schema, table=name)
        names = tuple(f.name for f in schema.fields)
        columns = names if options.columns is None else tuple(dict.fromkeys(options.columns))
        missing = [c for c in columns if c not in names]
        if missing:
            raise InvalidScanError(f"table {name} has no column(s) {missing}", subject=name)
        return table, schema, bound, columns

    def scan(self, identifier: TableIdentifier, options: ScanOptions) -> pa.Table:
        name = str(identifier)

        def call() -> pa.Table:
            table, schema, bound, columns = self._plan(identifier, options)
            expected = _projected(schema, columns)

            def read(pushdown: BooleanExpression, exact: bool) -> pa.Table:
                if exact:
                    return table.scan(
                        row_filter=pushdown,
                        selected_fields=columns,
                        snapshot_id=options.snapshot_id,
                        limit=options.limit,
                    ).to_arrow()
                rows = table.scan(
                    row_filter=pushdown,
                    selected_fields=_with_filter_columns(columns, bound, schema),
                    snapshot_id=options.snapshot_id,
                ).to_arrow()
                kept = filter_arrow(rows, bound, schema)
                return kept if options.limit is None else kept.slice(0, options.limit)

            result = _planned(read, table, schema, options.row_filter, name)
            return result.select(list(columns)).cast(expected)

        return self._guard.run("scan table", name, call, fallback=ScanError)

    def scan_batches(
        self, identifier: TableIdentifier, options: ScanOptions
    ) -> pa.RecordBatchReader:
        name = str(identifier)

        def call() -> tuple[Iterable[pa.RecordBatch], pa.Schema, tuple[str, ...]]:
            table, schema, bound, columns = self._plan(identifier, options)

            def read(pushdown: BooleanExpression, exact: bool) -> Iterable[pa.RecordBatch]:
                reader = table.scan(
                    row_filter=pushdown,
                    selected_fields=(
                        columns if exact else _with_filter_columns(columns, bound, schema)
                    ),
                    snapshot_id=options.snapshot_id,
                    limit=options.limit if exact else None,
                ).to_arrow_batch_reader()
                return reader if exact else _exactly(reader, bound, schema, options.limit)

            reader = _planned(read, table, schema, options.row_filter, name)
            return reader, _projected(schema, columns), columns

        reader, expected, columns = self._guard.run("scan table", name, call, fallback=ScanError)

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                with translated("scan table", name, fallback=ScanError):
                    for batch in reader:
                        yield batch.select(list(columns)).cast(expected)
            except FloeStorageError as error:  # FileIO frames hold the S3 keys
                raise without_frames(error)  # noqa: B904 - its own chain is kept

        return pa.RecordBatchReader.from_batches(expected, batches())

    def inspect_files(self, identifier: TableIdentifier) -> list[DataFileInfo]:
        def call() -> list[DataFileInfo]:
            table = self._load(identifier)
            schema = table.schema()
            specs = table.specs()
            result = []
            for task in table.scan().plan_files():
                data_file = task.file
                spec = specs[data_file.spec_id]
                result.append(
                    DataFileInfo(
                        path=data_file.file_path,
                        partition=partition_values(spec, schema, data_file.partition),
                        record_count=data_file.record_count,
                        size_bytes=data_file.file_size_in_bytes,
                    )
                )
            return sorted(result, key=lambda f: f.path)

        return self._guard.run("inspect files of table", str(identifier), call)

    # -- snapshots ------------------------------------------------------------

    def list_snapshots(self, identifier: TableIdentifier) -> list[SnapshotInfo]:
        def call() -> list[SnapshotInfo]:
            table = self._load(identifier)
            heads = _refs_by_snapshot(table)
            return [_snapshot_info(s, heads.get(s.snapshot_id, ())) for s in table.snapshots()]

        return self._guard.run("list snapshots of table", str(identifier), call)

    def expire_snapshots(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> tuple[int, ...]:
        name = str(identifier)

        def call() -> tuple[int, ...]:
            table = self._load(identifier)
            ids = list(dict.fromkeys(snapshot_ids))
            unknown = [i for i in ids if table.snapshot_by_id(i) is None]
            if unknown:
                raise SnapshotNotFoundError(
                    f"table {name} has no snapshot(s) {unknown}", subject=name
                )
            current = table.current_snapshot()
            if current is not None and current.snapshot_id in ids:
                raise WriteError(
                    f"cannot expire snapshot {current.snapshot_id}: it is the current "
                    f"snapshot of table {name}",
                    subject=name,
                )
            # Iceberg refuses to expire a ref's head; say which ref, before any commit.
            refuse_expiring_ref_heads(name, ids, _refs_by_snapshot(table))
            if ids:
                with commit_outcome_guarded(name):
                    table.maintenance.expire_snapshots().by_ids(ids).commit()
            return tuple(ids)

        return self._guard.run("expire snapshots of table", name, call, fallback=WriteError)


def _evolve(
    tx: Transaction,
    evolve_schema: pa.Schema | None,
    add_partition_fields: Sequence[PartitionTransform],
) -> None:
    """Stage the schema change and the new partition fields of a write in its transaction."""
    if evolve_schema is not None:
        with tx.update_schema() as update:
            update.union_by_name(evolve_schema)
    if add_partition_fields:
        with tx.update_spec() as spec:
            for field in add_partition_fields:
                spec.add_field(field.source_column, iceberg_transform(field), field.field_name)


def _delete_staged_files(tx: Transaction) -> None:
    """Delete the files a refused transaction wrote for its snapshot (best effort).

    Data files, manifests and the manifest list have unique names and only
    the transaction's own snapshot references them.
    """
    snapshot = tx.table_metadata.current_snapshot()
    if snapshot is None:
        return
    io = tx._table.io
    paths: list[str] = []
    with contextlib.suppress(Exception):  # unreadable: the files stay as orphans
        for manifest in snapshot.manifests(io):
            paths.extend(e.data_file.file_path for e in manifest.fetch_manifest_entry(io))
            paths.append(manifest.manifest_path)
    paths.append(snapshot.manifest_list)
    for path in paths:
        with contextlib.suppress(Exception):
            io.delete(path)


def _commit_or_clean(tx: Transaction, table: Table, written: list[DataFile], name: str) -> None:
    """Commit a streamed append; delete its files when the commit surely did not land.

    A refused commit (conflicts beyond PyIceberg's retries, failed
    validation, any 4xx answer such as 400, 401 or 419) leaves the files
    unreferenced. After an unknown outcome they may be referenced, so they
    are kept.
    """
    with commit_outcome_guarded(name), _conflict_typed(name, WriteMode.APPEND):
        try:
            tx.commit_transaction()
        except Exception as exc:
            if commit_refused(exc):
                delete_quietly(table.io, written)
            raise


def _upsert(
    tx: Transaction, table: Table, data: pa.Table, keys: list[str], props: dict[str, str]
) -> tuple[int, int]:
    """PyIceberg's upsert, reading the rows it matches under the table's current schema.

    ``Transaction.upsert`` (PyIceberg 0.12) reads the matched rows through
    the branch's snapshot, under that snapshot's schema: once a column was
    added after the last snapshot (earlier in this transaction, or by a
    schema change that committed no rows) it cannot compare them with the
    incoming rows and fails. The same steps, with PyIceberg's own helpers,
    read them under the transaction's schema. Changed rows leave their files
    and arrive with the new rows in one ``overwrite`` snapshot (PyIceberg
    would commit a ``delete``, an ``append`` and another ``append``); new rows
    alone are one ``append``.

    Returns:
        The rows updated and the rows inserted.
    """
    matched = upsert_util.create_match_filter(data, keys)
    existing = DataScan(
        table_metadata=tx.table_metadata, io=table.io, row_filter=matched
    ).to_arrow()
    updates = upsert_util.get_rows_to_update(data, existing, keys)
    inserts = data
    if existing.num_rows:
        schema = tx.table_metadata.schema()
        found = bind(schema, upsert_util.create_match_filter(existing, keys), case_sensitive=True)
        inserts = data.filter(~expression_to_pyarrow(found))
    if updates.num_rows:
        # One snapshot: the updated rows leave their files, updated and new rows arrive.
        changed = pa.concat_tables([updates, inserts]) if inserts.num_rows else updates
        where = upsert_util.create_match_filter(updates, keys)
        stage_overwrite(tx, table.io, where, changed, props)
    elif inserts.num_rows:
        tx.append(inserts, snapshot_properties=props)
    return updates.num_rows, inserts.num_rows


def rows_where(
    expression: BooleanExpression, schema: Schema, truth: bool = True
) -> BooleanExpression:
    """A filter selecting exactly the rows where ``expression`` is ``truth`` in a scan.

    Scans (and the in-memory adapter) evaluate filters with Arrow: a row is
    selected when the filter is TRUE, never when it is NULL (a comparison
    with a null) or FALSE; a null is simply not IN a set. PyIceberg's
    delete, which an overwrite runs first, decides differently in places:
    whole files are dropped on Iceberg metrics, where a null matches
    ``col != v``, and the rows kept from a rewritten file add every null or
    NaN row of a column the filter names without ``is null``/``is nan``. So
    an overwrite with ``ts != '…'`` could delete null-``ts`` rows that the
    same filter does not select. The returned filter names nulls and NaNs
    explicitly, so every evaluator PyIceberg uses agrees with the scan.
    """
    if isinstance(expression, AlwaysTrue | AlwaysFalse):
        return expression if truth else Not(expression)
    if isinstance(expression, Not):
        return rows_where(expression.child, schema, not truth)
    if isinstance(expression, And | Or):
        left = rows_where(expression.left, schema, truth)
        right = rows_where(expression.right, schema, truth)
        conjunction = isinstance(expression, And) == truth
        return And(left, right) if conjunction else Or(left, right)
    if isinstance(expression, IsNull | NotNull):  # never NULL itself
        nullness = expression if truth else ~expression
        # Naming NaN (a no-op) stops PyIceberg's row-level delete from keeping
        # every NaN row of a column the filter does not mention NaN for.
        nan, not_nan = IsNaN(term=expression.term), NotNaN(term=expression.term)
        if isinstance(nullness, IsNull):
            return Or(nullness, And(nan, nullness))
        return And(nullness, Or(not_nan, nan))
    if not isinstance(expression, UnboundPredicate):
        return expression  # not produced by the filter parser
    term = expression.term
    core = expression if truth else ~expression
    if isinstance(expression, In | NotIn):
        # Arrow's membership test is two-valued: a null is simply not in the set.
        if isinstance(core, NotIn):
            return Or(Or(core, IsNull(term=term)), IsNaN(term=term))
        return And(And(core, NotNull(term=term)), NotNaN(term=term))
    if isinstance(expression, IsNaN | NotNaN):
        if not is_floating(term, schema):  # bound as a constant: no value is NaN
            return AlwaysTrue() if isinstance(core, NotNaN) else AlwaysFalse()
        return And(NotNull(term=term), core)
    # A comparison with a null is NULL (never selected); with NaN, Arrow makes
    # != true and every other comparison false. A negation was pushed into the
    # operator (``not (f >= 0)`` is ``f < 0``), as scans do.
    if isinstance(core, NotEqualTo):
        return And(NotNull(term=term), Or(And(core, NotNaN(term=term)), IsNaN(term=term)))
    return And(NotNull(term=term), And(core, NotNaN(term=term)))


@contextmanager
def _conflict_typed(table: str, mode: WriteMode) -> Iterator[None]:
    """A concurrent commit that invalidates this write is a :class:`CommitConflictError`.

    PyIceberg re-applies a write on fresh metadata after a conflicting commit
    (``commit.retry.*``) and then validates it (serializable isolation): an
    overwrite or upsert whose rows were changed meanwhile fails validation.
    Nothing was committed; re-running it blindly could discard the other
    writer's rows, so it is not retried.
    """
    try:
        yield
    except ValidationException as exc:
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise CommitConflictError(
            f"{mode.value} into table {table} conflicts with a concurrent commit to the "
            f"same rows ({cause}); nothing was written",
            subject=table,
        ) from exc


def _reject_duplicate_keys(data: pa.Table, join_columns: Sequence[str], table: str) -> None:
    keys = data.select(list(join_columns))
    if keys.group_by(list(join_columns)).aggregate([]).num_rows != keys.num_rows:
        raise WriteError(
            f"upsert into table {table}: the data holds duplicate rows for join columns "
            f"{list(join_columns)}; nothing was written",
            subject=table,
        )


R = TypeVar("R")


def _planned(
    read: Callable[[BooleanExpression, bool], R],
    table: Table,
    schema: Schema,
    row_filter: RowFilter | None,
    name: str,
) -> R:
    """Plan and start a read with the best filter PyIceberg and Arrow handle correctly.

    ``read(pushdown, exact)`` scans with ``pushdown`` and, when it is not
    exact, applies the bound filter to the rows itself. PyIceberg 0.12's
    residual evaluation compares a null partition value with the filter's
    literal and raises ``TypeError`` (a file whose partition source column is
    null, under a filter that cannot prune it, e.g. ``id != 4 or ts > X``);
    the read is then planned again without the predicates on partition source
    columns, which only costs partition pruning.
    """
    pushdown, exact = scan_pushdown(row_filter, schema, table=name)
    try:
        return read(pushdown, exact)
    except TypeError:
        sources = {f.source_id for spec in table.specs().values() for f in spec.fields}
        names = {schema.find_column_name(i) for i in sources} - {None}
        weaker = without_predicates_on(pushdown, {str(n) for n in names})
        return read(weaker, False)


def _projected(schema: Schema, columns: tuple[str, ...]) -> pa.Schema:
    """The Arrow schema of ``columns`` in the order they were asked for.

    ``Schema.select`` keeps the table's column order; a scan answers in the
    caller's.
    """
    selected = arrow_schema(schema.select(*columns))
    return pa.schema([selected.field(c) for c in columns])


def _with_filter_columns(
    columns: tuple[str, ...], bound: BooleanExpression, schema: Schema
) -> tuple[str, ...]:
    """The projected columns plus the top-level columns the filter reads."""
    wanted = dict.fromkeys(columns)
    for field_id in sorted(extract_field_ids(bound)):
        accessor = schema.accessor_for_field(field_id)
        wanted.setdefault(schema.fields[accessor.position].name)
    return tuple(wanted)


def _exactly(
    batches: Iterable[pa.RecordBatch], bound: BooleanExpression, schema: Schema, limit: int | None
) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches``, read with a weaker filter, that the exact one selects."""
    left = limit
    for batch in batches:
        if left is not None and left <= 0:
            return
        kept = filter_arrow(pa.Table.from_batches([batch]), bound, schema)
        if left is not None:
            kept = kept.slice(0, left)
            left -= kept.num_rows
        yield from kept.to_batches()
