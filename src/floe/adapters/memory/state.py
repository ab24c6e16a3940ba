"""The shared state of the in-memory catalog: namespaces, tables, snapshots.

PyIceberg (directly, and through the shared filter and model modules) is
imported by the first table operation, not with the adapter: a Floe over the
in-memory catalog is built, and holds namespaces, without it.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs
import pyarrow as pa
import pyarrow.compute as pc

from floe.adapters.memory.storage import MemoryStorage
from floe.domain.errors import (
    InvalidRefError,
    NamespaceNotFoundError,
    RefNotFoundError,
    TableExistsError,
    TableNotFoundError,
)
from floe.domain.identifiers import Namespace, TableIdentifier, format_namespace
from floe.domain.models import SnapshotInfo
from floe.domain.partitioning import PartitionTransform
from floe.domain.refs import MAIN, Ref, check_ref_name
from floe.domain.retention import refs_by_snapshot

if TYPE_CHECKING:
    from pyiceberg.schema import Schema


@attrs.frozen
class MemoryFile:
    """A data file of an in-memory table: where it would live and its partition."""

    path: str
    partition: dict[str, str | None]


@attrs.frozen
class Rows:
    """Table rows and, for each row, the id of the data file holding it."""

    data: pa.Table
    files: pa.ChunkedArray

    @classmethod
    def empty(cls, schema: pa.Schema) -> Rows:
        """No rows."""
        return cls(schema.empty_table(), pa.chunked_array([], pa.int64()))

    def filter(self, mask: pa.ChunkedArray | pa.Array) -> Rows:
        """The rows where ``mask`` is true."""
        return Rows(self.data.filter(mask), self.files.filter(mask))

    def concat(self, other: Rows) -> Rows:
        """These rows followed by ``other`` (cast to this schema)."""
        return Rows(
            pa.concat_tables([self.data, other.data.cast(self.data.schema)]),
            pa.chunked_array(self.files.chunks + other.files.chunks, pa.int64()),
        )

    def align(self, schema: pa.Schema) -> Rows:
        """The rows under a newer schema: new columns null, widened columns cast."""
        columns = [
            self.data.column(f.name).cast(f.type)
            if f.name in self.data.column_names
            else pa.nulls(self.data.num_rows, f.type)
            for f in schema
        ]
        return Rows(pa.Table.from_arrays(columns, schema=schema), self.files)


@attrs.frozen
class MemoryManifest:
    """A manifest: where it would live, its live data files and those it marks deleted."""

    path: str
    file_ids: frozenset[int]
    deleted_ids: frozenset[int] = frozenset()


@attrs.define
class MemorySnapshot:
    """A snapshot, the full table contents it points at, and its manifest files."""

    info: SnapshotInfo
    rows: Rows
    manifest_list: str = ""
    manifests: tuple[MemoryManifest, ...] = ()
    # The data files this snapshot added (not in its parent), as its manifests mark them.
    added_files: frozenset[int] = frozenset()

    @property
    def data(self) -> pa.Table:
        """The snapshot's rows."""
        return self.rows.data


@attrs.define
class MemoryTable:
    """One table: its schema, spec, properties and snapshot history."""

    identifier: TableIdentifier
    schema: pa.Schema
    iceberg_schema: Schema
    partition_spec: tuple[PartitionTransform, ...]
    properties: dict[str, str]
    location: str
    snapshots: list[MemorySnapshot] = attrs.field(factory=list)
    current_snapshot_id: int | None = None
    last_timestamp_ms: int = 0
    files: dict[int, MemoryFile] = attrs.field(factory=dict)
    # Branches and tags besides ``main`` (which is ``current_snapshot_id``).
    refs: dict[str, Ref] = attrs.field(factory=dict)
    # Where the table's files are written (shared with the warehouse).
    storage: MemoryStorage = attrs.field(factory=MemoryStorage)

    @property
    def metadata_location(self) -> str:
        """Where this table's current metadata would be."""
        return f"{self.location}/metadata/{len(self.snapshots):05d}.metadata.json"

    def head_id(self, branch: str = MAIN) -> int | None:
        """The snapshot a branch points at (``main``: the current one, ``None`` before any)."""
        return self.current_snapshot_id if branch == MAIN else self.refs[branch].snapshot_id

    def write_target(self, branch: str | None) -> str:
        """The branch a write commits to: ``main`` for ``None``, else an existing branch.

        Raises:
            RefNotFoundError: No ref of that name.
            InvalidRefError: It is a tag.
        """
        if branch is None or branch == MAIN:
            return MAIN
        check_ref_name(branch)
        ref = self.refs.get(branch)
        if ref is None:
            raise RefNotFoundError(
                f"table {self.identifier} has no branch {branch!r}; create it first "
                "(lake.refs.create_branch)",
                subject=str(self.identifier),
            )
        if not ref.is_branch:
            raise InvalidRefError(
                f"{branch!r} of table {self.identifier} is a tag: tags never move, write to "
                "a branch",
                subject=str(self.identifier),
            )
        return branch

    def current_rows(self, branch: str = MAIN) -> Rows:
        """The rows of a branch's head (none before the first write)."""
        head = self.head_id(branch)
        if head is None:
            return Rows.empty(self.schema)
        rows = self.snapshot(head).rows
        # A schema change can commit without a snapshot (a no-op upsert that
        # added a column): the current rows are read under the current schema.
        return rows if rows.data.schema == self.schema else rows.align(self.schema)

    def current_data(self) -> pa.Table:
        """The rows of the current snapshot (empty before the first write)."""
        return self.current_rows().data

    def new_files(self, data: pa.Table) -> Rows:
        """Place incoming rows in new data files, one per partition, as a writer does."""
        if data.num_rows == 0:
            return Rows(data, pa.chunked_array([], pa.int64()))
        if not self.partition_spec:
            file_id = self._add_file({}, "")
            self._write_data(file_id, data)
            return Rows(data, pa.chunked_array([pa.array([file_id] * data.num_rows, pa.int64())]))
        # PyIceberg's own writer splits data by partition with this function; using it
        # keeps the fake's files and partition values identical to a real catalog's.
        from pyiceberg.io.pyarrow import _determine_partitions

        from floe.adapters.iceberg_model import build_partition_spec, partition_values

        spec = build_partition_spec(self.partition_spec, self.iceberg_schema)
        parts = []
        for part in _determine_partitions(spec, self.iceberg_schema, data):
            key = part.partition_key
            values = partition_values(spec, self.iceberg_schema, key.partition)
            file_id = self._add_file(values, key.to_path())
            rows = part.arrow_table_partition
            self._write_data(file_id, rows)
            parts.append(
                Rows(rows, pa.chunked_array([pa.array([file_id] * rows.num_rows, pa.int64())]))
            )
        result = parts[0]
        for more in parts[1:]:
            result = result.concat(more)
        return result

    def rewrite(self, rows: Rows, keep: pa.ChunkedArray) -> Rows:
        """Keep the rows where ``keep`` is true; files that lost rows are rewritten."""
        kept = rows.filter(keep)
        hit = set(rows.files.filter(pc.invert(keep)).to_pylist())
        renamed = {
            old: self._add_file(self.files[old].partition, _partition_dir(self.files[old].path))
            for old in set(kept.files.to_pylist()) & hit
        }
        if not renamed:
            return kept
        for old, new in renamed.items():
            self._write_data(new, kept.data.filter(pc.equal(kept.files, old)))
        files = [renamed.get(f, f) for f in kept.files.to_pylist()]
        return Rows(kept.data, pa.chunked_array([pa.array(files, pa.int64())]))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: on any error the table is restored as it was."""
        saved = (
            self.schema,
            self.iceberg_schema,
            self.partition_spec,
            list(self.snapshots),
            self.current_snapshot_id,
            dict(self.files),
            dict(self.refs),
        )
        try:
            yield
        except BaseException:
            (
                self.schema,
                self.iceberg_schema,
                self.partition_spec,
                self.snapshots,
                self.current_snapshot_id,
                self.files,
                self.refs,
            ) = saved
            raise

    def _write_data(self, file_id: int, rows: pa.Table) -> None:
        """Put a data file holding ``rows`` on storage."""
        self.storage.put(self.files[file_id].path, rows.nbytes)

    def _write_manifests(
        self, snapshot_id: int, rows: Rows, parent_id: int | None
    ) -> tuple[str, tuple[MemoryManifest, ...]]:
        """Write a snapshot's manifests and manifest list as PyIceberg's writers do.

        The parent's manifests whose files all stay are reused (one that
        lists only deleted files too: PyIceberg carries those along); the
        new files go into a new manifest, and the manifests that lost files
        are rewritten into another one, listing their survivors and the
        files deleted.
        """
        live: frozenset[int] = frozenset(pc.unique(rows.files).to_pylist())
        parent = () if parent_id is None else self.snapshot(parent_id).manifests
        kept = [m for m in parent if m.file_ids <= live]
        hit = [m for m in parent if not m.file_ids <= live]
        survivors: frozenset[int] = frozenset().union(*(m.file_ids & live for m in hit))
        dead: frozenset[int] = frozenset().union(*(m.file_ids - live for m in hit))
        covered: frozenset[int] = frozenset().union(*(m.file_ids for m in kept))
        for number, (files, deleted) in enumerate(
            [(live - covered - survivors, frozenset[int]()), (survivors, dead)]
        ):
            if files or deleted:
                path = f"{self.location}/metadata/{uuid.uuid4()}-m{number}.avro"
                self.storage.put(path, 200 + 100 * (len(files) + len(deleted)))
                kept.append(MemoryManifest(path, files, deleted))
        manifest_list = f"{self.location}/metadata/snap-{snapshot_id}-{uuid.uuid4()}.avro"
        self.storage.put(manifest_list, 100 + 50 * len(kept))
        return manifest_list, tuple(kept)

    def _rewritten_manifests(
        self, snapshot_id: int, groups: Sequence[frozenset[int]]
    ) -> tuple[str, tuple[MemoryManifest, ...]]:
        """New manifests listing the given file ids, and their manifest list."""
        written = []
        for number, files in enumerate(groups):
            path = f"{self.location}/metadata/{uuid.uuid4()}-m{number}.avro"
            self.storage.put(path, 200 + 100 * len(files))
            written.append(MemoryManifest(path, files))
        manifest_list = f"{self.location}/metadata/snap-{snapshot_id}-{uuid.uuid4()}.avro"
        self.storage.put(manifest_list, 100 + 50 * len(written))
        return manifest_list, tuple(written)

    def _add_file(self, partition: dict[str, str | None], directory: str) -> int:
        file_id = len(self.files) + 1
        where = f"{self.location}/data/{directory + '/' if directory else ''}"
        self.files[file_id] = MemoryFile(f"{where}{uuid.uuid4()}.parquet", partition)
        return file_id

    def refs_by_snapshot(self) -> dict[int, list[str]]:
        """For each snapshot a branch or tag points at, the names of those refs."""
        main = [] if self.current_snapshot_id is None else [(MAIN, self.current_snapshot_id)]
        return refs_by_snapshot([*main, *((n, r.snapshot_id) for n, r in self.refs.items())])

    def snapshot(self, snapshot_id: int) -> MemorySnapshot:
        """The snapshot with this id; KeyError if absent."""
        for snapshot in self.snapshots:
            if snapshot.info.snapshot_id == snapshot_id:
                return snapshot
        raise KeyError(snapshot_id)

    def set_schema(self, schema: pa.Schema) -> None:
        """Replace the schema (schema evolution)."""
        from floe.adapters.filters import iceberg_schema

        self.schema = schema
        self.iceberg_schema = iceberg_schema(schema)

    def add_snapshot(
        self,
        operation: str,
        rows: Rows,
        summary: Mapping[str, str],
        manifests: Sequence[frozenset[int]] | None = None,
        branch: str = MAIN,
    ) -> SnapshotInfo:
        """Commit a new head of ``branch`` (``main``: the current snapshot) holding ``rows``.

        Its manifests are written as PyIceberg's writers do, or, given
        ``manifests`` (the file ids of each), as those new manifests alone
        (a manifest rewrite).
        """
        parent_id = self.head_id(branch)
        # Strictly increasing commit times, as a catalog's snapshot log has.
        now = max(time.time_ns() // 1_000_000, self.last_timestamp_ms + 1)
        self.last_timestamp_ms = now
        snapshot_id = secrets.randbits(63)
        if manifests is None:
            manifest_list, written = self._write_manifests(snapshot_id, rows, parent_id)
        else:
            manifest_list, written = self._rewritten_manifests(snapshot_id, manifests)
        info = SnapshotInfo(
            snapshot_id=snapshot_id,
            parent_id=parent_id,
            timestamp_ms=now,
            operation=operation,
            summary={"operation": operation, **summary},
        )
        held = frozenset(pc.unique(rows.files).to_pylist())
        before = (
            frozenset()
            if parent_id is None
            else frozenset(pc.unique(self.snapshot(parent_id).rows.files).to_pylist())
        )
        self.snapshots.append(MemorySnapshot(info, rows, manifest_list, written, held - before))
        self.move(branch, info.snapshot_id)
        # As a catalog lists it right after the commit: with the refs now pointing at it.
        return attrs.evolve(info, refs=self.refs_by_snapshot().get(info.snapshot_id, ()))

    def move(self, branch: str, snapshot_id: int) -> None:
        """Point a branch (``main``: the current snapshot) at a snapshot."""
        if branch == MAIN:
            self.current_snapshot_id = snapshot_id
        else:
            self.refs[branch] = attrs.evolve(self.refs[branch], snapshot_id=snapshot_id)


def _partition_dir(path: str) -> str:
    data_dir = path.split("/data/", 1)[1] if "/data/" in path else ""
    return data_dir.rsplit("/", 1)[0] if "/" in data_dir else ""


@attrs.define
class MemoryWarehouse:
    """Everything the in-memory catalog holds, guarded by one lock.

    The lock makes each commit atomic and serialises writers, as a catalog's
    compare-and-swap on table metadata does.
    """

    name: str = "memory"
    namespaces: dict[Namespace, dict[str, str]] = attrs.field(factory=dict)
    tables: dict[TableIdentifier, MemoryTable] = attrs.field(factory=dict)
    lock: threading.RLock = attrs.field(factory=threading.RLock)
    purged_locations: list[str] = attrs.field(factory=list)
    dropped: dict[str, MemoryTable] = attrs.field(factory=dict)
    storage: MemoryStorage = attrs.field(factory=MemoryStorage)

    def table_at(self, metadata_location: str) -> MemoryTable:
        """The table whose current metadata is at ``metadata_location`` (live or dropped).

        Only current metadata locations are known: unlike a real catalog, the
        fake keeps no older metadata files.
        """
        for table in [*self.tables.values(), *self.dropped.values()]:
            if table.metadata_location == metadata_location:
                return table
        raise TableNotFoundError(
            f"no table metadata at {metadata_location}", subject=metadata_location
        )

    def require_namespace(self, namespace: Namespace) -> dict[str, str]:
        """The namespace's properties; NamespaceNotFoundError if absent."""
        try:
            return self.namespaces[namespace]
        except KeyError:
            raise NamespaceNotFoundError(
                f"namespace {format_namespace(namespace)} does not exist",
                subject=format_namespace(namespace),
            ) from None

    def require_table(self, identifier: TableIdentifier) -> MemoryTable:
        """The table; TableNotFoundError if absent."""
        try:
            return self.tables[identifier]
        except KeyError:
            raise TableNotFoundError(
                f"table {identifier} does not exist", subject=str(identifier)
            ) from None


def create_memory_table(
    warehouse: MemoryWarehouse,
    identifier: TableIdentifier,
    schema: pa.Schema,
    partition_spec: Sequence[PartitionTransform],
    properties: Mapping[str, str] | None,
) -> MemoryTable:
    """A new, not yet registered table; checks the namespace and the name (lock held)."""
    from floe.adapters.filters import iceberg_schema

    warehouse.require_namespace(identifier.namespace)
    if identifier in warehouse.tables:
        raise TableExistsError(f"table {identifier} already exists", subject=str(identifier))
    return MemoryTable(
        identifier=identifier,
        schema=schema,
        iceberg_schema=iceberg_schema(schema),
        partition_spec=tuple(partition_spec),
        properties=dict(properties or {}),
        location=f"memory://{warehouse.name}/{'/'.join(identifier.parts)}",
        storage=warehouse.storage,
    )
