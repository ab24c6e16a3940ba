"""Ray Data hand-offs over PyIceberg tables: reads from floe's plan, writes in one commit.

Reads: floe loads the table through its guard, checks the options as a
scan does and plans the files (partition and statistics pruning); the
dataset's blocks are windows of those files, each read on a Ray worker by
PyIceberg's ``ArrowScan`` exactly as a floe scan reads it (the filter
applied exactly where the pushdown is weakened, canonical Arrow out).

Appends: the driver executes the dataset once and hands the schemas of its
blocks to the application's fit (the rules of ``writes.append``), then
opens the transaction, stages the schema change the fit decided and the
snapshot producer a streaming append uses; each block is cast to the
target schema and written as data files on a worker by the function
``Transaction.append`` uses (partition split, file naming, statistics,
field ids of the evolved schema), named after the producer's commit uuid
and the block's index. A retried task therefore writes the same
files again, and the driver adds each block's files once and commits ONE
snapshot. When a block fails for good, nothing is committed and every file
of the job (found by its uuid under the table's data location) is deleted.

Replacing the table (``overwrite_dataset``) is the same job with the
producer of an ``overwrite`` snapshot (``producers.py``): once the workers
have written, the overwrite staging of ``rewrite.py`` removes every live
data file of ``main`` (its conflict predicate every row, so conflicts are
judged as an overwrite's) and adds the workers' files; ONE snapshot.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import attrs
import pyarrow as pa
from pyarrow.fs import FileSelector, FileType
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import DataScan, FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import MAIN_BRANCH

from floe.adapters.filters import filter_arrow
from floe.adapters.iceberg import reads
from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.iceberg.producers import overwrite_producer
from floe.adapters.iceberg.rewrite import stage_overwrite
from floe.adapters.iceberg.streaming import append_producer, delete_quietly
from floe.adapters.iceberg.writes import commit_or_clean, stage_evolution
from floe.adapters.ray_failures import ray_failure
from floe.domain.errors import (
    InvalidScanError,
    MissingExtraError,
    ScanError,
    WriteError,
)
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions, WriteMode
from floe.ports.engines import FitDataset, RayPort, schemas_to_fit
from floe.ports.table_store import WriteResult

#: Data files per block of a dataset read from a table.
FILES_PER_BLOCK = 4
#: How often Ray re-runs a failed write task before the job fails.
WRITE_RETRIES = 3
#: How many one-second rounds a failed job waits for its last files to land.
_SETTLE_ROUNDS = 15
#: File name counters per block: block ``i`` names its files from ``i * _NAMES_PER_BLOCK``.
_NAMES_PER_BLOCK = 1_000_000


def ray_module() -> ModuleType:
    """``ray`` with ``ray.data`` loaded.

    Raises:
        MissingExtraError: Ray is not installed.
    """
    try:
        importlib.import_module("ray.data")
        return importlib.import_module("ray")
    except ImportError as exc:
        raise MissingExtraError(
            "handing a table to Ray needs ray[data]; install floe's ray extra: "
            "pip install 'floe[ray]'"
        ) from exc


@attrs.frozen
class FileWindows:
    """What a Ray worker needs to read windows of planned files as a floe scan does."""

    metadata: TableMetadata
    io: FileIO
    projection: Schema
    pushdown: BooleanExpression
    case_sensitive: bool
    exact_filter: BooleanExpression | None  # applied to the rows when the pushdown is weaker
    schema: Schema
    columns: tuple[str, ...]
    expected: pa.Schema
    windows: tuple[tuple[FileScanTask, ...], ...]

    def read(self, batch: pa.Table) -> pa.Table:
        """The rows of the windows whose indexes ``batch`` holds (column ``window``)."""
        parts = [self.expected.empty_table()]
        for index in batch.column("window").to_pylist():
            scan = ArrowScan(
                self.metadata, self.io, self.projection, self.pushdown, self.case_sensitive
            )
            rows = scan.to_table(self.windows[index])
            if self.exact_filter is not None:
                rows = filter_arrow(rows, self.exact_filter, self.schema)
            parts.append(rows.select(list(self.columns)).cast(self.expected))
        return pa.concat_tables(parts)


#: Catalog properties a worker's FileIO never needs (the catalog's session and secrets).
_CATALOG_ONLY = frozenset({"auth", "credential", "token", "uri", "warehouse", "oauth2-server-uri"})


def worker_io(io: FileIO) -> FileIO:
    """A FileIO for Ray workers: the table's storage settings, none of the catalog's session.

    PyIceberg builds a table's FileIO from the catalog's properties plus the
    table's, which for floe's REST catalog include its auth manager (a live
    token provider): neither picklable nor meant to leave the driver. Workers
    get the same FileIO class with only the plain-text storage settings.
    """
    kept = {
        key: value
        for key, value in io.properties.items()
        if isinstance(value, str) and key not in _CATALOG_ONLY
    }
    return type(io)(kept)


def _block_shape(block: pa.Table) -> tuple[pa.Schema, int]:
    """A block's schema and row count (on a Ray worker: the block stays where it is)."""
    return block.schema, block.num_rows


def _write_block(
    block: pa.Table,
    metadata: TableMetadata,
    io: FileIO,
    write_uuid: Any,
    index: int,
    cast: Callable[[pa.Table], pa.Table],
) -> list[DataFile]:
    """Write one block as data files (on a Ray worker); the same names on every attempt."""
    if block.num_rows == 0:
        return []
    counter = itertools.count(index * _NAMES_PER_BLOCK)
    return list(_dataframe_to_data_files(metadata, cast(block), io, write_uuid, counter))


class IcebergRay(RayPort):
    """Ray Data over tables of a PyIceberg catalog.

    Args:
        backend: The catalog and guard shared with the other ports.
    """

    def __init__(self, backend: IcebergBackend) -> None:
        self._backend = backend

    def _load(self, identifier: TableIdentifier) -> Table:
        return self._backend.catalog.load_table(identifier.parts)

    def ray_dataset(self, identifier: TableIdentifier, options: ScanOptions) -> Any:
        name = str(identifier)
        if options.limit is not None:
            raise InvalidScanError(
                "a Ray dataset takes no limit: apply .limit() to it", subject=name
            )
        ray = ray_module()

        def call() -> FileWindows:
            return _plan_windows(lambda: self._load(identifier), name, options)

        windows = self._backend.guard.run("hand table to ray", name, call, fallback=ScanError)
        if not windows.windows:
            return ray.data.from_arrow(windows.expected.empty_table())
        indexes = ray.data.from_items(
            [{"window": i} for i in range(len(windows.windows))],
            override_num_blocks=len(windows.windows),
        )
        return indexes.map_batches(windows.read, batch_size=1, batch_format="pyarrow")

    def append_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write_dataset(identifier, dataset, fit, WriteMode.APPEND, snapshot_properties)

    def overwrite_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        *,
        snapshot_properties: Mapping[str, str] | None = None,
    ) -> WriteResult:
        return self._write_dataset(
            identifier, dataset, fit, WriteMode.OVERWRITE, snapshot_properties
        )

    def _write_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        mode: WriteMode,
        snapshot_properties: Mapping[str, str] | None,
    ) -> WriteResult:
        name = str(identifier)
        ray = ray_module()
        replace = mode is WriteMode.OVERWRITE

        def call() -> WriteResult:
            table = self._load(identifier)
            blocks = _executed(ray, dataset, name, mode)
            schemas = schemas_to_fit((schema, rows) for _, schema, rows in blocks)
            if not schemas and not replace:
                return WriteResult(identifier, mode, None, 0)
            fitted = fit(schemas)  # refuses data that does not fit before a file is written
            tx = table.transaction()
            stage_evolution(tx, fitted.evolved_schema)
            props = dict(snapshot_properties or {})
            replacing = overwrite_producer(tx, table.io, props, MAIN_BRANCH) if replace else None
            producer = replacing or append_producer(tx, props)
            job = _WriteJob(ray, table, producer.commit_uuid, name, mode)
            filled = [block for block, _, rows in blocks if rows]
            written = job.write(filled, tx.table_metadata, fitted.cast)
            removed = 0
            if replacing is not None:
                # Every live file of main out, the workers' files in: one
                # overwrite snapshot whose conflict predicate is every row.
                # With no row kept, the staging writes no file of its own,
                # so no name can clash with the workers' files.
                try:
                    removed = stage_overwrite(
                        tx,
                        table.io,
                        AlwaysTrue(),
                        fitted.target.empty_table(),
                        props,
                        MAIN_BRANCH,
                        producer=replacing,
                        added=written,
                    )
                except BaseException:
                    delete_quietly(table.io, written)
                    raise
            elif not written and fitted.evolved_schema is None:
                return WriteResult(identifier, mode, None, 0)
            else:
                for data_file in written:
                    producer.append_data_file(data_file)
                producer.commit()
            commit_or_clean(tx, table, written, name, mode)
            job.remove_strays(keep={f.file_path for f in written})
            snapshot = table.current_snapshot()
            rows = sum(f.record_count for f in written)
            return WriteResult(
                identifier,
                mode,
                None if snapshot is None else snapshot.snapshot_id,
                rows,
                rows_added=rows,
                rows_deleted=removed,
            )

        # The dataset may be a one-shot pipeline: the job is never re-run whole.
        return self._backend.guard.run(
            f"{mode.value} dataset into table",
            name,
            call,
            fallback=WriteError,
            replayable=False,
        )


def _executed(
    ray: ModuleType, dataset: Any, name: str, mode: WriteMode
) -> list[tuple[Any, pa.Schema, int]]:
    """Execute the dataset once: each block's object reference, schema and row count.

    Raises:
        WriteError: The dataset's pipeline failed (a floe error it raised is
            raised as it is); nothing was written.
    """
    try:
        refs = list(dataset.to_arrow_refs())
        shape = ray.remote(_block_shape)
        shapes: Sequence[tuple[pa.Schema, int]] = ray.get([shape.remote(ref) for ref in refs])
    except Exception as exc:
        raise ray_failure(
            exc,
            f"{mode.value} of a Ray dataset into table {name}: the dataset failed "
            f"({type(exc).__name__}); nothing was written",
            name,
        ) from exc
    return [(ref, schema, rows) for ref, (schema, rows) in zip(refs, shapes, strict=True)]


class _WriteJob:
    """The Ray tasks writing one write's files, and the files left by failed attempts."""

    def __init__(
        self, ray: ModuleType, table: Table, write_uuid: Any, name: str, mode: WriteMode
    ) -> None:
        self._ray = ray
        self._table = table
        self._uuid = write_uuid
        self._name = name
        self._mode = mode

    def write(
        self, blocks: Sequence[Any], metadata: TableMetadata, cast: Callable[[pa.Table], pa.Table]
    ) -> list[DataFile]:
        """Write every block (object references) on the workers; on a failure clean up and raise."""
        ray = self._ray
        task = ray.remote(max_retries=WRITE_RETRIES, retry_exceptions=True)(_write_block)
        io = worker_io(self._table.io)
        pending: list[Any] = []
        try:
            for index, block in enumerate(blocks):
                pending.append(task.remote(block, metadata, io, self._uuid, index, cast))
            results: Sequence[list[DataFile]] = ray.get(pending)
        except Exception as exc:
            with contextlib.suppress(Exception):  # let running attempts finish writing
                ray.wait(pending, num_returns=len(pending), timeout=60)
            self.settle_strays()
            raise ray_failure(
                exc,
                f"{self._mode.value} of a Ray dataset into table {self._name} failed "
                f"({type(exc).__name__}); nothing was committed and its files were deleted",
                self._name,
            ) from exc
        return [data_file for files in results for data_file in files]

    def settle_strays(self) -> None:
        """Delete the failed job's files until storage has shown none twice in a row.

        A failed attempt's task has raised, but PyIceberg writes a block's
        partitions in its thread pool, and the files after the failing one
        may still be landing; so storage is listed again (bounded: about
        ``_SETTLE_ROUNDS`` seconds) until two listings a second apart find
        nothing. What lands later still is an orphan for orphan-file removal.
        """
        quiet = 0
        for _ in range(_SETTLE_ROUNDS):
            quiet = 0 if self.remove_strays(keep=set()) else quiet + 1
            if quiet >= 2:
                return
            time.sleep(1.0)

    def remove_strays(self, keep: set[str]) -> int:
        """Delete the job's files (named after its uuid) not in ``keep``; how many were found."""
        io = self._table.io
        location = self._table.location().rstrip("/") + "/data"
        scheme, netloc, root = PyArrowFileIO.parse_location(location, io.properties)
        arrow_io = io if isinstance(io, PyArrowFileIO) else PyArrowFileIO(io.properties)
        fs = arrow_io.fs_by_scheme(scheme, netloc)
        listed = fs.get_file_info(FileSelector(root, recursive=True, allow_not_found=True))
        marker = str(self._uuid)
        strays = [
            info.path for info in listed if info.type == FileType.File and marker in info.base_name
        ]
        doomed = [p for p in strays if not any(kept.endswith(p) for kept in keep)]
        for path in doomed:
            with contextlib.suppress(Exception):  # what stays is an orphan
                io.delete(path if scheme in ("file", "") else f"{scheme}://{path}")
        return len(doomed)


def _plan_windows(load: Callable[[], Table], name: str, options: ScanOptions) -> FileWindows:
    table, schema, bound, columns, snapshot_id = reads.plan(load, name, options)

    def read(pushdown: BooleanExpression, exact: bool) -> tuple[DataScan, list[FileScanTask], bool]:
        selected = columns if exact else reads.with_filter_columns(columns, bound, schema)
        scan = table.scan(row_filter=pushdown, selected_fields=selected, snapshot_id=snapshot_id)
        return scan, list(scan.plan_files()), exact

    scan, tasks, exact = reads.planned(read, table, schema, options.row_filter, name)
    return FileWindows(
        metadata=scan.table_metadata,
        io=worker_io(scan.io),
        projection=scan.projection(),
        pushdown=scan.row_filter,
        case_sensitive=scan.case_sensitive,
        exact_filter=None if exact else bound,
        schema=schema,
        columns=columns,
        expected=reads.projected_schema(schema, columns),
        windows=tuple(
            tuple(tasks[i : i + FILES_PER_BLOCK]) for i in range(0, len(tasks), FILES_PER_BLOCK)
        ),
    )
