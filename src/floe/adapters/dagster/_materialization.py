"""What one materialization did (:class:`MaterializationMetadata`), as Dagster metadata."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import dagster as dg

from floe.adapters.dagster._selection import PartitionSelection
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import SnapshotInfo, WriteMode
from floe.domain.schema import SchemaDescription
from floe.ports.catalog import TableInfo


@attrs.frozen
class MaterializationMetadata:
    """What one materialization (an asset output written) did, as :func:`to_dagster` reports it.

    Attributes:
        table: The table written.
        snapshot_id: The snapshot holding the write (``None`` if nothing was
            ever committed, e.g. an empty first output).
        row_count: Rows in the whole table after the write.
        rows_written: Rows the step wrote (the earlier attempt's rows when
            deduplicated).
        columns: The table's schema after the write.
        write_mode: The mode applied.
        duration_ms: Time spent writing.
        partition: The partition key(s), ``None`` when unpartitioned.
        partition_row_count: Rows in the written partition(s) after the
            write, ``None`` when unpartitioned.
        deduplicated: The write was skipped because an earlier attempt of the
            same step had committed it.
        location: Where the table's files live.
        catalog: The catalog's name (qualifies the table across catalogs).
        branch: The branch written, ``None`` for ``main``.
    """

    table: TableIdentifier
    snapshot_id: int | None
    row_count: int
    rows_written: int
    columns: SchemaDescription
    write_mode: WriteMode
    duration_ms: float
    partition: str | None = None
    partition_row_count: int | None = None
    deduplicated: bool = False
    location: str = ""
    catalog: str = ""
    branch: str | None = None


def to_dagster(report: MaterializationMetadata) -> dict[str, dg.MetadataValue]:
    """The metadata entries for ``context.add_output_metadata``.

    Dagster's table keys as its own integrations fill them:
    ``dagster/row_count`` is the table's rows after the write,
    ``dagster/partition_row_count`` the written partition's,
    ``dagster/table_name`` the table, ``dagster/relation_identifier`` the
    table qualified by its catalog, ``dagster/uri`` where its files live.
    The rows the step wrote are ``floe/rows_written``; a write to a branch
    names it in ``floe/branch`` (the row counts are then the branch's).
    """
    table = str(report.table)
    entries: dict[str, dg.MetadataValue] = {
        "floe/table": dg.MetadataValue.text(table),
        "dagster/table_name": dg.MetadataValue.text(table),
        "dagster/relation_identifier": dg.MetadataValue.text(
            f"{report.catalog}.{table}" if report.catalog else table
        ),
        "dagster/row_count": dg.MetadataValue.int(report.row_count),
        "floe/rows_written": dg.MetadataValue.int(report.rows_written),
        "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(report.columns)),
        "floe/write_mode": dg.MetadataValue.text(report.write_mode.value),
        "floe/duration_ms": dg.MetadataValue.float(round(report.duration_ms, 3)),
        "floe/deduplicated": dg.MetadataValue.bool(report.deduplicated),
    }
    if report.snapshot_id is not None:
        entries["floe/snapshot_id"] = dg.MetadataValue.int(report.snapshot_id)
    if report.partition is not None:
        entries["floe/partition"] = dg.MetadataValue.text(report.partition)
    if report.partition_row_count is not None:
        entries["dagster/partition_row_count"] = dg.MetadataValue.int(report.partition_row_count)
    if report.branch is not None:
        entries["floe/branch"] = dg.MetadataValue.text(report.branch)
    if report.location:
        entries["floe/location"] = dg.MetadataValue.path(report.location)
        entries["dagster/uri"] = dg.MetadataValue.text(report.location)
    return entries


def column_schema(columns: SchemaDescription) -> dg.TableSchema:
    """A Dagster table schema, with Iceberg type names (``long``, ``timestamp``…)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=column.name,
                type=column.detail or column.type.value,
                constraints=dg.TableColumnConstraints(nullable=not column.required),
            )
            for column in columns.columns
        ]
    )


def rows_after_write(
    mode: WriteMode,
    selection: PartitionSelection | None,
    committed: int | None,
    rows: int,
    before: TableInfo | None,
    history: Sequence[SnapshotInfo],
) -> int | None:
    """The table's rows after a write, when the write itself tells them (no extra load).

    A committed first write or overwrite of the whole table leaves exactly the
    rows written; a committed append adds them to the total of the snapshot
    it followed (from the history read to check the append); an append
    skipped as already written leaves that total. ``None`` otherwise.

    Args:
        mode: The mode applied.
        selection: The partitions written, ``None`` when unpartitioned.
        committed: The snapshot the write committed, ``None`` if none.
        rows: The rows written.
        before: The table before the write, ``None`` when the write created it.
        history: The table's snapshots before the write, as read to check an
            append (empty when not read).

    Returns:
        The row count, or ``None`` when only the table can tell.

    """
    replaced_all = mode is WriteMode.OVERWRITE and selection is None
    if committed is not None and (before is None or replaced_all):
        return rows
    if mode is not WriteMode.APPEND or before is None:
        return None
    previous = next((s for s in history if s.snapshot_id == before.current_snapshot_id), None)
    if before.current_snapshot_id is None:
        total = 0
    elif previous is not None and "total-records" in previous.summary:
        total = int(previous.summary["total-records"])
    else:
        return None
    return total + rows if committed is not None else total
