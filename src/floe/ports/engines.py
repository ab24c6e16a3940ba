"""Hand-offs of a table's rows to query engines that read the data themselves."""

from __future__ import annotations

import abc
from typing import Any

from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions


class DuckDBPort(abc.ABC):
    """A table's rows as a DuckDB relation, read when the relation is executed.

    The relation selects exactly the rows :meth:`TableStorePort.scan` returns
    for the same options (columns in the order asked for, the same filter,
    the same snapshot; no limit), in DuckDB's types. Nothing is read when it
    is made beyond the table's metadata.
    """

    @abc.abstractmethod
    def duckdb_relation(
        self, identifier: TableIdentifier, options: ScanOptions, connection: Any | None
    ) -> Any:
        """A ``duckdb.DuckDBPyRelation`` of the rows ``options`` select.

        Args:
            identifier: The table.
            options: Columns, filter and snapshot (``as_of`` resolved, no limit).
            connection: The DuckDB connection to build it on; ``None`` for a
                new in-memory one.

        Raises:
            MissingExtraError: DuckDB or its extensions are not installed.
            TableNotFoundError, InvalidFilterError, InvalidScanError,
            SnapshotNotFoundError, ScanError: As :meth:`TableStorePort.scan`.
        """
