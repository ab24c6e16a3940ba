"""The table store port: data in and out of tables, snapshots, expiry."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence

import attrs
import pyarrow as pa

from floe.domain.compaction import CompactionBin, CompactionCandidate
from floe.domain.errors import WriteError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import DataFileInfo, RowFilter, ScanOptions, SnapshotInfo, WriteMode
from floe.domain.partitioning import PartitionTransform
from floe.domain.refs import Ref, RefKind, RefRetention
from floe.ports.catalog import TableInfo


@attrs.frozen
class WriteResult:
    """What one committed write did.

    Attributes:
        table: The table written.
        mode: The write mode.
        snapshot_id: The snapshot the write committed, ``None`` if nothing
            was committed (an empty input or a no-op upsert).
        rows_written: Rows in the input.
        rows_added: Rows added by the commit.
        rows_deleted: Rows removed by the commit.
        schema_change: Human-readable schema change, empty if none.
        snapshot: The committed snapshot (its summary holds ``total-records``),
            ``None`` when nothing was committed or the adapter does not say.
        table_info: The table as the commit left it (schema after evolution,
            location, current snapshot), known without asking the catalog
            again; ``None`` when nothing was committed or the adapter does not
            say. Neither takes part in equality.
    """

    table: TableIdentifier
    mode: WriteMode
    snapshot_id: int | None
    rows_written: int
    rows_added: int = 0
    rows_deleted: int = 0
    schema_change: str = ""
    snapshot: SnapshotInfo | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)
    table_info: TableInfo | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen
class CompactionInput:
    """The live data files a compaction may rewrite, and the snapshot they were read from.

    Attributes:
        snapshot_id: The current snapshot they belong to (``None``: no snapshot).
        files: The data files (of the files a filter may match, when given).
    """

    snapshot_id: int | None
    files: tuple[CompactionCandidate, ...] = ()


@attrs.frozen
class RewriteOutcome:
    """What a committed rewrite wrote.

    Attributes:
        snapshot_id: The ``replace`` snapshot committed.
        outputs: For each bin, in order, the files and bytes written in its place.
    """

    snapshot_id: int
    outputs: tuple[tuple[int, int], ...]


@attrs.frozen
class ManifestRewrite:
    """What a manifest rewrite committed.

    Attributes:
        snapshot_id: The ``replace`` snapshot, ``None`` when nothing was rewritten.
        manifests_before: Manifests of the current snapshot before.
        manifests_after: Manifests of the current snapshot after.
    """

    snapshot_id: int | None
    manifests_before: int
    manifests_after: int


class TableStorePort(abc.ABC):
    """Reads and writes of table data, with Arrow as the data currency.

    Writes receive data already conformed by the application to the target
    schema: the table's columns (in its order, with its types) plus any
    columns being added. A write given ``loaded`` (a :class:`TableInfo` this
    adapter's catalog returned) may start from the table it describes
    instead of loading the table again; a retried attempt loads it afresh,
    and a stale one is refused by the commit's checks and retried, never
    written over. Each write is one atomic commit: when
    ``evolve_schema`` is given, the schema change and the data land in the
    same commit, and so do ``add_partition_fields`` (partition spec
    evolution: new fields apply to new data files); on any failure the table
    is unchanged. A write given ``branch`` (an existing branch other than
    ``main``; ``None`` or ``"main"`` is ``main``) reads and commits on that
    branch's head only: ``main`` and every other ref stay where they were,
    and conflicts are judged against the branch's own history. No method
    raises anything but :class:`floe.domain.errors.FloeStorageError` subclasses.
    """

    @abc.abstractmethod
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
        """Add rows in one commit.

        Raises:
            TableNotFoundError: The table does not exist.
            RefNotFoundError: ``branch`` is not a branch of the table.
            InvalidRefError: ``branch`` is a tag (tags never move).
            CommitConflictError: Concurrent commits kept conflicting.
            CommitStateUnknownError: The commit's outcome is unknown.
            WriteError: Anything else went wrong; the table is unchanged.
        """

    @abc.abstractmethod
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
        """Add a stream of rows in ONE commit (one snapshot), in bounded memory.

        ``batches`` all have ``schema`` (the target schema, as for
        :meth:`append`) and are read once, in order. About ``chunk_bytes`` of
        Arrow data is buffered at a time and written out as data files before
        more is read; every file is added by a single commit at the end. A
        stream without rows commits nothing unless the schema or the spec
        changes. If the stream, a write or the commit fails, nothing is
        committed and the files already written are deleted (best effort;
        what cannot be deleted is an orphan for orphan-file maintenance). The
        stream cannot be replayed, so the write is never retried.

        Raises:
            As :meth:`append`; an error the stream raises propagates unchanged
            (the application hands in streams that raise floe errors only).
        """

    @abc.abstractmethod
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
        """Replace the rows matching ``row_filter`` (all rows if ``None``) with ``data``.

        Raises:
            InvalidFilterError: The filter is malformed or names an unknown column.
            TableNotFoundError, CommitConflictError, CommitStateUnknownError,
            WriteError: As :meth:`append`.
        """

    @abc.abstractmethod
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
        """Update rows matching ``data`` on ``join_columns`` and insert the rest.

        ``data`` must not hold two rows with the same join key
        (:func:`check_upsert_keys`). A write that changes nothing
        commits nothing (``snapshot_id`` ``None``).

        Raises:
            WriteError: Duplicate join keys in ``data``, or as :meth:`append`.
        """

    @abc.abstractmethod
    def delete(
        self,
        identifier: TableIdentifier,
        row_filter: RowFilter,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
        loaded: TableInfo | None = None,
        branch: str | None = None,
    ) -> WriteResult:
        """Delete the rows ``row_filter`` selects, in one commit.

        Files whose rows all match are dropped whole; files holding some
        matching rows are rewritten without them; every other file stays.
        One ``overwrite`` snapshot (an overwrite that adds no rows, as
        Iceberg's row-level deletes are); a filter that matches no row
        commits nothing (``snapshot_id`` ``None``). The result's ``mode`` is
        ``overwrite`` and ``rows_deleted`` counts the rows removed.

        Raises:
            InvalidFilterError: The filter is malformed or names an unknown column.
            TableNotFoundError, CommitConflictError, CommitStateUnknownError,
            WriteError: As :meth:`append`; a concurrent commit that added
            rows the filter selects, or removed a file this one rewrites, is
            a conflict, never a lost write.
        """

    @abc.abstractmethod
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
        """Create a table and append its first rows in ONE commit.

        Either both happen or neither: a failure leaves no table behind.
        ``data`` already has ``schema``; the spec is already validated.

        Raises:
            TableExistsError: The table exists (e.g. created concurrently).
            NamespaceNotFoundError: The namespace does not exist.
            CommitStateUnknownError, WriteError: As :meth:`append`.
        """

    @abc.abstractmethod
    def scan(self, identifier: TableIdentifier, options: ScanOptions) -> pa.Table:
        """Read rows.

        Raises:
            TableNotFoundError: The table does not exist.
            InvalidFilterError: The filter is malformed or names an unknown column.
            InvalidScanError: A projected column does not exist.
            SnapshotNotFoundError: No such snapshot, or none at that time.
            ScanError: Reading failed.
        """

    @abc.abstractmethod
    def scan_batches(
        self, identifier: TableIdentifier, options: ScanOptions
    ) -> pa.RecordBatchReader:
        """Read rows as a stream of record batches (same contract as :meth:`scan`)."""

    @abc.abstractmethod
    def inspect_files(self, identifier: TableIdentifier) -> list[DataFileInfo]:
        """The data files of the current snapshot, with partition values and counts.

        Raises:
            TableNotFoundError: The table does not exist.
        """

    @abc.abstractmethod
    def list_snapshots(self, identifier: TableIdentifier) -> list[SnapshotInfo]:
        """List the table's snapshots, oldest first.

        Each carries the names of the branches and tags whose head it is
        (``main`` for the current snapshot).

        Raises:
            TableNotFoundError: The table does not exist.
        """

    @abc.abstractmethod
    def expire_snapshots(
        self, identifier: TableIdentifier, snapshot_ids: Sequence[int]
    ) -> tuple[int, ...]:
        """Remove the given snapshots in one commit (none: no commit).

        Returns:
            The ids expired.

        Raises:
            TableNotFoundError: The table does not exist.
            SnapshotNotFoundError: An id is not a snapshot of the table.
            CommitStateUnknownError: The commit was sent but its answer was
                lost; it may or may not have been applied.
            WriteError: An id is the current snapshot or the head of a branch
                or tag (nothing expired), or the commit failed.
        """

    # -- branches and tags ---------------------------------------------------

    @abc.abstractmethod
    def list_refs(self, identifier: TableIdentifier) -> list[Ref]:
        """The table's branches and tags, ``main`` first (when the table has a snapshot).

        Raises:
            TableNotFoundError: The table does not exist.
        """

    @abc.abstractmethod
    def create_ref(
        self,
        identifier: TableIdentifier,
        name: str,
        kind: RefKind,
        snapshot_id: int | None,
        retention: RefRetention,
    ) -> Ref:
        """Create a branch or tag at ``snapshot_id`` (``None``: ``main``'s head), one commit.

        Raises:
            TableNotFoundError: The table does not exist.
            RefExistsError: A ref of that name exists (``main`` always does).
            SnapshotNotFoundError: No such snapshot, or the table has none yet.
            CommitStateUnknownError, WriteError: As :meth:`append`.
        """

    @abc.abstractmethod
    def drop_ref(self, identifier: TableIdentifier, name: str, kind: RefKind) -> None:
        """Remove a branch or tag (never ``main``); its snapshots stay until expired.

        Raises:
            TableNotFoundError: The table does not exist.
            RefNotFoundError: The table has no ref of that name and kind.
            CommitStateUnknownError, WriteError: As :meth:`append`.
        """

    @abc.abstractmethod
    def set_branch(
        self,
        identifier: TableIdentifier,
        branch: str,
        snapshot_id: int,
        *,
        expected_id: int | None,
    ) -> None:
        """Point a branch (``main`` included) at a snapshot, if it is still at ``expected_id``.

        A compare-and-swap: the commit asserts the branch head the catalog
        holds, so a branch that moved meanwhile is left as it is.

        Raises:
            TableNotFoundError: The table does not exist.
            RefNotFoundError: ``branch`` is not a branch of the table (``main``
                of a table without a snapshot is one).
            SnapshotNotFoundError: No such snapshot.
            CommitConflictError: The branch is no longer at ``expected_id``;
                nothing changed.
            CommitStateUnknownError, WriteError: As :meth:`append`.
        """

    @abc.abstractmethod
    def cherry_pick_appends(
        self,
        identifier: TableIdentifier,
        snapshot_ids: Sequence[int],
        *,
        onto: str,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Re-commit the files the given ``append`` snapshots added onto a branch, in ONE commit.

        The files are not copied: the new snapshot references them as the
        source snapshots do (Iceberg's cherry-pick of appends). Concurrent
        commits to ``onto`` are kept (appends never conflict).

        Raises:
            TableNotFoundError: The table does not exist.
            SnapshotNotFoundError: An id is not a snapshot of the table.
            RefNotFoundError, InvalidRefError: As :meth:`append` for ``onto``.
            WriteError: A snapshot is not an ``append``, or its files were
                written under an older partition spec; nothing committed.
            CommitConflictError, CommitStateUnknownError: As :meth:`append`.
        """

    @abc.abstractmethod
    def compaction_candidates(
        self, identifier: TableIdentifier, row_filter: RowFilter | None
    ) -> CompactionInput:
        """The live data files of the current snapshot, for compaction planning.

        With ``row_filter``, only the files that may hold rows it selects (by
        partition values and column statistics; the in-memory adapter by
        the rows themselves).

        Raises:
            TableNotFoundError: The table does not exist.
            InvalidFilterError: The filter is malformed or names an unknown column.
        """

    @abc.abstractmethod
    def rewrite_data_files(
        self,
        identifier: TableIdentifier,
        bins: Sequence[CompactionBin],
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> RewriteOutcome:
        """Rewrite each bin's files into one new file, in ONE ``replace`` snapshot.

        The new files are written under the table's current schema and
        spec: a bin of files written under an older spec becomes one file
        per partition of the current spec.

        No row changes: readers, time travel and ``total-records`` see the
        same rows. Files are read and written a few bins at a time (two in
        the Iceberg adapter), so memory holds about that many bins' rows. The
        commit checks only that the replaced files are still live: files
        other writers added meanwhile are kept (the commit is re-applied on
        the fresher table). When a replaced file was removed meanwhile (an
        overwrite, a delete, another compaction), nothing is committed and
        the files written are deleted.

        Raises:
            TableNotFoundError: The table does not exist.
            CommitConflictError: A file of a bin is no longer live, or row-level
                deletes were added for one; the table is unchanged.
            CommitStateUnknownError: The commit's outcome is unknown.
            WriteError: Anything else went wrong; the table is unchanged.
        """

    @abc.abstractmethod
    def rewrite_manifests(self, identifier: TableIdentifier) -> ManifestRewrite:
        """Rewrite the current snapshot's data manifests into one per partition spec.

        One ``replace`` snapshot listing the same live files (entries only
        marking files deleted are dropped); nothing is committed when the
        snapshot has at most one manifest. Re-applied on the fresher table
        when another commit lands meanwhile.

        Raises:
            TableNotFoundError: The table does not exist.
            CommitStateUnknownError, WriteError: As :meth:`append`.
        """


def check_upsert_keys(data: pa.Table, join_columns: Sequence[str], table: str) -> None:
    """Refuse upsert keys that are null or repeated: the one check of every upsert path.

    A null key matches no row (as in SQL's ``MERGE``), so such a row would be
    inserted again by every upsert that carries it: floe refuses it instead of
    letting duplicates grow. Keys are then compared as Arrow groups them: two
    NaNs in a floating-point column are equal, ``0.0`` and ``-0.0`` differ.

    Args:
        data: The incoming rows.
        join_columns: The join key's columns, all in ``data``.
        table: The table written to, for the message.

    Raises:
        WriteError: A join column holds nulls, two rows share a key, or a join
            column has a type whose values cannot be grouped (a struct, list or
            map); nothing was written.
    """
    columns = list(join_columns)
    keys = data.select(columns)
    nulls = {name: keys.column(name).null_count for name in columns}
    holding = {name: count for name, count in nulls.items() if count}
    if holding:
        counted = ", ".join(f"{name!r} ({count})" for name, count in holding.items())
        raise WriteError(
            f"upsert into table {table}: join columns hold null values: {counted}; a null "
            "key matches no row, so fill or drop those rows; nothing was written",
            subject=table,
        )
    try:
        distinct = keys.group_by(columns).aggregate([]).num_rows
    except pa.ArrowNotImplementedError as exc:
        raise WriteError(
            f"upsert into table {table}: join columns {columns} cannot be compared "
            f"({exc}); nothing was written",
            subject=table,
        ) from exc
    if distinct != keys.num_rows:
        raise WriteError(
            f"upsert into table {table}: the data holds duplicate rows for join columns "
            f"{columns}; nothing was written",
            subject=table,
        )
