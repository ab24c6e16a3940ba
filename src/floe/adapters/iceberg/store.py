"""TableStorePort over PyIceberg tables: each call one guarded operation.

The store loads the table and runs each operation through the backend's
guard (retries, circuit breaker, floe errors). The operations themselves
live beside it: ``writes.py`` (one transaction, one commit, with
``rewrite.py`` for overwrites, ``upsert.py`` for upserts and
``streaming.py`` for streams), ``reads.py`` (scans and file listings),
``snapshots.py`` (history and expiry) and ``refs.py`` (branches and tags).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

import attrs
import pyarrow as pa
from pyiceberg.table import Table

from floe.adapters.iceberg import compaction, reads, refs, snapshots, writes
from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.iceberg.describe import loaded_table
from floe.adapters.iceberg.vended import refused_storage, renews_credentials
from floe.domain.compaction import CompactionBin
from floe.domain.errors import FloeStorageError, ScanError, WriteError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import (
    DataFileInfo,
    RowFilter,
    ScanOptions,
    SnapshotInfo,
    WriteMode,
)
from floe.domain.partitioning import PartitionTransform
from floe.domain.refs import Ref, RefKind, RefRetention
from floe.ports.catalog import TableInfo
from floe.ports.table_store import (
    CompactionInput,
    ManifestRewrite,
    RewriteOutcome,
    TableStorePort,
    WriteResult,
)

_R = TypeVar("_R")


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

    def _renewing(self, call: Callable[[], _R]) -> Callable[[], _R]:
        """``call``, run once more on fresh vended credentials when storage refused them.

        A file opened before its credentials expired can still be refused
        mid-transfer. ``call`` must load its table itself on a second run (so
        it comes with new credentials) and must not have committed anything
        when it fails with a storage refusal: a read, or a write that fails
        before its commit request. A commit whose outcome is unknown is a
        floe error, never run again here.
        """

        def run() -> _R:
            try:
                return call()
            except FloeStorageError:
                raise
            except Exception as exc:
                if not (renews_credentials(self._backend.catalog) and refused_storage(exc)):
                    raise
            return call()

        return run

    def _loader(self, identifier: TableIdentifier, loaded: TableInfo | None) -> Callable[[], Table]:
        """Loads the table for each attempt of a write: the caller's first, afresh after.

        A retried attempt must see the table as it is now, so only the first
        one starts from the table the caller loaded.
        """
        handed = [loaded]

        def load() -> Table:
            table = loaded_table(handed.pop(), self._backend.catalog) if handed else None
            return table if table is not None else self._load(identifier)

        return load

    def _committed(self, table: Table, result: WriteResult) -> WriteResult:
        """``result`` with the snapshot and the table its commit left, read off ``table``."""
        if result.snapshot_id is None:
            return result
        return attrs.evolve(
            result,
            snapshot=snapshots.snapshot_info_of(table, result.snapshot_id),
            table_info=self._backend.describe(result.table, table),
        )

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
        loaded: TableInfo | None,
        branch: str | None,
    ) -> WriteResult:
        load = self._loader(identifier, loaded)

        def call() -> WriteResult:
            table = load()
            result = writes.write(
                table,
                identifier,
                data,
                mode,
                row_filter=row_filter,
                join_columns=join_columns,
                evolve_schema=evolve_schema,
                add_partition_fields=add_partition_fields,
                snapshot_properties=snapshot_properties,
                branch=branch,
            )
            return self._committed(table, result)

        return self._guard.run(
            f"{mode.value} into table", str(identifier), self._renewing(call), fallback=WriteError
        )

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
        return self._write(
            identifier,
            data,
            WriteMode.APPEND,
            evolve_schema=evolve_schema,
            add_partition_fields=add_partition_fields,
            snapshot_properties=snapshot_properties,
            loaded=loaded,
            branch=branch,
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
        load = self._loader(identifier, loaded)

        def call() -> WriteResult:
            table = load()
            result = writes.append_stream(
                table,
                identifier,
                schema,
                batches,
                chunk_bytes=chunk_bytes,
                evolve_schema=evolve_schema,
                add_partition_fields=add_partition_fields,
                snapshot_properties=snapshot_properties,
                branch=branch,
            )
            return self._committed(table, result)

        # A stream is read once: a failed attempt cannot be repeated.
        return self._guard.run(
            "append stream into table",
            str(identifier),
            call,
            fallback=WriteError,
            replayable=False,
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
        return self._write(
            identifier,
            data,
            WriteMode.OVERWRITE,
            row_filter=row_filter,
            evolve_schema=evolve_schema,
            add_partition_fields=add_partition_fields,
            snapshot_properties=snapshot_properties,
            loaded=loaded,
            branch=branch,
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
        return self._write(
            identifier,
            data,
            WriteMode.UPSERT,
            join_columns=join_columns,
            evolve_schema=evolve_schema,
            add_partition_fields=add_partition_fields,
            snapshot_properties=snapshot_properties,
            loaded=loaded,
            branch=branch,
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
        load = self._loader(identifier, loaded)

        def call() -> WriteResult:
            table = load()
            result = writes.delete(
                table,
                identifier,
                row_filter,
                snapshot_properties=snapshot_properties,
                branch=branch,
            )
            return self._committed(table, result)

        return self._guard.run(
            "delete rows of table", str(identifier), self._renewing(call), fallback=WriteError
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
        def call() -> WriteResult:
            table, result = writes.create_with_data(
                self._backend.catalog,
                identifier,
                schema,
                partition_spec,
                properties,
                data,
                snapshot_properties=snapshot_properties,
            )
            return self._committed(table, result)

        return self._guard.run("create table with data", str(identifier), call, fallback=WriteError)

    # -- reads ----------------------------------------------------------------

    def scan(self, identifier: TableIdentifier, options: ScanOptions) -> pa.Table:
        name = str(identifier)

        def call() -> pa.Table:
            return reads.scan(lambda: self._load(identifier), name, options)

        return self._guard.run("scan table", name, self._renewing(call), fallback=ScanError)

    def scan_batches(
        self, identifier: TableIdentifier, options: ScanOptions
    ) -> pa.RecordBatchReader:
        name = str(identifier)

        def call() -> reads.OpenedScan:
            return reads.open_batches(lambda: self._load(identifier), name, options)

        opened = self._guard.run("scan table", name, self._renewing(call), fallback=ScanError)
        return reads.batch_reader(opened, name)

    def inspect_files(self, identifier: TableIdentifier) -> list[DataFileInfo]:
        def call() -> list[DataFileInfo]:
            return reads.data_files(self._load(identifier))

        return self._guard.run("inspect files of table", str(identifier), self._renewing(call))

    # -- snapshots ------------------------------------------------------------

    def list_snapshots(self, identifier: TableIdentifier) -> list[SnapshotInfo]:
        def call() -> list[SnapshotInfo]:
            return snapshots.snapshot_infos(self._load(identifier))

        return self._guard.run("list snapshots of table", str(identifier), self._renewing(call))

    def expire_snapshots(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> tuple[int, ...]:
        name = str(identifier)

        def call() -> tuple[int, ...]:
            return snapshots.expire(self._load(identifier), name, snapshot_ids)

        return self._guard.run("expire snapshots of table", name, call, fallback=WriteError)

    # -- branches and tags ---------------------------------------------------

    def list_refs(self, identifier: TableIdentifier) -> list[Ref]:
        def call() -> list[Ref]:
            return refs.list_refs(self._load(identifier))

        return self._guard.run("list refs of table", str(identifier), call)

    def create_ref(
        self,
        identifier: TableIdentifier,
        name: str,
        kind: RefKind,
        snapshot_id: int | None,
        retention: RefRetention,
    ) -> Ref:
        subject = str(identifier)

        def call() -> Ref:
            table = self._load(identifier)
            return refs.create_ref(table, subject, name, kind, snapshot_id, retention)

        return self._guard.run(f"create {kind.value} of table", subject, call, fallback=WriteError)

    def drop_ref(self, identifier: TableIdentifier, name: str, kind: RefKind) -> None:
        subject = str(identifier)

        def call() -> None:
            refs.drop_ref(self._load(identifier), subject, name, kind)

        self._guard.run(f"drop {kind.value} of table", subject, call, fallback=WriteError)

    def set_branch(
        self,
        identifier: TableIdentifier,
        branch: str,
        snapshot_id: int,
        *,
        expected_id: int | None,
    ) -> None:
        subject = str(identifier)

        def call() -> None:
            table = self._load(identifier)
            refs.set_branch(table, subject, branch, snapshot_id, expected_id)

        self._guard.run("move branch of table", subject, call, fallback=WriteError)

    def cherry_pick_appends(
        self,
        identifier: TableIdentifier,
        snapshot_ids: Sequence[int],
        *,
        onto: str,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        subject = str(identifier)

        def call() -> WriteResult:
            table = self._load(identifier)
            committed = refs.cherry_pick_appends(
                table, subject, snapshot_ids, onto, snapshot_properties
            )
            added = 0
            if committed is not None:
                snapshot = table.snapshot_by_id(committed)
                summary = {} if snapshot is None or snapshot.summary is None else snapshot.summary
                added = int(summary.get("added-records", "0") or 0)
            result = WriteResult(identifier, WriteMode.APPEND, committed, added, rows_added=added)
            return self._committed(table, result)

        return self._guard.run("replay appends onto table", subject, call, fallback=WriteError)

    # -- maintenance rewrites -------------------------------------------------

    def compaction_candidates(
        self, identifier: TableIdentifier, row_filter: RowFilter | None
    ) -> CompactionInput:
        name = str(identifier)

        def call() -> CompactionInput:
            return compaction.candidates(self._load(identifier), name, row_filter)

        return self._guard.run("plan compaction of table", name, call)

    def rewrite_data_files(
        self,
        identifier: TableIdentifier,
        bins: Sequence[CompactionBin],
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> RewriteOutcome:
        name = str(identifier)

        def call() -> RewriteOutcome:
            return compaction.rewrite(self._load(identifier), name, bins, snapshot_properties)

        return self._guard.run("compact table", name, call, fallback=WriteError)

    def rewrite_manifests(self, identifier: TableIdentifier) -> ManifestRewrite:
        name = str(identifier)

        def call() -> ManifestRewrite:
            return compaction.rewrite_manifests(self._load(identifier), name)

        return self._guard.run("rewrite manifests of table", name, call, fallback=WriteError)
