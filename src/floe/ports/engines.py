"""Hand-offs of a table's rows to query engines that read the data themselves."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import pyarrow as pa

from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions
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

    @abc.abstractmethod
    def append_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
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

        Raises:
            MissingExtraError: Ray is not installed.
            SchemaEvolutionError: ``fit`` or ``cast`` refused the data.
            TableNotFoundError, CommitConflictError, CommitStateUnknownError,
            WriteError: As :meth:`TableStorePort.append`.
        """

    @abc.abstractmethod
    def overwrite_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        """Replace every row of ``main`` by a ``ray.data.Dataset`` written by Ray workers.

        As :meth:`append_dataset` (one execution, the fit, the workers'
        files, exactly-once under task retries, nothing committed and the
        job's files deleted on a failure), except that ``fit`` is called
        even when the dataset has no block with a column (with no schema:
        the table's schema is the target), and ONE ``overwrite`` snapshot
        removes every row of ``main`` and adds the dataset's, always
        committed (a dataset without rows empties the table), as
        :meth:`TableStorePort.overwrite` without a filter. Conflicts are
        judged as that overwrite's.

        Raises:
            As :meth:`append_dataset`.
        """
