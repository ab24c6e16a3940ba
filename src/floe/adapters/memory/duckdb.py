"""In-memory tables handed to DuckDB: a relation over the rows a scan selects.

The in-memory catalog has no files for DuckDB to read, so the relation is
made over the Arrow rows the store's own scan returns (filter, projection
and snapshot applied by the same rules), which keeps the port's contract:
the same rows as a scan, read by DuckDB when the relation runs.
"""

from __future__ import annotations

from typing import Any

from floe.domain.errors import InvalidScanError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions
from floe.ports.engines import DuckDBPort
from floe.ports.table_store import TableStorePort


class MemoryDuckDB(DuckDBPort):
    """DuckDB relations over in-memory tables.

    Args:
        store: The in-memory table store whose scans the relations hold.
    """

    def __init__(self, store: TableStorePort) -> None:
        self._store = store

    def duckdb_relation(
        self, identifier: TableIdentifier, options: ScanOptions, connection: Any | None
    ) -> Any:
        if options.limit is not None:
            raise InvalidScanError(
                "a DuckDB relation takes no limit: apply .limit() to it", subject=str(identifier)
            )
        # Imported here: building floe over memory loads no PyIceberg (the
        # shared module translates filters with it).
        from floe.adapters.duckdb_sql import open_connection, relation_errors

        rows = self._store.scan(identifier, options)
        with relation_errors(str(identifier)):
            return open_connection(connection, []).from_arrow(rows)
