"""In-memory table store port: atomic writes, scans, time travel, expiry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from floe.adapters.memory.catalog import describe_table
from floe.adapters.memory.state import (
    MemorySnapshot,
    MemoryTable,
    MemoryWarehouse,
    Rows,
    create_memory_table,
)
from floe.adapters.observability import instrumented
from floe.domain.compaction import CompactionBin, CompactionCandidate
from floe.domain.errors import (
    CommitConflictError,
    InvalidScanError,
    RefExistsError,
    RefNotFoundError,
    SnapshotNotFoundError,
    WriteError,
)
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import (
    DataFileInfo,
    RowFilter,
    ScanOptions,
    SnapshotInfo,
    WriteMode,
)
from floe.domain.partitioning import PartitionTransform
from floe.domain.refs import MAIN, Ref, RefKind, RefRetention
from floe.domain.retention import refuse_expiring_ref_heads
from floe.ports.catalog import TableInfo
from floe.ports.table_store import (
    CompactionInput,
    ManifestRewrite,
    RewriteOutcome,
    TableStorePort,
    WriteResult,
    check_upsert_keys,
)


def _summary(
    added: int, deleted: int, total: int, properties: Mapping[str, str] | None
) -> dict[str, str]:
    summary = {"total-records": str(total)}
    if added:
        summary["added-records"] = str(added)
    if deleted:
        summary["deleted-records"] = str(deleted)
    summary.update(properties or {})
    return summary


def _replacing(table: MemoryTable, branch: str) -> str:
    """The operation of a commit that may replace rows: one snapshot, as Iceberg's writers make.

    An Iceberg ``overwrite`` snapshot removes and adds files at once; on a
    branch without a snapshot yet it is an ``append`` (as PyIceberg labels it).
    """
    return "overwrite" if table.head_id(branch) is not None else "append"


@instrumented("memory")
class MemoryTableStore(TableStorePort):
    """Table data held in a :class:`MemoryWarehouse`, one Arrow table per snapshot.

    Args:
        warehouse: The state shared with the :class:`MemoryCatalog`.
    """

    def __init__(self, warehouse: MemoryWarehouse) -> None:
        self._w = warehouse

    # -- writes ---------------------------------------------------------------

    def _begin(
        self,
        table: MemoryTable,
        evolve_schema: pa.Schema | None,
        add_partition_fields: Sequence[PartitionTransform],
        branch: str,
    ) -> Rows:
        table.partition_spec = (*table.partition_spec, *add_partition_fields)
        if evolve_schema is not None:
            table.set_schema(evolve_schema)
        return table.current_rows(branch)  # under the table's (possibly new) schema

    def append(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        *,
        evolve_schema: pa.Schema | None = None,
        add_partition_fields: Sequence[PartitionTransform] = (),
        snapshot_properties: Mapping[str, str] | None = None,
        loaded: TableInfo | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        return self._append(
            identifier, data, evolve_schema, add_partition_fields, snapshot_properties, branch
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
        loaded: TableInfo | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        # Memory holds every row anyway; the stream is read whole before the
        # commit, so a failing stream leaves the table as it was.
        with self._w.lock:
            self._w.require_table(identifier).write_target(branch)
        data = pa.Table.from_batches(list(batches), schema=schema)
        if not data.num_rows and evolve_schema is None and not add_partition_fields:
            return WriteResult(identifier, WriteMode.APPEND, None, 0)
        return self._append(
            identifier, data, evolve_schema, add_partition_fields, snapshot_properties, branch
        )

    def _append(
        self,
        identifier: TableIdentifier,
        data: pa.Table,
        evolve_schema: pa.Schema | None,
        add_partition_fields: Sequence[PartitionTransform],
        snapshot_properties: Mapping[str, str] | None,
        branch: str | None,
    ) -> WriteResult:
        with self._w.lock:
            table = self._w.require_table(identifier)
            on = table.write_target(branch)
            with table.transaction():
                current = self._begin(table, evolve_schema, add_partition_fields, on)
                new = current.concat(table.new_files(data.cast(table.schema)))
                info = table.add_snapshot(
                    "append",
                    new,
                    _summary(data.num_rows, 0, new.data.num_rows, snapshot_properties),
                    branch=on,
                )
                return WriteResult(
                    identifier,
                    WriteMode.APPEND,
                    info.snapshot_id,
                    data.num_rows,
                    rows_added=data.num_rows,
                    snapshot=info,
                    table_info=describe_table(table),
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
        loaded: TableInfo | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        from floe.adapters.filters import bind_filter, iceberg_schema, matching_mask

        with self._w.lock:
            table = self._w.require_table(identifier)
            on = table.write_target(branch)
            with table.transaction():
                schema = evolve_schema if evolve_schema is not None else table.schema
                ice = iceberg_schema(schema)
                bound = bind_filter(row_filter, ice, table=str(identifier))
                current = self._begin(table, evolve_schema, add_partition_fields, on)
                doomed = matching_mask(current.data, bound, ice)
                kept = table.rewrite(current, pc.invert(doomed))
                deleted = current.data.num_rows - kept.data.num_rows
                new = kept.concat(table.new_files(data.cast(table.schema)))
                info = table.add_snapshot(
                    _replacing(table, on),
                    new,
                    _summary(data.num_rows, deleted, new.data.num_rows, snapshot_properties),
                    branch=on,
                )
                return WriteResult(
                    identifier,
                    WriteMode.OVERWRITE,
                    info.snapshot_id,
                    data.num_rows,
                    rows_added=data.num_rows,
                    rows_deleted=deleted,
                    snapshot=info,
                    table_info=describe_table(table),
                )

    def delete(
        self,
        identifier: TableIdentifier,
        row_filter: RowFilter,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
        loaded: TableInfo | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        from floe.adapters.filters import bind_filter, iceberg_schema, matching_mask

        with self._w.lock:
            table = self._w.require_table(identifier)
            on = table.write_target(branch)
            ice = iceberg_schema(table.schema)
            bound = bind_filter(row_filter, ice, table=str(identifier))
            with table.transaction():
                current = table.current_rows(on)
                doomed = matching_mask(current.data, bound, ice)
                deleted = int(pc.sum(pc.fill_null(doomed, False)).as_py() or 0)
                if not deleted:
                    return WriteResult(identifier, WriteMode.OVERWRITE, None, 0)
                kept = table.rewrite(current, pc.invert(doomed))
                info = table.add_snapshot(
                    "overwrite",
                    kept,
                    _summary(0, deleted, kept.data.num_rows, snapshot_properties),
                    branch=on,
                )
                return WriteResult(
                    identifier,
                    WriteMode.OVERWRITE,
                    info.snapshot_id,
                    0,
                    rows_deleted=deleted,
                    snapshot=info,
                    table_info=describe_table(table),
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
        loaded: TableInfo | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        keys = list(join_columns)
        check_upsert_keys(data, keys, str(identifier))
        with self._w.lock:
            table = self._w.require_table(identifier)
            on = table.write_target(branch)
            with table.transaction():
                current = self._begin(table, evolve_schema, add_partition_fields, on)
                data = data.cast(table.schema)
                existing_rows = current.data.to_pylist()
                existing: dict[tuple[Any, ...], int] = {}
                repeated: set[tuple[Any, ...]] = set()
                for i, r in enumerate(existing_rows):
                    at = tuple(r[k] for k in keys)
                    if at in existing:
                        repeated.add(at)
                    existing[at] = i
                updates: list[int] = []
                inserts: list[int] = []
                replaced: set[int] = set()
                for i, row in enumerate(data.to_pylist()):
                    key = tuple(row[k] for k in keys)
                    match = existing.get(key)  # null keys were refused above
                    if match is not None and key in repeated:
                        raise WriteError(
                            f"upsert into table {identifier}: the table holds several rows "
                            f"for one key of join columns {keys}; nothing was written",
                            subject=str(identifier),
                        )
                    if match is None:
                        inserts.append(i)
                    elif existing_rows[match] != row:
                        updates.append(i)
                        replaced.add(match)
                snapshot: SnapshotInfo | None = None
                if updates or inserts:
                    operation = _replacing(table, on) if updates else "append"
                    keep = pa.chunked_array(
                        [
                            pa.array(
                                [i not in replaced for i in range(current.data.num_rows)],
                                pa.bool_(),
                            )
                        ]
                    )
                    current = table.rewrite(current, keep)
                    current = current.concat(table.new_files(data.take(updates + inserts)))
                    snapshot = table.add_snapshot(
                        operation,
                        current,
                        _summary(
                            len(updates) + len(inserts),
                            len(replaced),
                            current.data.num_rows,
                            snapshot_properties,
                        ),
                        branch=on,
                    )
                return WriteResult(
                    identifier,
                    WriteMode.UPSERT,
                    None if snapshot is None else snapshot.snapshot_id,
                    data.num_rows,
                    rows_added=len(updates) + len(inserts),
                    rows_deleted=len(updates),
                    snapshot=snapshot,
                    table_info=None if snapshot is None else describe_table(table),
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
        with self._w.lock:
            table = create_memory_table(self._w, identifier, schema, partition_spec, properties)
            rows = table.new_files(data.cast(table.schema))
            info = table.add_snapshot(
                "append", rows, _summary(data.num_rows, 0, data.num_rows, snapshot_properties)
            )
            # Registered only now: until here nothing was visible.
            self._w.tables[identifier] = table
            return WriteResult(
                identifier,
                WriteMode.APPEND,
                info.snapshot_id,
                data.num_rows,
                data.num_rows,
                snapshot=info,
                table_info=describe_table(table),
            )

    # -- reads ----------------------------------------------------------------

    def _snapshot_data(self, table: MemoryTable, options: ScanOptions) -> pa.Table:
        if options.as_of is not None:
            raise InvalidScanError("as_of is resolved to a snapshot id before the scan")
        snapshot_id = options.snapshot_id
        if options.ref is not None and options.ref != MAIN:
            ref = table.refs.get(options.ref)
            if ref is None:
                raise RefNotFoundError(
                    f"table {table.identifier} has no branch or tag {options.ref!r}",
                    subject=str(table.identifier),
                )
            snapshot_id = ref.snapshot_id
        if snapshot_id is None:
            return table.current_data()
        try:
            return table.snapshot(snapshot_id).data
        except KeyError:
            raise SnapshotNotFoundError(
                f"table {table.identifier} has no snapshot {options.snapshot_id}",
                subject=str(table.identifier),
            ) from None

    def scan(self, identifier: TableIdentifier, options: ScanOptions) -> pa.Table:
        from floe.adapters.filters import bind_filter, filter_arrow, iceberg_schema

        with self._w.lock:
            table = self._w.require_table(identifier)
            data = self._snapshot_data(table, options)
        ice = iceberg_schema(data.schema)
        bound = bind_filter(options.row_filter, ice, table=str(identifier))
        if options.columns is not None:
            missing = [c for c in options.columns if c not in data.column_names]
            if missing:
                raise InvalidScanError(
                    f"table {identifier} has no column(s) {missing}", subject=str(identifier)
                )
        result = filter_arrow(data, bound, ice)
        if options.columns is not None:
            result = result.select(list(dict.fromkeys(options.columns)))
        if options.limit is not None:
            result = result.slice(0, options.limit)
        return result.combine_chunks()

    def scan_batches(
        self, identifier: TableIdentifier, options: ScanOptions
    ) -> pa.RecordBatchReader:
        result = self.scan(identifier, options)
        return pa.RecordBatchReader.from_batches(result.schema, result.to_batches())

    def inspect_files(self, identifier: TableIdentifier) -> list[DataFileInfo]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            rows = table.current_rows()
            files = dict(table.files)
            ids = sorted(set(rows.files.to_pylist()))
            written = {i: table.storage.size(files[i].path) for i in ids}
        result = []
        for file_id in ids:
            part = rows.data.filter(pc.equal(rows.files, file_id))
            info = files[file_id]
            size = written[file_id] or part.nbytes  # the size it was written with
            result.append(DataFileInfo(info.path, info.partition, part.num_rows, size))
        return result

    # -- snapshots ------------------------------------------------------------

    def list_snapshots(self, identifier: TableIdentifier) -> list[SnapshotInfo]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            heads = table.refs_by_snapshot()
            return [
                attrs.evolve(s.info, refs=heads.get(s.info.snapshot_id, ()))
                for s in table.snapshots
            ]

    def expire_snapshots(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> tuple[int, ...]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            known = {s.info.snapshot_id for s in table.snapshots}
            unknown = [i for i in snapshot_ids if i not in known]
            if unknown:
                raise SnapshotNotFoundError(
                    f"table {identifier} has no snapshot(s) {unknown}", subject=str(identifier)
                )
            if table.current_snapshot_id in snapshot_ids:
                raise WriteError(
                    f"cannot expire snapshot {table.current_snapshot_id}: it is the current "
                    f"snapshot of table {identifier}",
                    subject=str(identifier),
                )
            refuse_expiring_ref_heads(str(identifier), snapshot_ids, table.refs_by_snapshot())
            doomed = set(snapshot_ids)
            table.snapshots = [s for s in table.snapshots if s.info.snapshot_id not in doomed]
            return tuple(i for i in dict.fromkeys(snapshot_ids))

    # -- branches and tags ---------------------------------------------------

    def list_refs(self, identifier: TableIdentifier) -> list[Ref]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            main = (
                []
                if table.current_snapshot_id is None
                else [Ref(MAIN, RefKind.BRANCH, table.current_snapshot_id)]
            )
            return [*main, *(table.refs[n] for n in sorted(table.refs))]

    def create_ref(
        self,
        identifier: TableIdentifier,
        name: str,
        kind: RefKind,
        snapshot_id: int | None,
        retention: RefRetention,
    ) -> Ref:
        subject = str(identifier)
        with self._w.lock:
            table = self._w.require_table(identifier)
            if name == MAIN or name in table.refs:
                raise RefExistsError(
                    f"table {identifier} already has a ref {name!r}", subject=subject
                )
            if snapshot_id is None:
                snapshot_id = table.current_snapshot_id
                if snapshot_id is None:
                    raise SnapshotNotFoundError(
                        f"table {identifier} has no snapshot yet: a {kind.value} needs one to "
                        "point at (write to main first)",
                        subject=subject,
                    )
            elif not any(s.info.snapshot_id == snapshot_id for s in table.snapshots):
                raise SnapshotNotFoundError(
                    f"table {identifier} has no snapshot {snapshot_id}", subject=subject
                )
            ref = Ref(name, kind, snapshot_id, retention)
            table.refs[name] = ref
            return ref

    def drop_ref(self, identifier: TableIdentifier, name: str, kind: RefKind) -> None:
        with self._w.lock:
            table = self._w.require_table(identifier)
            ref = table.refs.get(name)
            if ref is None or ref.kind is not kind:
                raise RefNotFoundError(
                    f"table {identifier} has no {kind.value} {name!r}", subject=str(identifier)
                )
            del table.refs[name]

    def set_branch(
        self,
        identifier: TableIdentifier,
        branch: str,
        snapshot_id: int,
        *,
        expected_id: int | None,
    ) -> None:
        subject = str(identifier)
        with self._w.lock:
            table = self._w.require_table(identifier)
            on = table.write_target(branch)
            if not any(s.info.snapshot_id == snapshot_id for s in table.snapshots):
                raise SnapshotNotFoundError(
                    f"table {identifier} has no snapshot {snapshot_id}", subject=subject
                )
            head = table.head_id(on)
            if head != expected_id:
                raise CommitConflictError(
                    f"branch {on!r} of table {identifier} moved to snapshot {head} (expected "
                    f"{expected_id}); nothing changed",
                    subject=subject,
                )
            table.move(on, snapshot_id)

    def cherry_pick_appends(
        self,
        identifier: TableIdentifier,
        snapshot_ids: Sequence[int],
        *,
        onto: str,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        subject = str(identifier)
        with self._w.lock:
            table = self._w.require_table(identifier)
            on = table.write_target(onto)
            added: list[Rows] = []
            for snapshot_id in snapshot_ids:
                try:
                    snapshot = table.snapshot(snapshot_id)
                except KeyError:
                    raise SnapshotNotFoundError(
                        f"table {identifier} has no snapshot {snapshot_id}", subject=subject
                    ) from None
                if snapshot.info.operation != "append":
                    raise WriteError(
                        f"snapshot {snapshot_id} of table {identifier} is not an append "
                        f"({snapshot.info.operation}): only appends are replayed; nothing was "
                        "committed",
                        subject=subject,
                    )
                added.append(_added_rows(snapshot))
            # The fake only ever adds partition fields: a file's spec is told by
            # how many fields it was written with.
            fields = len(table.partition_spec)
            stale = sorted(
                table.files[i].path
                for r in added
                for i in set(r.files.to_pylist())
                if len(table.files[i].partition) != fields
            )
            if stale:
                raise WriteError(
                    f"cannot replay onto {on!r} of table {identifier}: {len(stale)} file(s) "
                    f"were written under an older partition spec (e.g. {stale[0]}); nothing "
                    "was committed",
                    subject=subject,
                )
            rows = [r for r in added if r.data.num_rows]
            if not rows:
                return WriteResult(identifier, WriteMode.APPEND, None, 0)
            with table.transaction():
                current = table.current_rows(on)
                count = 0
                for more in rows:
                    current = current.concat(more.align(table.schema))
                    count += more.data.num_rows
                info = table.add_snapshot(
                    "append",
                    current,
                    _summary(count, 0, current.data.num_rows, snapshot_properties),
                    branch=on,
                )
                return WriteResult(
                    identifier,
                    WriteMode.APPEND,
                    info.snapshot_id,
                    count,
                    rows_added=count,
                    snapshot=info,
                    table_info=describe_table(table),
                )

    # -- maintenance rewrites -------------------------------------------------

    def compaction_candidates(
        self, identifier: TableIdentifier, row_filter: RowFilter | None
    ) -> CompactionInput:
        from floe.adapters.filters import bind_filter, iceberg_schema, matching_mask

        with self._w.lock:
            table = self._w.require_table(identifier)
            if table.current_snapshot_id is None:
                bind_filter(row_filter, table.iceberg_schema, table=str(identifier))
                return CompactionInput(None)
            rows = table.current_rows()
            files = dict(table.files)
            sizes = {i: table.storage.size(f.path) for i, f in files.items()}
            snapshot_id = table.current_snapshot_id
        ice = iceberg_schema(rows.data.schema)
        bound = bind_filter(row_filter, ice, table=str(identifier))
        chosen = rows if row_filter is None else rows.filter(matching_mask(rows.data, bound, ice))
        ids = sorted(set(chosen.files.to_pylist()))
        result = []
        for file_id in ids:
            part = rows.data.filter(pc.equal(rows.files, file_id))
            info = files[file_id]
            result.append(
                CompactionCandidate(
                    path=info.path,
                    partition=info.partition,
                    # The fake only ever adds partition fields: a file's spec
                    # is told by how many fields it was written with.
                    spec_id=len(info.partition),
                    size_bytes=sizes[file_id] or part.nbytes,
                    record_count=part.num_rows,
                )
            )
        return CompactionInput(snapshot_id, tuple(result))

    def rewrite_data_files(
        self,
        identifier: TableIdentifier,
        bins: Sequence[CompactionBin],
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> RewriteOutcome:
        name = str(identifier)
        # Written first, committed after, as a real writer does: a commit that
        # lands in between is kept, one that removed a replaced file aborts.
        with self._w.lock:
            table = self._w.require_table(identifier)
            by_path = {f.path: i for i, f in table.files.items()}
            current = table.current_rows()
            live = set(current.files.to_pylist())
            replaced = [by_path.get(f.path) for b in bins for f in b.files]
            if any(i is None or i not in live for i in replaced):
                raise _compaction_conflict(name)
            written: list[Rows] = []
            for b in bins:
                ids = [by_path[f.path] for f in b.files]
                rows = current.filter(pc.is_in(current.files, pa.array(ids, pa.int64())))
                # Under the current spec, as Iceberg's rewrite writes by default.
                written.append(table.new_files(rows.data))
        replaced_ids = frozenset(i for i in replaced if i is not None)
        snapshot_id = commit_replace(
            self._w, identifier, replaced_ids, written, dict(snapshot_properties or {})
        )
        outputs = tuple((len(set(r.files.to_pylist())), r.data.nbytes) for r in written)
        return RewriteOutcome(snapshot_id, outputs)

    def rewrite_manifests(self, identifier: TableIdentifier) -> ManifestRewrite:
        with self._w.lock:
            table = self._w.require_table(identifier)
            if table.current_snapshot_id is None:
                return ManifestRewrite(None, 0, 0)
            before = len(table.snapshot(table.current_snapshot_id).manifests)
        if before <= 1:
            return ManifestRewrite(None, before, before)
        snapshot_id, after = commit_manifests(self._w, identifier)
        return ManifestRewrite(snapshot_id, before, after)


def _added_rows(snapshot: MemorySnapshot) -> Rows:
    """The rows held in the files an append snapshot added."""
    rows = snapshot.rows
    added = pa.array(sorted(snapshot.added_files), pa.int64())
    return rows.filter(pc.is_in(rows.files, value_set=added))


def commit_manifests(warehouse: MemoryWarehouse, identifier: TableIdentifier) -> tuple[int, int]:
    """Commit a manifest rewrite of the table as it is now: one ``replace`` snapshot.

    Its manifests, one per spec (told apart by the number of partition
    fields), list the current snapshot's live files, whatever committed
    since the rewrite was asked for.

    Returns:
        The snapshot and how many manifests it has.
    """
    with warehouse.lock:
        table = warehouse.require_table(identifier)
        if table.current_snapshot_id is None:  # pragma: no cover - tables never lose snapshots
            raise WriteError(f"table {identifier} has no snapshot", subject=str(identifier))
        current = table.snapshot(table.current_snapshot_id)
        groups: dict[int, set[int]] = {}
        for file_id in set(current.rows.files.to_pylist()):
            groups.setdefault(len(table.files[file_id].partition), set()).add(file_id)
        manifests = [frozenset(groups[k]) for k in sorted(groups)]
        info = table.add_snapshot(
            "replace",
            current.rows,
            {
                "total-records": str(current.rows.data.num_rows),
                "manifests-created": str(len(manifests)),
                "manifests-replaced": str(len(current.manifests)),
            },
            manifests=manifests,
        )
        return info.snapshot_id, len(manifests)


def _compaction_conflict(name: str) -> CommitConflictError:
    return CommitConflictError(
        f"compaction of table {name} conflicts with a concurrent commit that removed files "
        "it rewrites; nothing was written",
        subject=name,
    )


def commit_replace(
    warehouse: MemoryWarehouse,
    identifier: TableIdentifier,
    replaced: frozenset[int],
    written: Sequence[Rows],
    properties: Mapping[str, str],
) -> int:
    """Commit a compaction on the table as it is now: one ``replace`` snapshot.

    Only the replaced files must still be live (files appended meanwhile are
    kept); otherwise the written files are deleted and nothing is committed.
    """
    name = str(identifier)
    with warehouse.lock:
        table = warehouse.require_table(identifier)
        current = table.current_rows()
        if not replaced <= set(current.files.to_pylist()):
            for rows in written:
                for file_id in set(rows.files.to_pylist()):
                    table.storage.delete(table.files[file_id].path)
            raise _compaction_conflict(name)
        keep = pc.invert(pc.is_in(current.files, pa.array(sorted(replaced), pa.int64())))
        new = current.filter(keep)
        for rows in written:
            new = new.concat(rows.align(table.schema))
        moved = sum(r.data.num_rows for r in written)
        added_files = sum(len(set(r.files.to_pylist())) for r in written)
        summary = {
            **_summary(moved, moved, new.data.num_rows, properties),
            "added-data-files": str(added_files),
            "deleted-data-files": str(len(replaced)),
        }
        return table.add_snapshot("replace", new, summary).snapshot_id
