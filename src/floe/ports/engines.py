"""Hand-offs of a table's rows to query engines that read the data themselves."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from floe.domain.identifiers import TableIdentifier
from floe.domain.models import RowFilter, ScanOptions, WriteMode
from floe.domain.partitioning import PartitionTransform
from floe.ports.table_store import WriteResult


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
            ScanError: DuckDB failed while the relation was made (a closed
                connection, a file it reads when binding missing or refused);
                the message names the table. Failures once the relation runs
                are DuckDB's own exceptions.
            TableNotFoundError, InvalidFilterError, InvalidScanError,
            SnapshotNotFoundError: As :meth:`TableStorePort.scan`.
        """


@attrs.frozen
class DatasetFit:
    """How a dataset's rows fit a table, decided on the driver from the blocks' schemas.

    Attributes:
        target: The schema every block is cast to (the table's, evolved).
        evolved_schema: The table's new schema, staged in the append's own
            commit; ``None`` when the table's schema stays as it is.
        cast: Turns one block into ``target`` (picklable: it runs on workers).
    """

    target: pa.Schema
    evolved_schema: pa.Schema | None
    cast: Callable[[pa.Table], pa.Table]


#: Decides how a dataset fits a table from the schemas of its non-empty blocks
#: (an empty sequence: a replacing dataset without columns, the table's schema).
FitDataset = Callable[[Sequence[pa.Schema]], DatasetFit]


@attrs.frozen
class DatasetTable:
    """The table a dataset's first write creates, decided on the driver from its blocks' schemas.

    Attributes:
        schema: The new table's schema (canonical).
        partition_spec: Its partition fields.
        properties: Its table properties.
        cast: Turns one block into ``schema`` (picklable: it runs on workers).
    """

    schema: pa.Schema
    partition_spec: tuple[PartitionTransform, ...]
    properties: Mapping[str, str]
    cast: Callable[[pa.Table], pa.Table]


#: Decides the table a dataset creates from the same block schemas a
#: :data:`FitDataset` is given (an empty sequence: no block has a column).
CreateFromDataset = Callable[[Sequence[pa.Schema]], DatasetTable]


@attrs.frozen
class DatasetTarget:
    """Where a distributed write goes, and what it commits beyond its rows.

    Attributes:
        snapshot_properties: Extra entries for the snapshot summary.
        row_filter: The rows a replace removes (``None``: every row); an
            append has none.
        branch: The branch committed to (``None``: ``main``).
        create: Decides the table to create when it does not exist
            (``None``: it must exist).
    """

    snapshot_properties: Mapping[str, str] | None = None
    row_filter: RowFilter | None = None
    branch: str | None = None
    create: CreateFromDataset | None = None


def schemas_to_fit(blocks: Iterable[tuple[pa.Schema, int]]) -> list[pa.Schema]:
    """The block schemas a :data:`FitDataset` is given, from each block's schema and row count.

    The schemas of the blocks holding rows; when none does, those of the
    blocks with a column (empty when no block has one).
    """
    shapes = list(blocks)
    return [schema for schema, rows in shapes if rows] or [
        schema for schema, _ in shapes if len(schema)
    ]


class RayPort(abc.ABC):
    """Ray Data hand-offs: datasets read from a table's files, appends written by Ray workers."""

    @abc.abstractmethod
    def ray_dataset(self, identifier: TableIdentifier, options: ScanOptions) -> Any:
        """A lazy ``ray.data.Dataset`` of the rows :meth:`TableStorePort.scan` returns.

        The files are planned here (projection, filter, snapshot; no limit);
        Ray workers read them when the dataset executes.

        Raises:
            MissingExtraError: Ray is not installed.
            TableNotFoundError, InvalidFilterError, InvalidScanError,
            SnapshotNotFoundError, ScanError: As :meth:`TableStorePort.scan`.
        """

    def append_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
        branch: str | None = None,
        create: CreateFromDataset | None = None,
    ) -> WriteResult:
        """Append a ``ray.data.Dataset``: workers write the files, ONE commit adds them all.

        The dataset is executed once; ``fit`` is given the schemas of its
        blocks that hold rows (of every block when none does; not called
        when the dataset has no block with a column) and decides, on the
        driver, the target schema and the table's schema change. Each block
        is cast by the fit's ``cast`` and written on a worker; the schema
        change and every file are ONE commit. A retried worker task rewrites
        the same files, so each block is committed once; when any block
        fails for good, nothing is committed and the files of the job are
        deleted. Without rows and without a schema change nothing is
        committed.

        ``branch`` (``None``: ``main``) is an existing branch to commit to,
        as :meth:`TableStorePort.append`'s: only it moves, its retention is
        kept and the other refs' heads are asserted. With ``create``, a
        table that does not exist is created by the same commit as the
        rows, from what ``create`` decides (``fit`` is not called then);
        when another writer creates it meanwhile, this job's files are
        deleted and the same blocks are written into that table by
        ``fit``'s rules instead, so the dataset still runs once.

        Raises:
            MissingExtraError: Ray is not installed.
            SchemaEvolutionError: ``fit`` or ``cast`` refused the data.
            InvalidSchemaError, InvalidPartitionSpecError, NamespaceNotFoundError:
                ``create`` refused the new table, or its namespace is missing.
            RefNotFoundError, InvalidRefError: ``branch`` is not a branch.
            TableNotFoundError, CommitConflictError, CommitStateUnknownError,
            WriteError: As :meth:`TableStorePort.append`.
        """
        return self.write_dataset(
            identifier,
            dataset,
            fit,
            WriteMode.APPEND,
            DatasetTarget(snapshot_properties, None, branch, create),
        )

    def overwrite_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
        row_filter: RowFilter | None = None,
        branch: str | None = None,
        create: CreateFromDataset | None = None,
    ) -> WriteResult:
        """Replace the rows of a branch ``row_filter`` selects by a ``ray.data.Dataset``.

        As :meth:`append_dataset` (one execution, the fit, the workers'
        files, exactly-once under task retries, nothing committed and the
        job's files deleted on a failure), except that ``fit`` is called
        even when the dataset has no block with a column (with no schema:
        the table's schema is the target), and ONE ``overwrite`` snapshot
        removes the rows ``row_filter`` selects (every row without one) from
        the branch and adds the dataset's, always committed (a dataset
        without rows only removes), as :meth:`TableStorePort.overwrite`
        does: files whose rows all match are dropped, files with some
        matching rows rewritten (on the driver) keeping the others, the
        filter being the snapshot's conflict predicate; the rows of the
        dataset are not checked against it, as that overwrite does not
        check them. Conflicts are judged as that overwrite's. ``branch``
        and ``create`` as in :meth:`append_dataset` (a created table takes
        every row of the dataset; the filter selects nothing yet).

        Raises:
            InvalidFilterError: A bad ``row_filter``, before a file is written.
            As :meth:`append_dataset` otherwise.
        """
        return self.write_dataset(
            identifier,
            dataset,
            fit,
            WriteMode.OVERWRITE,
            DatasetTarget(snapshot_properties, row_filter, branch, create),
        )

    @abc.abstractmethod
    def write_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        mode: WriteMode,
        target: DatasetTarget,
    ) -> WriteResult:
        """:meth:`append_dataset` or :meth:`overwrite_dataset` (``mode``), to ``target``."""
