"""In-memory table files port: the files of the fake's snapshots and its object store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from floe.adapters.memory.state import MemorySnapshot, MemoryTable, MemoryWarehouse
from floe.adapters.observability import instrumented
from floe.domain.errors import SnapshotNotFoundError
from floe.domain.identifiers import TableIdentifier
from floe.domain.table_files import FileCount, FileKind, FilesDeleted, StoredFile, TableFile
from floe.ports.table_files import TableFilesPort


@instrumented("memory")
class MemoryTableFiles(TableFilesPort):
    """The files of tables held in a :class:`MemoryWarehouse`, in its object store.

    Each snapshot has a manifest list and manifests (reused by later
    snapshots as long as all their files stay, as Iceberg's appends do);
    the fake keeps no metadata files, so none is listed or referenced.

    Args:
        warehouse: The state shared with the other in-memory ports.
    """

    def __init__(self, warehouse: MemoryWarehouse) -> None:
        self._w = warehouse

    def _files(self, table: MemoryTable, snapshots: Iterable[MemorySnapshot]) -> list[TableFile]:
        storage = table.storage
        found: list[TableFile] = []
        for snapshot in snapshots:
            found.append(
                TableFile(
                    snapshot.manifest_list,
                    FileKind.MANIFEST_LIST,
                    storage.size(snapshot.manifest_list),
                )
            )
            for manifest in snapshot.manifests:
                found.append(
                    TableFile(manifest.path, FileKind.MANIFEST, storage.size(manifest.path))
                )
                for file_id in sorted(manifest.file_ids):
                    path = table.files[file_id].path
                    found.append(TableFile(path, FileKind.DATA, storage.size(path)))
        return found

    def snapshot_files(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> list[TableFile]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            chosen = []
            for snapshot_id in snapshot_ids:
                try:
                    chosen.append(table.snapshot(snapshot_id))
                except KeyError:
                    raise SnapshotNotFoundError(
                        f"table {identifier} has no snapshot {snapshot_id}",
                        subject=str(identifier),
                    ) from None
            return self._files(table, chosen)

    def referenced_files(
        self, identifier: TableIdentifier, *, without: Sequence[int] = ()
    ) -> list[TableFile]:
        gone = set(without)
        with self._w.lock:
            table = self._w.require_table(identifier)
            kept = [s for s in table.snapshots if s.info.snapshot_id not in gone]
            return self._files(table, kept)

    def current_files(self, identifier: TableIdentifier) -> list[TableFile]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            if table.current_snapshot_id is None:
                return []
            return self._files(table, [table.snapshot(table.current_snapshot_id)])

    def list_files(self, identifier: TableIdentifier) -> list[StoredFile]:
        with self._w.lock:
            table = self._w.require_table(identifier)
            stored = table.storage.under(table.location)
        return [StoredFile(p, o.size_bytes, o.modified_ms) for p, o in sorted(stored.items())]

    def delete_files(self, identifier: TableIdentifier, files: Sequence[TableFile]) -> FilesDeleted:
        counts: dict[FileKind, FileCount] = {}
        with self._w.lock:
            table = self._w.require_table(identifier)
            for file in {f.path: f for f in files}.values():
                gone = table.storage.delete(file.path)
                if gone is not None:
                    count = FileCount(1, gone.size_bytes)
                    counts[file.kind] = counts.get(file.kind, FileCount()) + count
        return FilesDeleted(counts)
