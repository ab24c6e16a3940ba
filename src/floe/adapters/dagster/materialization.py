"""What one materialization did, as Dagster metadata."""

from __future__ import annotations

import attrs
import dagster as dg
import pyarrow as pa


@attrs.frozen
class MaterializationMetadata:
    """The facts a materialization reports.

    Attributes:
        table: The table written, ``"ns.table"``.
        snapshot_id: The snapshot holding the write (``None`` if nothing was
            ever committed, e.g. an empty first output).
        row_count: Rows the step wrote.
        schema: The table's Arrow schema after the write.
        write_mode: The mode applied (``append``, ``overwrite``, ``upsert``).
        duration_ms: Time spent writing.
        partition: The partition key(s), ``None`` when unpartitioned.
        deduplicated: The write was skipped because an earlier attempt of the
            same step committed it.
        location: Where the table's files live.
    """

    table: str
    snapshot_id: int | None
    row_count: int
    schema: pa.Schema
    write_mode: str
    duration_ms: float
    partition: str | None = None
    deduplicated: bool = False
    location: str = ""

    def to_dagster(self) -> dict[str, dg.MetadataValue]:
        """The metadata entries for ``context.add_output_metadata``."""
        entries: dict[str, dg.MetadataValue] = {
            "floe/table": dg.MetadataValue.text(self.table),
            "dagster/table_name": dg.MetadataValue.text(self.table),
            "dagster/row_count": dg.MetadataValue.int(self.row_count),
            "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(self.schema)),
            "floe/write_mode": dg.MetadataValue.text(self.write_mode),
            "floe/duration_ms": dg.MetadataValue.float(round(self.duration_ms, 3)),
            "floe/deduplicated": dg.MetadataValue.bool(self.deduplicated),
        }
        if self.snapshot_id is not None:
            entries["floe/snapshot_id"] = dg.MetadataValue.int(self.snapshot_id)
        if self.partition is not None:
            entries["floe/partition"] = dg.MetadataValue.text(self.partition)
        if self.location:
            entries["floe/location"] = dg.MetadataValue.path(self.location)
        return entries


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """A Dagster table schema from an Arrow schema (type names as Arrow prints them)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=field.name,
                type=str(field.type),
                constraints=dg.TableColumnConstraints(nullable=field.nullable),
            )
            for field in schema
        ]
    )
