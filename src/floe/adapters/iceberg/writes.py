"""Writes as PyIceberg transactions: schema change, spec change and rows in one commit.

Every write stages what it changes in one transaction of the table just
loaded (``union_by_name`` for a new schema, new partition fields, then the
rows) and commits it inside :func:`commit_outcome_guarded`, so a commit whose
answer was lost is never sent again. An overwrite and an updating upsert are
one ``overwrite`` snapshot (``rewrite.py``, ``upsert.py``), a stream is
written in chunks and added by one commit (``streaming.py``). A commit that
a concurrent writer invalidated is a :class:`CommitConflictError`; the files
a refused commit leaves unreferenced (data files and manifests) are deleted,
best effort, and never after an unknown outcome (:func:`commit_or_clean`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import (
    CommitFailedException,
    TableAlreadyExistsError,
    ValidationException,
)
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction

from floe.adapters.filters import bind_filter, iceberg_schema, parse_filter
from floe.adapters.iceberg.guard import commit_outcome_guarded
from floe.adapters.iceberg.refs import transaction, write_target
from floe.adapters.iceberg.rewrite import rows_where, stage_overwrite
from floe.adapters.iceberg.staged import discarded_when_refused
from floe.adapters.iceberg.streaming import append_producer, delete_quietly, write_stream
from floe.adapters.iceberg.upsert import stage_upsert
from floe.adapters.iceberg_model import build_partition_spec, iceberg_transform
from floe.domain.errors import CommitConflictError, NamespaceNotFoundError, TableExistsError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import RowFilter, WriteMode
from floe.domain.partitioning import PartitionTransform
from floe.ports.table_store import WriteResult, check_upsert_keys


def write(
    table: Table,
    identifier: TableIdentifier,
    data: pa.Table,
    mode: WriteMode,
    *,
    row_filter: RowFilter | None = None,
    join_columns: Sequence[str] = (),
    evolve_schema: pa.Schema | None,
    add_partition_fields: Sequence[PartitionTransform] = (),
    snapshot_properties: Mapping[str, str] | None,
    branch: str | None = None,
) -> WriteResult:
    """Append, overwrite or upsert ``data`` in one transaction and commit it.

    Args:
        table: The table, just loaded.
        identifier: Its identifier.
        data: The rows, conformed to the table's (or ``evolve_schema``'s) schema.
        mode: Append, overwrite (the rows ``row_filter`` selects, all without
            one) or upsert (on ``join_columns``).
        row_filter: The rows an overwrite replaces.
        join_columns: The key of an upsert.
        evolve_schema: The schema to evolve the table to in the same commit.
        add_partition_fields: Partition fields to add in the same commit.
        snapshot_properties: Extra entries of the snapshot summary.
        branch: The branch to write (``None``: ``main``).

    Returns:
        The write's result; its snapshot id is ``None`` when nothing was committed.

    Raises:
        InvalidFilterError: A bad ``row_filter`` (before anything is written).
        WriteError: Duplicate join keys in ``data``.
        CommitConflictError: A concurrent commit invalidated this one.
        RefNotFoundError, InvalidRefError: ``branch`` is not a branch.
    """
    name = str(identifier)
    on = write_target(table, name, branch)
    target: Schema = table.schema() if evolve_schema is None else iceberg_schema(evolve_schema)
    if row_filter is not None:  # reject a bad filter before anything is written
        bind_filter(row_filter, target, table=name)
    before_id = _head_id(table, on)
    props = dict(snapshot_properties or {})
    added, deleted = data.num_rows, 0
    tx = transaction(table)
    stage_evolution(tx, evolve_schema, add_partition_fields)
    if mode is WriteMode.APPEND:
        tx.append(data, snapshot_properties=props, branch=on)
    elif mode is WriteMode.OVERWRITE:
        where = rows_where(parse_filter(row_filter, table=name), target)
        deleted = stage_overwrite(tx, table.io, where, data, props, on)
    else:
        check_upsert_keys(data, join_columns, name)
        updated, inserted = stage_upsert(
            tx, table, data, list(join_columns), props, name=name, branch=on
        )
        added, deleted = updated + inserted, updated
    commit_or_clean(tx, table, [], name, mode)
    after_id = _head_id(table, on)
    committed = after_id if after_id != before_id else None
    return WriteResult(
        identifier,
        mode,
        committed,
        data.num_rows,
        rows_added=added if committed is not None else 0,
        rows_deleted=deleted if committed is not None else 0,
    )


def delete(
    table: Table,
    identifier: TableIdentifier,
    row_filter: RowFilter,
    *,
    snapshot_properties: Mapping[str, str] | None,
    branch: str | None = None,
) -> WriteResult:
    """Delete the rows ``row_filter`` selects in one ``overwrite`` snapshot; none: no commit.

    The overwrite's own staging (:func:`stage_overwrite`) with no rows to
    add: whole files dropped by their metrics, others rewritten without the
    matching rows. When it removes nothing, no file has been written and the
    transaction is dropped uncommitted.

    Args:
        table: The table, just loaded.
        identifier: Its identifier.
        row_filter: The rows to delete.
        snapshot_properties: Extra entries of the snapshot summary.
        branch: The branch to delete from (``None``: ``main``).

    Returns:
        The delete's result; its snapshot id is ``None`` when no row matched.

    Raises:
        InvalidFilterError: A bad ``row_filter`` (before anything is written).
        CommitConflictError: A concurrent commit invalidated this one.
        RefNotFoundError, InvalidRefError: ``branch`` is not a branch.
    """
    name = str(identifier)
    on = write_target(table, name, branch)
    schema = table.schema()
    bind_filter(row_filter, schema, table=name)  # a bad filter fails before anything is written
    tx = transaction(table)
    where = rows_where(parse_filter(row_filter, table=name), schema)
    props = dict(snapshot_properties or {})
    deleted = stage_overwrite(tx, table.io, where, pa.table({}), props, on)
    if not deleted:
        return WriteResult(identifier, WriteMode.OVERWRITE, None, 0)
    commit_or_clean(tx, table, [], name, WriteMode.OVERWRITE)
    return WriteResult(
        identifier,
        WriteMode.OVERWRITE,
        _head_id(table, on),
        0,
        rows_deleted=deleted,
    )


def append_stream(
    table: Table,
    identifier: TableIdentifier,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    *,
    chunk_bytes: int,
    evolve_schema: pa.Schema | None,
    add_partition_fields: Sequence[PartitionTransform],
    snapshot_properties: Mapping[str, str] | None,
    branch: str | None = None,
) -> WriteResult:
    """Append a stream of batches, written in chunks, with one commit.

    Args:
        table: The table, just loaded.
        identifier: Its identifier.
        schema: The schema of every batch.
        batches: The stream, read once.
        chunk_bytes: About how much Arrow data is written at a time.
        evolve_schema: The schema to evolve the table to in the same commit.
        add_partition_fields: Partition fields to add in the same commit.
        snapshot_properties: Extra entries of the snapshot summary.
        branch: The branch to append to (``None``: ``main``).

    Returns:
        The append's result; its snapshot id is ``None`` when the stream held
        no rows and nothing else changed.

    Raises:
        RefNotFoundError, InvalidRefError: ``branch`` is not a branch (before
            any row is read).
    """
    name = str(identifier)
    on = write_target(table, name, branch)
    tx = transaction(table)
    stage_evolution(tx, evolve_schema, add_partition_fields)
    producer = append_producer(tx, dict(snapshot_properties or {}), on)
    written: list[DataFile] = []
    try:
        rows = write_stream(tx, table.io, producer, schema, batches, chunk_bytes, written)
    except BaseException:
        delete_quietly(table.io, written)
        raise
    if not rows and evolve_schema is None and not add_partition_fields:
        return WriteResult(identifier, WriteMode.APPEND, None, 0)
    producer.commit()
    commit_or_clean(tx, table, written, name)
    return WriteResult(
        identifier,
        WriteMode.APPEND,
        _head_id(table, on),
        rows,
        rows_added=rows,
    )


def create_with_data(
    catalog: Catalog,
    identifier: TableIdentifier,
    schema: pa.Schema,
    partition_spec: Sequence[PartitionTransform],
    properties: Mapping[str, str] | None,
    data: pa.Table,
    *,
    snapshot_properties: Mapping[str, str] | None,
) -> tuple[Table, WriteResult]:
    """Create a table and append its first rows in one commit.

    Args:
        catalog: The PyIceberg catalog.
        identifier: The new table.
        schema: Its schema.
        partition_spec: Its partition fields.
        properties: Its table properties.
        data: Its first rows.
        snapshot_properties: Extra entries of the snapshot summary.

    Returns:
        The table as created and the append's result.

    Raises:
        NamespaceNotFoundError: The namespace does not exist.
        TableExistsError: The table exists, or another writer created it
            meanwhile (this commit's files are then deleted).
    """
    name = str(identifier)
    if not catalog.namespace_exists(identifier.namespace):
        raise NamespaceNotFoundError(
            f"cannot create table {name}: its namespace does not exist", subject=name
        )
    # Polaris refuses a create of an existing table; laxer catalogs may not, so
    # floe asks first (a HEAD where the catalog lists that endpoint).
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
    return table, WriteResult(
        identifier,
        WriteMode.APPEND,
        None if snapshot is None else snapshot.snapshot_id,
        data.num_rows,
        rows_added=data.num_rows,
    )


def _head_id(table: Table, branch: str) -> int | None:
    """The id of ``branch``'s head (``None``: no snapshot yet)."""
    head = table.metadata.snapshot_by_name(branch)
    return None if head is None else head.snapshot_id


def stage_evolution(
    tx: Transaction,
    evolve_schema: pa.Schema | None,
    add_partition_fields: Sequence[PartitionTransform] = (),
) -> None:
    """Stage the schema change and the new partition fields of a write in its transaction.

    Data files written afterwards from ``tx.table_metadata`` carry the new
    schema's field ids; the commit adds the change and the files together.
    """
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


def commit_or_clean(
    tx: Transaction,
    table: Table,
    written: list[DataFile],
    name: str,
    mode: WriteMode = WriteMode.APPEND,
) -> None:
    """Commit a write of ``mode``; when the commit is refused, delete what it staged.

    Every write commits through here (appends, streamed and distributed
    writes, overwrites, upserts, deletes). A refused commit (conflicts beyond
    PyIceberg's retries, failed validation, any 4xx answer such as 400, 401
    or 419) leaves every file staged for it unreferenced: the data files its
    snapshot producers add, ``written`` (files a producer may not hold), the
    manifests and manifest lists (``staged.py``). After an unknown outcome
    they may be referenced, so they are kept.
    """
    with (
        commit_outcome_guarded(name),
        _conflict_typed(name, mode),
        discarded_when_refused(tx, table.io, written),
    ):
        tx.commit_transaction()


@contextmanager
def _conflict_typed(table: str, mode: WriteMode) -> Iterator[None]:
    """A concurrent commit that invalidates this write is a :class:`CommitConflictError`.

    PyIceberg re-applies a write on fresh metadata after a conflicting commit
    (``commit.retry.*``) and then validates it (serializable isolation): an
    overwrite or upsert whose rows were changed meanwhile fails validation.
    Nothing was committed; re-running it blindly could discard the other
    writer's rows, so it is not retried.
    """
    with validation_conflicts(
        f"{mode.value} into table {table} conflicts with a concurrent commit to the same rows",
        table,
    ):
        yield


@contextmanager
def validation_conflicts(conflict: str, table: str) -> Iterator[None]:
    """Turn PyIceberg's ``ValidationException`` into a :class:`CommitConflictError`.

    Args:
        conflict: What conflicted, the message's beginning; the validation's
            own first line and "nothing was written" follow.
        table: The table, the error's subject.
    """
    try:
        yield
    except ValidationException as exc:
        cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise CommitConflictError(
            f"{conflict} ({cause}); nothing was written", subject=table
        ) from exc
