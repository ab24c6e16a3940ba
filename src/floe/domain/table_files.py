"""A table's files in storage: what its metadata names, what storage holds, what may go.

An Iceberg table is a tree of files: the current metadata file (and the
previous ones its metadata log keeps) names snapshots; each snapshot names a
manifest list, which names manifests, which name data and delete files;
statistics files hang off the metadata too. A file is *referenced* when the
table's current metadata reaches it (for data and delete files: as a live
entry of a manifest of some snapshot). Maintenance deletes only what is not
referenced; the rules choosing it live here, pure.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import timedelta

import attrs

from floe.domain.errors import InvalidConfigError
from floe.domain.identifiers import TableIdentifier

#: Iceberg's default age beyond which an unreferenced file counts as an orphan.
DEFAULT_ORPHAN_AGE = timedelta(days=3)
#: The shortest orphan age floe accepts for a deleting run unless told it is safe:
#: a write in progress has files on storage that no metadata names yet.
MIN_ORPHAN_AGE = timedelta(days=1)


class FileKind(enum.StrEnum):
    """What a table file is."""

    DATA = "data"
    #: Position or equality delete files (row-level deletes of other writers).
    DELETE = "delete"
    MANIFEST = "manifest"
    MANIFEST_LIST = "manifest-list"
    #: Table and partition statistics files.
    STATISTICS = "statistics"
    #: Table metadata files (``*.metadata.json``).
    METADATA = "metadata"
    #: A file in the table's location that no metadata names (orphan-file removal).
    ORPHAN = "orphan"


@attrs.frozen
class TableFile:
    """A file the table's metadata names, or an orphan about to be deleted.

    Attributes:
        path: Its location, as the table's adapter spells it.
        kind: What it is.
        size_bytes: Its size when the metadata (or a listing) says, else ``None``.
    """

    path: str
    kind: FileKind
    size_bytes: int | None = None


@attrs.frozen
class StoredFile:
    """A file storage holds under a table's location.

    Attributes:
        path: Its location, spelt as :class:`TableFile` paths are.
        size_bytes: Its size.
        modified_ms: When it was last written, milliseconds since the epoch;
            ``None`` when storage does not say (never taken for an orphan).
    """

    path: str
    size_bytes: int
    modified_ms: int | None


@attrs.frozen
class FileCount:
    """A number of files and their bytes."""

    files: int = 0
    size_bytes: int = 0

    def __add__(self, other: FileCount) -> FileCount:
        return FileCount(self.files + other.files, self.size_bytes + other.size_bytes)


def _sorted_paths(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(value))


def _counts(value: Mapping[FileKind, FileCount] | None) -> Mapping[FileKind, FileCount]:
    return {FileKind(k): v for k, v in sorted((value or {}).items()) if v.files}


@attrs.frozen
class FilesDeleted:
    """The files a maintenance operation deleted from storage.

    Attributes:
        counts: Files and bytes deleted, by kind (kinds with none are absent).
            A file counts when storage accepted its deletion; a file already
            gone is not counted.
        failed_paths: Files that were to go but could not be deleted, sorted.
            Nothing references them: they are orphans, for
            ``remove_orphan_files``.
        skipped: Why nothing was deleted, e.g. the table could not be read
            again after the commit, so what it still references was unknown;
            empty when the deletion ran.
    """

    counts: Mapping[FileKind, FileCount] = attrs.field(factory=dict, converter=_counts)
    failed_paths: tuple[str, ...] = attrs.field(default=(), converter=_sorted_paths)
    skipped: str = ""

    @property
    def files(self) -> int:
        """Files deleted, of every kind."""
        return sum(c.files for c in self.counts.values())

    @property
    def size_bytes(self) -> int:
        """Bytes deleted, of every kind."""
        return sum(c.size_bytes for c in self.counts.values())

    def of(self, kind: FileKind) -> FileCount:
        """Files and bytes deleted of one kind."""
        return self.counts.get(kind, FileCount())


def unreferenced(
    candidates: Iterable[TableFile], referenced: Iterable[TableFile]
) -> tuple[TableFile, ...]:
    """The candidates the table no longer references, each path once, in path order.

    Args:
        candidates: Files that may have lost their last reference (those an
            expiry took the snapshots of).
        referenced: Every file the table's metadata references now.
    """
    keep = {f.path for f in referenced}
    chosen: dict[str, TableFile] = {}
    for file in candidates:
        if file.path not in keep:
            chosen.setdefault(file.path, file)
    return tuple(chosen[p] for p in sorted(chosen))


@attrs.frozen
class OrphanSearch:
    """Unreferenced files in a table's location, split by age.

    Attributes:
        orphans: Those older than the cutoff, path order.
        recent: How many are younger (perhaps a write in progress): left alone.
    """

    orphans: tuple[StoredFile, ...]
    recent: int


def find_orphans(
    stored: Iterable[StoredFile], referenced: Iterable[TableFile], cutoff_ms: int
) -> OrphanSearch:
    """The stored files no metadata references, last written at or before ``cutoff_ms``.

    Args:
        stored: What storage holds under the table's location (listed BEFORE
            ``referenced`` was read, so that a file committed in between is
            referenced, never taken for an orphan).
        referenced: Every file the table's metadata references.
        cutoff_ms: Files modified after this instant are kept, and those
            whose modification time is unknown.
    """
    keep = {f.path for f in referenced}
    loose = [f for f in stored if f.path not in keep]
    old = sorted(
        (f for f in loose if f.modified_ms is not None and f.modified_ms <= cutoff_ms),
        key=lambda f: f.path,
    )
    return OrphanSearch(tuple(old), len(loose) - len(old))


def orphan_age(older_than: timedelta, *, dry_run: bool, allow_short_window: bool) -> timedelta:
    """Check the age beyond which unreferenced files are orphans.

    A write in progress has files on storage that no metadata names until it
    commits; only their age tells them from orphans. A deleting run therefore
    refuses an age under :data:`MIN_ORPHAN_AGE` unless the caller says no
    write is running (``allow_short_window``). A dry run deletes nothing and
    takes any age.

    Raises:
        InvalidConfigError: Not a ``timedelta``, negative, or too short.
    """
    if not isinstance(older_than, timedelta):
        raise InvalidConfigError(
            f"older_than must be a datetime.timedelta, got {type(older_than).__name__}",
            subject="older_than",
        )
    if older_than < timedelta(0):
        raise InvalidConfigError(
            f"older_than must not be negative, got {older_than}", subject="older_than"
        )
    if older_than < MIN_ORPHAN_AGE and not (dry_run or allow_short_window):
        raise InvalidConfigError(
            f"older_than={older_than} is shorter than {MIN_ORPHAN_AGE}: the files of a "
            "write still in progress could be deleted and the table broken when it "
            "commits; pass allow_short_window=True only when no write is running",
            subject="older_than",
        )
    return older_than


@attrs.frozen
class OrphanFilesResult:
    """What an orphan-file removal found and deleted.

    Attributes:
        table: The table.
        older_than: The age beyond which an unreferenced file was an orphan.
        dry_run: Nothing was deleted, only found.
        orphan_paths: The orphans found, sorted (deleted unless ``dry_run``).
        orphan_bytes: Their bytes.
        deleted: What was deleted (all of kind ``orphan``; empty in a dry run).
        recent_files: Unreferenced files younger than ``older_than``, kept
            (perhaps a write in progress).
    """

    table: TableIdentifier
    older_than: timedelta
    dry_run: bool
    orphan_paths: tuple[str, ...]
    orphan_bytes: int
    deleted: FilesDeleted = attrs.field(factory=FilesDeleted)
    recent_files: int = 0
