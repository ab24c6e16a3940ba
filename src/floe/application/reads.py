"""Read use cases: scans with projection, filter, time travel and limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
import pandas as pd
import pyarrow as pa

from floe.application.inputs import TableLike, as_identifier, check_filter_text
from floe.application.snapshots import SnapshotService
from floe.domain.errors import InvalidScanError, MissingExtraError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import RowFilter, ScanOptions
from floe.ports.engines import DuckDBPort, RayPort
from floe.ports.table_store import TableStorePort

if TYPE_CHECKING:
    import duckdb


class ReadService:
    """Read tables into PyArrow, pandas or a stream of record batches.

    Args:
        store: The table store port.
        snapshots: Resolves ``as_of`` times to snapshots.
        duckdb: Hands tables to DuckDB (``None``: :meth:`to_duckdb` is unavailable).
        ray: Hands tables to Ray Data (``None``: :meth:`to_ray` is unavailable).
    """

    def __init__(
        self,
        store: TableStorePort,
        snapshots: SnapshotService,
        *,
        duckdb: DuckDBPort | None = None,
        ray: RayPort | None = None,
    ) -> None:
        self._store = store
        self._snapshots = snapshots
        self._duckdb = duckdb
        self._ray = ray

    def scan(
        self,
        table: TableLike,
        *,
        columns: Sequence[str] | None = None,
        row_filter: RowFilter | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | None = None,
        limit: int | None = None,
        ref: str | None = None,
    ) -> pa.Table:
        """Read rows into a PyArrow table.

        Args:
            table: The table.
            columns: Columns to return, ``None`` for all; ``[]`` for none (the
                selected rows without columns: ``num_rows`` counts them).
            row_filter: Iceberg filter text, e.g. ``"region = 'eu' and amount > 10"``,
                or a PyIceberg ``BooleanExpression`` (``GreaterThan("amount", 10)``).
            snapshot_id: Read this snapshot.
            as_of: Read the snapshot current at this (aware) time; with
                ``ref``, the one the ref's history held then.
            limit: At most this many rows.
            ref: Read the head of this branch or tag (``"main"``: the current
                snapshot); not together with ``snapshot_id``.

        Raises:
            TableNotFoundError: The table does not exist.
            InvalidFilterError: A filter that is not text, is malformed or names
                an unknown column.
            InvalidScanError: Unknown projected column, or bad options.
            SnapshotNotFoundError: No such snapshot, or none at that time.
            RefNotFoundError: The table has no branch or tag ``ref``.
            InvalidRefError: ``ref`` is not a valid name.
            ScanError: Reading failed.
        """
        identifier, options = self._options(
            table, columns, row_filter, snapshot_id, as_of, limit, ref
        )
        return self._store.scan(identifier, options)

    def to_pandas(
        self,
        table: TableLike,
        *,
        columns: Sequence[str] | None = None,
        row_filter: RowFilter | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | None = None,
        limit: int | None = None,
        ref: str | None = None,
    ) -> pd.DataFrame:
        """Read rows into a pandas DataFrame (see :meth:`scan`)."""
        frame: pd.DataFrame = self.scan(
            table,
            columns=columns,
            row_filter=row_filter,
            snapshot_id=snapshot_id,
            as_of=as_of,
            limit=limit,
            ref=ref,
        ).to_pandas()
        return frame

    def batches(
        self,
        table: TableLike,
        *,
        columns: Sequence[str] | None = None,
        row_filter: RowFilter | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | None = None,
        limit: int | None = None,
        ref: str | None = None,
    ) -> pa.RecordBatchReader:
        """Read rows as a stream of record batches (see :meth:`scan`)."""
        identifier, options = self._options(
            table, columns, row_filter, snapshot_id, as_of, limit, ref
        )
        return self._store.scan_batches(identifier, options)

    def to_duckdb(
        self,
        table: TableLike,
        *,
        columns: Sequence[str] | None = None,
        row_filter: RowFilter | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | None = None,
        ref: str | None = None,
        connection: Any | None = None,
    ) -> duckdb.DuckDBPyRelation:
        """The rows :meth:`scan` would return, as a lazy DuckDB relation.

        DuckDB reads the data itself when the relation runs, configured from
        floe's catalog config: floe loads the table through its catalog
        session (token, retries) and hands DuckDB the snapshot's metadata
        file and, on S3, the storage settings the table is read with. The
        projection and the filter are part of the relation's query, so DuckDB
        reads only those columns and skips data files by partition values
        and statistics. Rows come in no particular order; DuckDB's types
        (e.g. ``VARCHAR``) stand for floe's. Needs ``floe[duckdb]``; the
        extensions load from their PyPI packages, offline.

        Args:
            table: The table.
            columns: Columns to return, ``None`` for all (at least one: a
                relation has columns).
            row_filter: As for :meth:`scan`.
            snapshot_id: Read this snapshot.
            as_of: Read the snapshot current at this (aware) time.
            ref: Read this branch or tag (with ``as_of``: in its history).
            connection: The ``duckdb`` connection to build the relation on
                (``None``: a new in-memory one); floe loads the extensions it
                needs into it and adds a temporary S3 secret for the table.

        Returns:
            A ``duckdb.DuckDBPyRelation``; ``.aggregate``, ``.filter``,
            ``.limit``, ``.arrow()`` or SQL over it run in DuckDB. Failures
            while it runs (a data file gone, storage refusing a read,
            credentials expired meanwhile) are DuckDB's own exceptions
            (``duckdb.IOException``, ``duckdb.HTTPException``, all
            ``duckdb.Error``) naming the file, which lies under the table's
            location: floe hands the relation over and is not there when it
            runs.

        Raises:
            MissingExtraError: DuckDB or its extensions are not installed.
            InvalidScanError: ``columns=[]``, or as :meth:`scan`.
            ScanError: DuckDB failed to make the relation (the connection is
                closed, the table's metadata cannot be read: storage refused,
                a file is missing); the message names the table.
            TableNotFoundError, InvalidFilterError,
            SnapshotNotFoundError: As :meth:`scan`.
        """
        identifier, options = self._options(
            table, columns, row_filter, snapshot_id, as_of, None, ref
        )
        _needs_a_column(identifier, options, "a DuckDB relation")
        if self._duckdb is None:
            raise MissingExtraError("this floe was built without a DuckDB hand-off")
        relation: duckdb.DuckDBPyRelation = self._duckdb.duckdb_relation(
            identifier, options, connection
        )
        return relation

    def to_ray(
        self,
        table: TableLike,
        *,
        columns: Sequence[str] | None = None,
        row_filter: RowFilter | None = None,
        snapshot_id: int | None = None,
        as_of: datetime | None = None,
        ref: str | None = None,
    ) -> Any:
        """The rows :meth:`scan` would return, as a lazy ``ray.data.Dataset``.

        floe loads the table through its catalog session and plans the data
        files here (projection, partition and statistics pruning, the
        snapshot); each block of the dataset is a few of those files, read
        on a Ray worker with PyIceberg's reader, the filter applied as a scan
        applies it. Nothing is read until the dataset executes. Needs
        ``floe[ray]`` and a running Ray (``ray.init()``, or a cluster).

        Args:
            table: The table.
            columns: Columns to return, ``None`` for all (at least one: Ray
                Data holds no rows without columns).
            row_filter: As for :meth:`scan`.
            snapshot_id: Read this snapshot.
            as_of: Read the snapshot current at this (aware) time.
            ref: Read this branch or tag (with ``as_of``: in its history).

        Returns:
            A ``ray.data.Dataset`` in floe's canonical Arrow types.

        Raises:
            MissingExtraError: Ray is not installed.
            InvalidScanError: ``columns=[]``, or as :meth:`scan`.
            TableNotFoundError, InvalidFilterError,
            SnapshotNotFoundError, ScanError: As :meth:`scan`.
        """
        identifier, options = self._options(
            table, columns, row_filter, snapshot_id, as_of, None, ref
        )
        _needs_a_column(identifier, options, "a Ray dataset")
        if self._ray is None:
            raise MissingExtraError("this floe was built without a Ray hand-off")
        return self._ray.ray_dataset(identifier, options)

    def _options(
        self,
        table: TableLike,
        columns: Sequence[str] | None,
        row_filter: RowFilter | None,
        snapshot_id: int | None,
        as_of: datetime | None,
        limit: int | None,
        ref: str | None,
    ) -> tuple[TableIdentifier, ScanOptions]:
        identifier = as_identifier(table)
        check_filter_text(row_filter, table=identifier)
        options = ScanOptions(
            columns=columns,
            row_filter=row_filter,
            snapshot_id=snapshot_id,
            as_of=as_of,
            limit=limit,
            ref=ref,
        )
        if options.as_of is not None:
            snapshot = self._snapshots.as_of(identifier, options.as_of, ref=options.ref)
            options = attrs.evolve(options, snapshot_id=snapshot.snapshot_id, as_of=None, ref=None)
        return identifier, options


def _needs_a_column(identifier: TableIdentifier, options: ScanOptions, engine: str) -> None:
    """Refuse ``columns=[]`` for an engine whose rows cannot exist without columns.

    :meth:`ReadService.scan` answers ``columns=[]`` with the selected rows
    and no column (an Arrow table keeps its row count); a DuckDB relation
    needs a column, and Ray Data drops rows that have none.

    Raises:
        InvalidScanError: ``columns`` is empty.
    """
    if options.columns == ():
        raise InvalidScanError(
            f"{engine} of table {identifier} needs at least one column (columns=[] selects "
            "rows without columns, which it cannot hold): name a column, e.g. to count rows",
            subject=str(identifier),
        )
