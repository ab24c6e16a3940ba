"""TableFilesPort over PyIceberg: metadata walked with PyIceberg, storage listed with pyarrow.fs.

Only public PyIceberg names are used: ``Snapshot.manifests``,
``ManifestFile.fetch_manifest_entry``, the table metadata's log and
statistics, the table's ``FileIO`` to measure and delete files, and
``PyArrowFileIO.parse_location`` / ``fs_by_scheme`` for the filesystem
PyIceberg itself reads and writes the table with (FileIO has no listing).

Paths are spelt one way whatever form the metadata used (``s3a://`` and
``s3://`` name the same object; a local path may come with or without
``file://``): ``<scheme>://<path>`` as the table's filesystem sees it. The
orphan search compares what storage lists with what the metadata names, so
two spellings of one file would make a referenced file look like an orphan.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pyarrow.fs import FileSelector, FileType
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.manifest import DataFileContent, ManifestFile
from pyiceberg.table import Table
from pyiceberg.table.snapshots import Snapshot
from pyiceberg.utils.concurrent import ExecutorFactory

from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.observability import note
from floe.domain.errors import SnapshotNotFoundError
from floe.domain.identifiers import TableIdentifier
from floe.domain.table_files import FileCount, FileKind, FilesDeleted, StoredFile, TableFile
from floe.ports.table_files import TableFilesPort

#: Schemes that name the same objects as another one.
_SAME_AS = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}
#: Schemes whose filesystem path leaves out the authority (host and port).
_PATH_WITHOUT_AUTHORITY = frozenset({"hdfs", "viewfs"})


def _uri(scheme: str, netloc: str, fs_path: str) -> str:
    scheme = _SAME_AS.get(scheme, scheme)
    if scheme in _PATH_WITHOUT_AUTHORITY:
        return f"{scheme}://{netloc}{fs_path}"
    return f"{scheme}://{fs_path}"


def spelt(path: str, io: FileIO) -> str:
    """The one spelling of a file's location: ``<scheme>://<filesystem path>``."""
    scheme, netloc, fs_path = PyArrowFileIO.parse_location(path, io.properties)
    return _uri(scheme, netloc, fs_path)


class IcebergTableFiles(TableFilesPort):
    """The files of PyIceberg tables (REST or embedded catalog) in their storage.

    Args:
        backend: The PyIceberg catalog and the guard every call goes through.
    """

    def __init__(self, backend: IcebergBackend) -> None:
        self._backend = backend
        self._guard = backend.guard

    def _load(self, identifier: TableIdentifier) -> Table:
        return self._backend.catalog.load_table(identifier.parts)

    def snapshot_files(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> list[TableFile]:
        name = str(identifier)

        def call() -> list[TableFile]:
            table = self._load(identifier)
            ids = list(dict.fromkeys(snapshot_ids))
            snapshots = [table.snapshot_by_id(i) for i in ids]
            unknown = [i for i, s in zip(ids, snapshots, strict=True) if s is None]
            if unknown:
                raise SnapshotNotFoundError(
                    f"table {name} has no snapshot(s) {unknown}", subject=name
                )
            chosen = [s for s in snapshots if s is not None]
            files = _reach(table.io, chosen, live_only=False)
            files.extend(_statistics(table, set(ids)))
            return files

        return self._guard.run("list files of snapshots of table", name, call)

    def referenced_files(
        self, identifier: TableIdentifier, *, without: Sequence[int] = ()
    ) -> list[TableFile]:
        gone = set(without)

        def call() -> list[TableFile]:
            table = self._load(identifier)
            io = table.io
            kept = [s for s in table.snapshots() if s.snapshot_id not in gone]
            files = _reach(io, kept, live_only=True)
            files.extend(_statistics(table, None, without=gone))
            files.extend(
                TableFile(spelt(entry.metadata_file, io), FileKind.METADATA)
                for entry in table.metadata.metadata_log
            )
            if table.metadata_location:
                files.append(TableFile(spelt(table.metadata_location, io), FileKind.METADATA))
            return files

        return self._guard.run("list referenced files of table", str(identifier), call)

    def current_files(self, identifier: TableIdentifier) -> list[TableFile]:
        def call() -> list[TableFile]:
            table = self._load(identifier)
            io = table.io
            current = table.current_snapshot()
            files = _reach(io, [] if current is None else [current], live_only=True)
            files = [
                TableFile(f.path, f.kind, len(io.new_input(f.path)))
                if f.kind is FileKind.MANIFEST_LIST
                else f
                for f in files
            ]
            if table.metadata_location:
                where = table.metadata_location
                files.append(
                    TableFile(spelt(where, io), FileKind.METADATA, len(io.new_input(where)))
                )
            return files

        return self._guard.run("list current files of table", str(identifier), call)

    def list_files(self, identifier: TableIdentifier) -> list[StoredFile]:
        def call() -> list[StoredFile]:
            table = self._load(identifier)
            return _stored(table.io, table.location())

        return self._guard.run("list stored files of table", str(identifier), call)

    def delete_files(self, identifier: TableIdentifier, files: Sequence[TableFile]) -> FilesDeleted:
        name = str(identifier)

        def call() -> FilesDeleted:
            io = self._load(identifier).io
            unique = list({f.path: f for f in files}.values())
            outcomes = list(ExecutorFactory.get_or_create().map(lambda f: _delete(io, f), unique))
            counts: dict[FileKind, FileCount] = {}
            failed: list[str] = []
            for file, outcome in zip(unique, outcomes, strict=True):
                if isinstance(outcome, int):
                    counts[file.kind] = counts.get(file.kind, FileCount()) + FileCount(1, outcome)
                elif outcome is not None:
                    failed.append(file.path)
                    note(
                        "floe.file_not_deleted",
                        subject=name,
                        adapter=self._guard.adapter,
                        path=file.path,
                        kind=file.kind.value,
                        error=outcome,
                    )
            return FilesDeleted(counts, failed)

        return self._guard.run("delete files of table", name, call)


def _reach(io: FileIO, snapshots: Iterable[Snapshot], *, live_only: bool) -> list[TableFile]:
    """The manifest lists of ``snapshots``, their manifests and the files of their entries.

    A manifest shared by several snapshots is read once; with ``live_only``
    the entries a snapshot marked deleted are left out.
    """
    executor = ExecutorFactory.get_or_create()
    chosen = list(snapshots)
    files = [TableFile(spelt(s.manifest_list, io), FileKind.MANIFEST_LIST) for s in chosen]
    manifests: dict[str, ManifestFile] = {}
    for listed in executor.map(lambda s: s.manifests(io), chosen):
        for manifest in listed:
            manifests.setdefault(manifest.manifest_path, manifest)
    files.extend(
        TableFile(spelt(m.manifest_path, io), FileKind.MANIFEST, m.manifest_length)
        for m in manifests.values()
    )

    def entries(manifest: ManifestFile) -> list[TableFile]:
        return [
            TableFile(
                spelt(entry.data_file.file_path, io),
                FileKind.DATA
                if entry.data_file.content == DataFileContent.DATA
                else FileKind.DELETE,
                entry.data_file.file_size_in_bytes,
            )
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=live_only)
        ]

    for found in executor.map(entries, manifests.values()):
        files.extend(found)
    return files


def _statistics(
    table: Table, snapshot_ids: set[int] | None, *, without: set[int] | None = None
) -> list[TableFile]:
    """The table and partition statistics files (of ``snapshot_ids`` only, if given).

    ``without``: leave out the table statistics of these snapshots, which
    PyIceberg's expiry removes with them (it keeps partition statistics).
    """
    metadata = table.metadata
    gone = without or set()
    table_stats = [s for s in metadata.statistics if s.snapshot_id not in gone]
    return [
        TableFile(spelt(s.statistics_path, table.io), FileKind.STATISTICS, s.file_size_in_bytes)
        for s in [*table_stats, *metadata.partition_statistics]
        if snapshot_ids is None or s.snapshot_id in snapshot_ids
    ]


def _stored(io: FileIO, location: str) -> list[StoredFile]:
    """Every file below ``location``, listed with the filesystem PyIceberg uses for it."""
    scheme, netloc, root = PyArrowFileIO.parse_location(location, io.properties)
    arrow_io = io if isinstance(io, PyArrowFileIO) else PyArrowFileIO(io.properties)
    fs = arrow_io.fs_by_scheme(scheme, netloc)
    root = root.rstrip("/")
    listed = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
    return sorted(
        (
            StoredFile(
                _uri(scheme, netloc, info.path),
                info.size or 0,
                None if info.mtime_ns is None else info.mtime_ns // 1_000_000,
            )
            for info in listed
            # A prefix listing must not reach a sibling ("t" vs "t2").
            if info.type == FileType.File and info.path.startswith(root + "/")
        ),
        key=lambda f: f.path,
    )


def _delete(io: FileIO, file: TableFile) -> int | str | None:
    """Delete one file: its bytes, ``None`` if it was already gone, else the error's name."""
    try:
        size = file.size_bytes if file.size_bytes is not None else len(io.new_input(file.path))
        io.delete(file.path)
    except FileNotFoundError:
        return None
    except Exception as exc:  # reported per file: the other deletions go on
        return type(exc).__name__
    return size
