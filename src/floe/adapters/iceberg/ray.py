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
snapshot. Only storage and network failures (``OSError``) are retried: a
block refused for its data fails every attempt alike. When a block fails
for good, nothing is committed and every file of the job (found by its uuid
under the table's data location) is deleted; so are the workers' files and
the driver's manifests when the staging fails or the catalog refuses the
commit (``staged.py``).

Replacing rows (``overwrite_dataset``) is the same job with the producer
of an ``overwrite`` snapshot (``producers.py``): once the workers have
written, the overwrite staging of ``rewrite.py`` removes the rows the
filter selects (every row without one) as ``writes.overwrite`` does, files
partly selected rewritten on the driver under the same commit uuid (the
workers' names start above the driver's), the filter being the conflict
predicate, and adds the workers' files; ONE snapshot. Writes go to the
branch named (``refs.transaction``: retention kept, other heads asserted).

A first write (``create``) stages a create-table transaction: the workers
write under the staged table's metadata and location, and the commit that
adds their files creates the table, so a failed job leaves none. A table
another writer created meanwhile refuses that commit; its files are
deleted and the same executed blocks are written into that table.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

import attrs
import pyarrow as pa
from pyarrow.fs import FileSelector, FileType
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import ArrowScan, PyArrowFileIO, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import DataScan, FileScanTask, Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import MAIN_BRANCH

from floe.adapters.filters import bind_filter, filter_arrow, iceberg_schema, parse_filter
from floe.adapters.iceberg import reads
from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.iceberg.guard import commit_outcome_guarded
from floe.adapters.iceberg.producers import overwrite_producer
from floe.adapters.iceberg.refs import transaction, write_target
from floe.adapters.iceberg.rewrite import rows_where, stage_overwrite
from floe.adapters.iceberg.snapshots import snapshot_info_of
from floe.adapters.iceberg.staged import discard, discarded_when_refused
from floe.adapters.iceberg.streaming import append_producer
from floe.adapters.iceberg.writes import commit_or_clean, stage_evolution
from floe.adapters.iceberg.written import WrittenFiles
from floe.adapters.iceberg_model import build_partition_spec
from floe.adapters.ray_failures import ray_failure
from floe.domain.errors import (
    InvalidScanError,
    MissingExtraError,
    NamespaceNotFoundError,
    ScanError,
    WriteError,
)
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions, WriteMode
from floe.ports.engines import (
    CreateFromDataset,
    DatasetTarget,
    FitDataset,
    RayPort,
    schemas_to_fit,
)
from floe.ports.table_store import WriteResult

#: Data files per block of a dataset read from a table.
FILES_PER_BLOCK = 4
#: How often Ray re-runs a failed write task before the job fails.
WRITE_RETRIES = 3
#: What a write task raises that another attempt may not: storage and network
#: failures. pyarrow's file systems raise ``OSError`` for every I/O failure
#: (S3, GCS, HDFS, local), as do PyIceberg's FileIOs and ``requests``
#: (``ConnectionError``, ``TimeoutError`` are ``OSError`` too). A refusal of
#: the data (a floe ``SchemaEvolutionError`` from the cast, an Arrow
#: ``ArrowInvalid``/``ArrowTypeError``, a ``ValueError``) fails every attempt
#: the same way, so it is never retried. A worker that dies is re-run by
#: Ray whatever this says (``max_retries``).
RETRIED_ERRORS: tuple[type[BaseException], ...] = (OSError,)
#: How many one-second rounds a failed job waits for its last files to land.
_SETTLE_ROUNDS = 15
#: File name counters per block: block ``i`` names its files from ``(i + 1) * _NAMES_PER_BLOCK``.
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
    # Block ``i`` names from ``(i + 1) * _NAMES_PER_BLOCK``: names below are
    # the driver's (files a filtered replace rewrites, same commit uuid).
    counter = itertools.count((index + 1) * _NAMES_PER_BLOCK)
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

    def write_dataset(
        self,
        identifier: TableIdentifier,
        dataset: Any,
        fit: FitDataset,
        mode: WriteMode,
        target: DatasetTarget,
    ) -> WriteResult:
        name = str(identifier)
        ray = ray_module()

        def call() -> WriteResult:
            creating = target.create is not None
            table = self._load_or_none(identifier) if creating else self._load(identifier)
            if table is not None:
                write_target(table, name, target.branch)  # refused before the dataset runs
            blocks = _executed(ray, dataset, name, mode)
            schemas = schemas_to_fit((schema, rows) for _, schema, rows in blocks)
            if table is None and target.create is not None:
                made = self._create(identifier, ray, blocks, schemas, target.create, mode, target)
                if made is not None:
                    return made
            # Missing only when it was to be created, and another writer did.
            table = table if table is not None else self._load(identifier)
            return self._into(table, identifier, ray, blocks, schemas, fit, mode, target)

        # The dataset may be a one-shot pipeline: the job is never re-run whole.
        return self._backend.guard.run(
            f"{mode.value} dataset into table",
            name,
            call,
            fallback=WriteError,
            replayable=False,
        )

    def _load_or_none(self, identifier: TableIdentifier) -> Table | None:
        try:
            return self._load(identifier)
        except NoSuchTableError:
            return None

    def _into(
        self,
        table: Table,
        identifier: TableIdentifier,
        ray: ModuleType,
        blocks: Sequence[tuple[Any, pa.Schema, int]],
        schemas: Sequence[pa.Schema],
        fit: FitDataset,
        mode: WriteMode,
        target: DatasetTarget,
    ) -> WriteResult:
        """Write the executed blocks into the existing ``table``'s branch: one commit."""
        name = str(identifier)
        replace = mode is WriteMode.OVERWRITE
        on = write_target(table, name, target.branch)
        if not schemas and not replace:
            return WriteResult(identifier, mode, None, 0)
        fitted = fit(schemas)  # refuses data that does not fit before a file is written
        where: BooleanExpression = AlwaysTrue()
        if target.row_filter is not None:  # a bad filter is refused before a file is written
            schema = (
                table.schema()
                if fitted.evolved_schema is None
                else iceberg_schema(fitted.evolved_schema)
            )
            bind_filter(target.row_filter, schema, table=name)
            where = rows_where(parse_filter(target.row_filter, table=name), schema)
        tx = transaction(table)
        stage_evolution(tx, fitted.evolved_schema)
        props = dict(target.snapshot_properties or {})
        replacing = overwrite_producer(tx, table.io, props, on) if replace else None
        producer = replacing or append_producer(tx, props, on)
        job = _WriteJob(ray, table, producer.commit_uuid, name, mode)
        filled = [block for block, _, rows in blocks if rows]
        written = job.write(filled, tx.table_metadata, fitted.cast)
        removed = 0
        # Files the driver rewrites (keeping the rows a filter does not
        # select) carry the same commit uuid as the workers' files.
        rewritten = WrittenFiles(table.io)
        if replacing is None and not written and fitted.evolved_schema is None:
            return WriteResult(identifier, mode, None, 0)
        try:
            if replacing is not None:
                # The live files of the branch the filter selects out (dropped
                # whole, or rewritten keeping their other rows), the workers'
                # files in: one overwrite snapshot whose conflict predicate is
                # the filter (every row without one). The workers' files are
                # named from block 1's range on, the rewritten ones from 0.
                removed = stage_overwrite(
                    tx,
                    rewritten,
                    where,
                    fitted.target.empty_table(),
                    props,
                    on,
                    producer=replacing,
                    added=written,
                )
            else:
                for data_file in written:
                    producer.append_data_file(data_file)
                producer.commit()
        except BaseException:
            # Nothing reached the catalog: the workers' files and any
            # manifest written before the failure are nobody's.
            discard(tx, table.io, written, [producer])
            raise
        # The driver's rewritten files are the producer's too: a refused
        # commit deletes them with the workers'.
        commit_or_clean(tx, table, written, name, mode)
        job.remove_strays(keep={f.file_path for f in written} | set(rewritten.locations))
        return self._result(identifier, table, on, mode, written, removed)

    def _result(
        self,
        identifier: TableIdentifier,
        table: Table,
        on: str,
        mode: WriteMode,
        written: Sequence[DataFile],
        removed: int,
    ) -> WriteResult:
        """What a committed distributed write reports, as every other write does."""
        snapshot = table.metadata.snapshot_by_name(on)
        rows = sum(f.record_count for f in written)
        return WriteResult(
            identifier,
            mode,
            None if snapshot is None else snapshot.snapshot_id,
            rows,
            rows_added=rows,
            rows_deleted=removed,
            snapshot=None if snapshot is None else snapshot_info_of(table, snapshot.snapshot_id),
            table_info=self._backend.describe(identifier, table),
        )

    def _create(
        self,
        identifier: TableIdentifier,
        ray: ModuleType,
        blocks: Sequence[tuple[Any, pa.Schema, int]],
        schemas: Sequence[pa.Schema],
        create: CreateFromDataset,
        mode: WriteMode,
        target: DatasetTarget,
    ) -> WriteResult | None:
        """Create the table with the blocks as its first rows, ONE commit; None if it appeared.

        The creation is staged (a create-table transaction): the workers
        write under the new table's metadata and location, and the table
        exists only once the commit adding their files lands, so a failed
        job leaves no table. When another writer created the table first,
        the commit is refused, this job's files are deleted and ``None``
        is returned.
        """
        name = str(identifier)
        catalog = self._backend.catalog
        new = create(schemas)  # refuses a schema or spec no table can have, before a file
        if not catalog.namespace_exists(identifier.namespace):
            raise NamespaceNotFoundError(
                f"cannot create table {name}: its namespace does not exist", subject=name
            )
        ice_schema = iceberg_schema(new.schema)
        tx = catalog.create_table_transaction(
            identifier.parts,
            schema=ice_schema,
            partition_spec=build_partition_spec(new.partition_spec, ice_schema),
            properties=dict(new.properties),
        )
        staged: Table = tx._table  # the staged table: its FileIO and location
        producer = append_producer(tx, dict(target.snapshot_properties or {}))
        job = _WriteJob(ray, staged, producer.commit_uuid, name, mode)
        written = job.write(
            [block for block, _, rows in blocks if rows], tx.table_metadata, new.cast
        )
        try:
            for data_file in written:
                producer.append_data_file(data_file)
            producer.commit()
        except BaseException:
            discard(tx, staged.io, written, [producer])
            raise
        try:
            with commit_outcome_guarded(name), discarded_when_refused(tx, staged.io, written):
                created = tx.commit_transaction()
        except (CommitFailedException, TableAlreadyExistsError):
            # Refused because another writer created the table since it was
            # found missing (else the refusal is this write's to raise).
            if not catalog.table_exists(identifier.parts):
                raise
            return None
        job.remove_strays(keep={f.file_path for f in written})
        return self._result(identifier, created, MAIN_BRANCH, mode, written, 0)


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
        task = ray.remote(max_retries=WRITE_RETRIES, retry_exceptions=list(RETRIED_ERRORS))(
            _write_block
        )
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
