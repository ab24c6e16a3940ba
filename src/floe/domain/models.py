"""Value objects returned by floe's use cases."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TypeAlias

import attrs

from floe.domain.errors import InvalidConfigError, InvalidScanError
from floe.domain.identifiers import Namespace, TableIdentifier
from floe.domain.table_files import FilesDeleted, TableFile


def _frozen_mapping(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return dict(value or {})


def _sorted_names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(value))


class WriteMode(enum.StrEnum):
    """How a write combines with the rows already in the table."""

    APPEND = "append"
    OVERWRITE = "overwrite"
    UPSERT = "upsert"


@attrs.frozen
class NamespaceInfo:
    """A namespace and its properties."""

    namespace: Namespace
    properties: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)


@attrs.frozen
class SnapshotInfo:
    """One snapshot of a table.

    Attributes:
        snapshot_id: The snapshot id.
        parent_id: The previous snapshot's id, ``None`` for the first.
        timestamp_ms: Commit time, milliseconds since the epoch (UTC).
        operation: ``append``, ``overwrite``, ``delete`` or ``replace``.
        summary: The snapshot summary (counts and writer properties).
        refs: The branches and tags whose head is this snapshot, sorted
            (``main`` for the current snapshot). A snapshot a ref points at
            is never expired. Not compared: refs move, the snapshot stays
            the same snapshot.
    """

    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    operation: str
    summary: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    refs: tuple[str, ...] = attrs.field(default=(), converter=_sorted_names, eq=False)

    @property
    def committed_at(self) -> datetime:
        """The commit time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)


def _frozen_partition(value: Mapping[str, str | None] | None) -> Mapping[str, str | None]:
    return dict(value or {})


@attrs.frozen
class DataFileInfo:
    """One data file of a table's current snapshot.

    Attributes:
        path: The file's location.
        partition: Partition field → human-readable value (``{"ts_day": "2024-05-01"}``).
        record_count: Rows in the file.
        size_bytes: File size.
    """

    path: str
    partition: Mapping[str, str | None] = attrs.field(converter=_frozen_partition)
    record_count: int
    size_bytes: int


@attrs.frozen
class PartitionStats:
    """The data files of one partition of a table's current snapshot, summed up."""

    partition: Mapping[str, str | None] = attrs.field(converter=_frozen_partition)
    record_count: int
    file_count: int
    size_bytes: int


def partition_stats(files: list[DataFileInfo]) -> list[PartitionStats]:
    """Sum data files up by partition, sorted by partition values."""
    groups: dict[tuple[tuple[str, str | None], ...], list[DataFileInfo]] = {}
    for f in files:
        groups.setdefault(tuple(f.partition.items()), []).append(f)
    return [
        PartitionStats(
            dict(key),
            sum(f.record_count for f in group),
            len(group),
            sum(f.size_bytes for f in group),
        )
        for key, group in sorted(groups.items(), key=lambda kv: [str(v) for _, v in kv[0]])
    ]


@attrs.frozen
class ExpireResult:
    """What a snapshot expiry did.

    Attributes:
        table: The table.
        expired_snapshot_ids: The snapshots expired, oldest first.
        retained_snapshot_ids: Every snapshot the table still has.
        protected_snapshot_ids: The snapshots the retention policy would
            have expired but a branch or tag points at, so they were kept
            (also listed in ``retained_snapshot_ids``), oldest first.
        deleted_files: The files the expiry deleted because no snapshot
            left references them (data, delete and manifest files, manifest
            lists, statistics), by kind, and any it could not delete;
            empty when called with ``delete_files=False`` and in a dry run.
        dry_run: Nothing was changed: the snapshot ids and
            ``unreferenced_files`` say what a run would expire and delete.
        unreferenced_files: The files no snapshot left references any more,
            in path order: those the expiry deleted (or tried to), or in a
            dry run those it would delete; empty with ``delete_files=False``.
    """

    table: TableIdentifier
    expired_snapshot_ids: tuple[int, ...]
    retained_snapshot_ids: tuple[int, ...]
    protected_snapshot_ids: tuple[int, ...] = ()
    deleted_files: FilesDeleted = attrs.field(factory=FilesDeleted)
    dry_run: bool = False
    unreferenced_files: tuple[TableFile, ...] = ()

    @property
    def unreferenced_bytes(self) -> int:
        """Bytes of ``unreferenced_files`` whose size the metadata records.

        Manifest lists' sizes are not recorded in Iceberg metadata: they
        count as 0 here (a deleting run counts them in ``deleted_files``).
        """
        return sum(f.size_bytes or 0 for f in self.unreferenced_files)


def _non_negative_or_none(
    _: object, attribute: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidScanError(f"{attribute.name} must be a non-negative integer, got {value!r}")


def _aware(_: object, attribute: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise InvalidScanError(f"{attribute.name} must be a timezone-aware datetime, got {value!r}")


def _ref_name_or_none(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        from floe.domain.refs import check_ref_name  # refs builds on this module's values

        check_ref_name(value)


def _columns(value: Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise InvalidScanError(f"columns must be a list of names, got the string {value!r}")
    try:
        columns = tuple(value)
    except TypeError:
        raise InvalidScanError(f"columns must be a list of names, got {value!r}") from None
    if not all(isinstance(c, str) for c in columns):
        raise InvalidScanError(f"columns must be names (strings), got {columns!r}")
    return columns


#: A row filter: Iceberg filter text, or an expression object an adapter
#: understands (a PyIceberg ``BooleanExpression``). The domain does not look
#: inside; the application checks the kind, the adapters parse and bind it.
RowFilter: TypeAlias = "str | object"


@attrs.frozen
class ScanOptions:
    """What to read from a table.

    Attributes:
        columns: Columns to return (projection), ``None`` for all.
        row_filter: A row filter in Iceberg's expression syntax, e.g.
            ``"ts >= '2024-01-01T00:00:00' and region = 'eu'"``, or a PyIceberg
            ``BooleanExpression`` (see :data:`RowFilter`).
        snapshot_id: Read this snapshot instead of the current one.
        as_of: Read the snapshot current at this time (on ``ref``'s history
            when both are given).
        limit: Return at most this many rows.
        ref: Read the head of this branch or tag instead of ``main``'s.
    """

    columns: tuple[str, ...] | None = attrs.field(default=None, converter=_columns)
    row_filter: RowFilter | None = None
    snapshot_id: int | None = attrs.field(default=None, validator=_non_negative_or_none)
    as_of: datetime | None = attrs.field(default=None, validator=_aware)
    limit: int | None = attrs.field(default=None, validator=_non_negative_or_none)
    ref: str | None = attrs.field(default=None, validator=_ref_name_or_none)

    def __attrs_post_init__(self) -> None:
        if self.snapshot_id is not None and self.as_of is not None:
            raise InvalidScanError("give either snapshot_id or as_of, not both")
        if self.snapshot_id is not None and self.ref is not None:
            raise InvalidScanError(
                "give either snapshot_id or ref, not both (a ref names a snapshot)"
            )


@attrs.frozen
class RetentionPolicy:
    """Which snapshots to keep.

    Attributes:
        max_age_ms: Snapshots younger than this are kept; ``None`` means age
            alone keeps nothing.
        retain_last: The newest snapshots always kept (at least 1).
    """

    max_age_ms: int | None = None
    retain_last: int = 1

    def __attrs_post_init__(self) -> None:
        if (
            isinstance(self.retain_last, bool)
            or not isinstance(self.retain_last, int)
            or (self.retain_last < 1)
        ):
            raise InvalidConfigError(
                f"retain_last must be an integer >= 1, got {self.retain_last!r}",
                subject="retain_last",
            )
        if self.max_age_ms is not None and (
            isinstance(self.max_age_ms, bool)
            or not isinstance(self.max_age_ms, int)
            or self.max_age_ms < 0
        ):
            raise InvalidConfigError(
                f"max_age_ms must be a non-negative integer, got {self.max_age_ms!r}",
                subject="max_age_ms",
            )
