"""PyIceberg tables handed to DuckDB: its iceberg extension reads the snapshot floe loaded.

floe loads the table through its catalog session (token, retries, errors),
checks the options as a scan does, and gives DuckDB what it needs to read
the data itself: the metadata file of the loaded table, the snapshot, the
projected columns, the filter as SQL and, for S3 storage, the settings the
table's FileIO uses. DuckDB's ``iceberg_scan`` applies deletes and schema
evolution and prunes data files by partition values and column statistics.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pyiceberg.expressions import AlwaysTrue

from floe.adapters.duckdb_sql import (
    add_s3_secret,
    filter_sql,
    open_connection,
    relation_errors,
    sql_name,
    sql_string,
)
from floe.adapters.iceberg import reads
from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.iceberg.errors import translated
from floe.domain.errors import InvalidScanError, ScanError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions
from floe.ports.engines import DuckDBPort


class IcebergDuckDB(DuckDBPort):
    """DuckDB relations over tables of a PyIceberg catalog.

    Args:
        backend: The catalog and guard shared with the other ports.
    """

    def __init__(self, backend: IcebergBackend) -> None:
        self._backend = backend

    def duckdb_relation(
        self, identifier: TableIdentifier, options: ScanOptions, connection: Any | None
    ) -> Any:
        name = str(identifier)
        if options.limit is not None:
            raise InvalidScanError(
                "a DuckDB relation takes no limit: apply .limit() to it", subject=name
            )

        def call() -> reads.ScanPlan:
            return reads.plan(
                lambda: self._backend.catalog.load_table(identifier.parts), name, options
            )

        table, schema, bound, columns, snapshot_id = self._backend.guard.run(
            "hand table to duckdb", name, call, fallback=ScanError
        )
        snapshot = (
            snapshot_id
            if snapshot_id is not None
            else getattr(table.current_snapshot(), "snapshot_id", None)
        )
        with translated("hand table to duckdb", name, fallback=ScanError), relation_errors(name):
            location = table.metadata_location
            s3 = urlsplit(location).scheme in ("s3", "s3a", "s3n")
            duck = open_connection(connection, ["avro", "iceberg", *(["httpfs"] if s3 else [])])
            if s3:
                bucket = urlsplit(location).netloc
                add_s3_secret(duck, table.io.properties, f"{urlsplit(location).scheme}://{bucket}/")
            selected = ", ".join(sql_name(c) for c in columns)
            if snapshot is None:  # no data yet: the empty projection
                empty = reads.projected_schema(schema, columns).empty_table()
                return duck.from_arrow(empty)
            source = f"iceberg_scan({sql_string(location)}, snapshot_from_id => {int(snapshot)})"
            # Names are quoted and values rendered as literals by sql_name/sql_string.
            query = f"SELECT {selected} FROM {source}"  # nosec B608
            if not isinstance(bound, AlwaysTrue):
                query += f" WHERE {filter_sql(bound, schema)}"
            return duck.sql(query)
