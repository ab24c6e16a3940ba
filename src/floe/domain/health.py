"""How healthy a table's storage is: snapshots, file counts and sizes, small files."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from floe.domain.errors import InvalidConfigError
from floe.domain.identifiers import TableIdentifier
from floe.domain.table_files import FileKind, TableFile

#: The table property naming the data file size writers aim for.
TARGET_FILE_SIZE_PROPERTY = "write.target-file-size-bytes"
#: Iceberg's default for it: 512 MiB.
DEFAULT_TARGET_FILE_SIZE = 512 * 2**20


@attrs.frozen
class TableHealth:
    """The storage of a table's current snapshot, summed up.

    Unreferenced files (what expiry left behind, crashed writes) are not
    counted: ``remove_orphan_files(dry_run=True)`` lists them.

    Attributes:
        table: The table.
        snapshots: Snapshots the table keeps (every branch and tag).
        data_files: Data files of the current snapshot.
        data_bytes: Their bytes.
        delete_files: Delete files of the current snapshot (row-level
            deletes other writers made; floe writes none).
        delete_bytes: Their bytes.
        small_files: Data files under ``small_file_threshold_bytes``.
        small_file_threshold_bytes: The size under which a data file is small.
        manifests: Manifests of the current snapshot.
        manifest_bytes: Their bytes, with the manifest list's.
        metadata_bytes: The current metadata file's bytes (``0`` when the
            catalog keeps no such file, as the in-memory one).
    """

    table: TableIdentifier
    snapshots: int
    data_files: int
    data_bytes: int
    delete_files: int
    delete_bytes: int
    small_files: int
    small_file_threshold_bytes: int
    manifests: int
    manifest_bytes: int
    metadata_bytes: int

    @property
    def small_file_ratio(self) -> float:
        """The share of data files that are small (0.0 without data files)."""
        return self.small_files / self.data_files if self.data_files else 0.0

    @property
    def average_file_bytes(self) -> float:
        """The mean data file size (0.0 without data files)."""
        return self.data_bytes / self.data_files if self.data_files else 0.0


def small_file_threshold(properties: Mapping[str, str], small_file_bytes: int | None) -> int:
    """The size under which a data file is small.

    Args:
        properties: The table's properties.
        small_file_bytes: The caller's threshold; ``None`` takes a quarter of
            the table's ``write.target-file-size-bytes`` (Iceberg's 512 MiB
            when unset or unreadable).

    Raises:
        InvalidConfigError: ``small_file_bytes`` is not a positive integer.
    """
    if small_file_bytes is not None:
        if (
            isinstance(small_file_bytes, bool)
            or not isinstance(small_file_bytes, int)
            or small_file_bytes < 1
        ):
            raise InvalidConfigError(
                f"small_file_bytes must be a positive integer, got {small_file_bytes!r}",
                subject="small_file_bytes",
            )
        return small_file_bytes
    try:
        target = int(properties.get(TARGET_FILE_SIZE_PROPERTY, DEFAULT_TARGET_FILE_SIZE))
    except ValueError:
        target = DEFAULT_TARGET_FILE_SIZE
    return max(1, (target if target > 0 else DEFAULT_TARGET_FILE_SIZE) // 4)


def table_health(
    table: TableIdentifier, snapshots: int, current: Iterable[TableFile], threshold: int
) -> TableHealth:
    """Sum up the files of a table's current snapshot.

    Args:
        table: The table.
        snapshots: How many snapshots it keeps.
        current: The files its current snapshot references (data, delete,
            manifests, manifest list, the current metadata file).
        threshold: The size under which a data file is small.
    """
    files = list({f.path: f for f in current}.values())

    def sized(*kinds: FileKind) -> list[int]:
        return [f.size_bytes or 0 for f in files if f.kind in kinds]

    data = sized(FileKind.DATA)
    deletes = sized(FileKind.DELETE)
    return TableHealth(
        table=table,
        snapshots=snapshots,
        data_files=len(data),
        data_bytes=sum(data),
        delete_files=len(deletes),
        delete_bytes=sum(deletes),
        small_files=sum(1 for size in data if size < threshold),
        small_file_threshold_bytes=threshold,
        manifests=len(sized(FileKind.MANIFEST)),
        manifest_bytes=sum(sized(FileKind.MANIFEST, FileKind.MANIFEST_LIST)),
        metadata_bytes=sum(sized(FileKind.METADATA)),
    )
