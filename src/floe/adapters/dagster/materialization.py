"""What one materialization did, as Dagster metadata."""

from __future__ import annotations

import dagster as dg

from floe.domain.models import MaterializationMetadata
from floe.domain.schema import SchemaDescription


def to_dagster(report: MaterializationMetadata) -> dict[str, dg.MetadataValue]:
    """The metadata entries for ``context.add_output_metadata``."""
    table = str(report.table)
    entries: dict[str, dg.MetadataValue] = {
        "floe/table": dg.MetadataValue.text(table),
        "dagster/table_name": dg.MetadataValue.text(table),
        "dagster/row_count": dg.MetadataValue.int(report.row_count),
        "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(report.columns)),
        "floe/write_mode": dg.MetadataValue.text(report.write_mode.value),
        "floe/duration_ms": dg.MetadataValue.float(round(report.duration_ms, 3)),
        "floe/deduplicated": dg.MetadataValue.bool(report.deduplicated),
    }
    if report.snapshot_id is not None:
        entries["floe/snapshot_id"] = dg.MetadataValue.int(report.snapshot_id)
    if report.partition is not None:
        entries["floe/partition"] = dg.MetadataValue.text(report.partition)
    if report.location:
        entries["floe/location"] = dg.MetadataValue.path(report.location)
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
