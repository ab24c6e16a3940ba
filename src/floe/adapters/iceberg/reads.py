"""Scans of PyIceberg tables, planned around two upstream faults, and file listings.

A scan binds the filter to the schema of the snapshot it reads, checks the
projected columns and answers in the canonical Arrow types, columns in the
order asked for. Two PyIceberg 0.12 faults are planned around: predicates
that NaN satisfies are pushed down weakened (Arrow's row-group pruning drops
NaN rows) and applied exactly to the rows read (:func:`~floe.adapters.filters.scan_pushdown`);
a plan whose residual evaluation trips on a null partition value is made
again without the predicates on partition source columns. Batch streams
read a bounded window of data files at a time (:func:`bounded_batches`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import attrs
import pyarrow as pa
from pyiceberg.expressions import BooleanExpression
from pyiceberg.expressions.visitors import extract_field_ids
from pyiceberg.io.pyarrow import ArrowScan
from pyiceberg.schema import Schema
from pyiceberg.table import DataScan, Table
from pyiceberg.table.refs import MAIN_BRANCH

from floe.adapters.filters import (
    bind_filter,
    filter_arrow,
    scan_pushdown,
    without_predicates_on,
)
from floe.adapters.iceberg.errors import translated
from floe.adapters.iceberg.guard import without_frames
from floe.adapters.iceberg_model import arrow_schema, partition_values
from floe.domain.errors import (
    FloeStorageError,
    InvalidScanError,
    RefNotFoundError,
    ScanError,
    SnapshotNotFoundError,
)
from floe.domain.models import DataFileInfo, RowFilter, ScanOptions

#: How many data files a batch stream reads together (in parallel); one more
#: window is read ahead while the consumer pulls the current one.
FILES_AT_ONCE = 4

#: A checked scan: the table, the schema of the snapshot read, the bound filter, the columns.
ScanPlan = tuple[Table, Schema, BooleanExpression, tuple[str, ...], int | None]

#: A stream of batches as read, its canonical schema and the columns asked for.
OpenedScan = tuple[Iterable[pa.RecordBatch], pa.Schema, tuple[str, ...]]


def scan(load: Callable[[], Table], name: str, options: ScanOptions) -> pa.Table:
    """Read the rows ``options`` select, whole.

    Args:
        load: Loads the table (called once the options are checked).
        name: The table's name, for messages.
        options: Snapshot, filter, projection and limit.

    Returns:
        The rows, in the canonical Arrow types.

    Raises:
        InvalidScanError: An unresolved ``as_of`` or an unknown column.
        InvalidFilterError: A filter that does not bind to the snapshot's schema.
        SnapshotNotFoundError: No such snapshot.
    """
    table, schema, bound, columns, snapshot_id = plan(load, name, options)
    expected = projected_schema(schema, columns)
    read_columns = columns_to_read(columns, schema)

    def read(pushdown: BooleanExpression, exact: bool) -> pa.Table:
        if exact:
            return table.scan(
                row_filter=pushdown,
                selected_fields=read_columns,
                snapshot_id=snapshot_id,
                limit=options.limit,
            ).to_arrow()
        rows = table.scan(
            row_filter=pushdown,
            selected_fields=with_filter_columns(read_columns, bound, schema),
            snapshot_id=snapshot_id,
        ).to_arrow()
        kept = filter_arrow(rows, bound, schema)
        return kept if options.limit is None else kept.slice(0, options.limit)

    result = planned(read, table, schema, options.row_filter, name)
    return as_projected(result, columns, expected)


def open_batches(
    load: Callable[[], Table],
    name: str,
    options: ScanOptions,
    files_at_once: int = FILES_AT_ONCE,
) -> OpenedScan:
    """Plan a scan and open its stream of batches; :func:`batch_reader` reads it.

    The files are read ``files_at_once`` at a time (:func:`bounded_batches`),
    so memory holds about that many files' rows however large the table.

    Args:
        load: Loads the table (called once the options are checked).
        name: The table's name, for messages.
        options: Snapshot, filter, projection and limit.
        files_at_once: How many data files are read ahead of the consumer.

    Returns:
        The batches as PyIceberg reads them, the canonical schema and the
        columns asked for.

    Raises:
        InvalidScanError: As :func:`scan`.
        InvalidFilterError: As :func:`scan`.
        SnapshotNotFoundError: As :func:`scan`.
    """
    table, schema, bound, columns, snapshot_id = plan(load, name, options)
    read_columns = columns_to_read(columns, schema)

    def read(pushdown: BooleanExpression, exact: bool) -> Iterable[pa.RecordBatch]:
        reader = bounded_batches(
            table.scan(
                row_filter=pushdown,
                selected_fields=(
                    read_columns if exact else with_filter_columns(read_columns, bound, schema)
                ),
                snapshot_id=snapshot_id,
                limit=options.limit if exact else None,
            ),
            files_at_once,
        )
        return reader if exact else _exactly(reader, bound, schema, options.limit)

    reader = planned(read, table, schema, options.row_filter, name)
    return reader, projected_schema(schema, columns), columns


def bounded_batches(table_scan: DataScan, files_at_once: int) -> Iterator[pa.RecordBatch]:
    """The batches of a planned scan, reading ``files_at_once`` data files at a time.

    PyIceberg's ``to_arrow_batch_reader`` hands every planned file to its
    thread pool at once and keeps each file's batches until they are pulled,
    so a slow consumer ends up holding the whole table. Here the files are
    planned up front (planning faults surface before the first batch) and
    handed to PyIceberg's own reader (``ArrowScan``: positional deletes,
    projection, schema evolution, the residual filter) one window at a time.
    The next window is read in the background while the consumer pulls this
    one, and the one after only once this one is consumed: at most two
    windows are held. Rows come in the same order as PyIceberg's reader gives
    them, and the scan's limit counts across windows.

    Args:
        table_scan: The planned PyIceberg scan (filter, projection, snapshot, limit).
        files_at_once: The window: how many data files are read together.

    Returns:
        The batches, lazily.
    """
    tasks = list(table_scan.plan_files())
    projected = table_scan.projection()
    starts = list(range(0, len(tasks), files_at_once))

    def read(start: int, limit: int | None) -> list[pa.RecordBatch]:
        window = ArrowScan(
            table_scan.table_metadata,
            table_scan.io,
            projected,
            table_scan.row_filter,
            table_scan.case_sensitive,
            limit,
        )
        return list(window.to_record_batches(tasks[start : start + files_at_once]))

    def windows() -> Iterator[pa.RecordBatch]:
        left = table_scan.limit
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="floe-read-ahead") as ahead:
            pending = ahead.submit(read, starts[0], left) if starts else None
            for following in [*starts[1:], None]:
                if pending is None:
                    return
                batches = pending.result()
                # The next window's limit is at most what is left before this one.
                pending = (
                    ahead.submit(read, following, left)
                    if following is not None and (left is None or left > 0)
                    else None
                )
                for batch in batches:
                    if left is not None:
                        if left <= 0:
                            break
                        batch = batch.slice(0, left)
                        left -= batch.num_rows
                    yield batch
                del batches
                if left is not None and left <= 0:
                    if pending is not None:
                        pending.cancel()
                    return

    return windows()


def batch_reader(opened: OpenedScan, name: str) -> pa.RecordBatchReader:
    """The batches of an opened scan in the canonical Arrow types, read as they are pulled.

    Args:
        opened: What :func:`open_batches` returned.
        name: The table's name, for messages.

    Returns:
        A reader whose failures are floe errors (:class:`ScanError` unless
        more specific) without the frames that name storage keys.
    """
    reader, expected, columns = opened

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            with translated("scan table", name, fallback=ScanError):
                for batch in reader:
                    yield as_projected(batch, columns, expected)
        except FloeStorageError as error:  # FileIO frames hold the S3 keys
            raise without_frames(error)  # noqa: B904 - its own chain is kept

    return pa.RecordBatchReader.from_batches(expected, batches())


def data_files(table: Table) -> list[DataFileInfo]:
    """The data files of the table's current snapshot, sorted by path.

    Args:
        table: The table.

    Returns:
        Each file's path, partition values, row count and size.
    """
    schema = table.schema()
    specs = table.specs()
    result = []
    for task in table.scan().plan_files():
        data_file = task.file
        spec = specs[data_file.spec_id]
        result.append(
            DataFileInfo(
                path=data_file.file_path,
                partition=partition_values(spec, schema, data_file.partition),
                record_count=data_file.record_count,
                size_bytes=data_file.file_size_in_bytes,
            )
        )
    return sorted(result, key=lambda f: f.path)


def plan(load: Callable[[], Table], name: str, options: ScanOptions) -> ScanPlan:
    """Check a scan's options: the table, the snapshot's schema, the bound filter, the columns.

    A ``ref`` is resolved to the snapshot it points at (the returned id;
    None: the current snapshot).

    Raises:
        InvalidScanError: An unresolved ``as_of`` or an unknown column.
        InvalidFilterError: A filter that does not bind to the snapshot's schema.
        SnapshotNotFoundError: No such snapshot.
        RefNotFoundError: No such branch or tag.
    """
    if options.as_of is not None:
        raise InvalidScanError("as_of is resolved to a snapshot id before the scan")
    table = load()
    schema = table.schema()
    if options.ref is not None:
        options = _at_ref(table, name, options)
    if options.snapshot_id is not None:
        snapshot = table.snapshot_by_id(options.snapshot_id)
        if snapshot is None:
            raise SnapshotNotFoundError(
                f"table {name} has no snapshot {options.snapshot_id}", subject=name
            )
        if snapshot.schema_id is not None:
            schema = table.schemas().get(snapshot.schema_id, schema)
    bound = bind_filter(options.row_filter, schema, table=name)
    names = tuple(f.name for f in schema.fields)
    columns = names if options.columns is None else tuple(dict.fromkeys(options.columns))
    missing = [c for c in columns if c not in names]
    if missing:
        raise InvalidScanError(f"table {name} has no column(s) {missing}", subject=name)
    return table, schema, bound, columns, options.snapshot_id


def _at_ref(table: Table, name: str, options: ScanOptions) -> ScanOptions:
    """``options`` reading the snapshot a ref points at (``main`` without one: the current).

    Raises:
        RefNotFoundError: The table has no such branch or tag.
    """
    ref = options.ref
    snapshot = table.snapshot_by_name(ref) if ref is not None else None
    if snapshot is None and ref != MAIN_BRANCH:
        raise RefNotFoundError(f"table {name} has no branch or tag {ref!r}", subject=name)
    snapshot_id = None if snapshot is None else snapshot.snapshot_id
    return attrs.evolve(options, ref=None, snapshot_id=snapshot_id)


R = TypeVar("R")


def planned(
    read: Callable[[BooleanExpression, bool], R],
    table: Table,
    schema: Schema,
    row_filter: RowFilter | None,
    name: str,
) -> R:
    """Plan and start a read with the best filter PyIceberg and Arrow handle correctly.

    ``read(pushdown, exact)`` scans with ``pushdown`` and, when it is not
    exact, applies the bound filter to the rows itself. PyIceberg 0.12's
    residual evaluation compares a null partition value with the filter's
    literal and raises ``TypeError`` (a file whose partition source column is
    null, under a filter that cannot prune it, e.g. ``id != 4 or ts > X``);
    the read is then planned again without the predicates on partition source
    columns, which only costs partition pruning.
    """
    pushdown, exact = scan_pushdown(row_filter, schema, table=name)
    try:
        return read(pushdown, exact)
    except TypeError:
        sources = {f.source_id for spec in table.specs().values() for f in spec.fields}
        names = {schema.find_column_name(i) for i in sources} - {None}
        weaker = without_predicates_on(pushdown, {str(n) for n in names})
        return read(weaker, False)


def columns_to_read(columns: tuple[str, ...], schema: Schema) -> tuple[str, ...]:
    """The columns a scan reads for a projection; for none (``columns=[]``) the first one.

    A projection without columns still selects rows (an Arrow table of no
    columns and ``num_rows`` rows, as the in-memory store answers), but
    PyIceberg 0.12 reads no rows at all for an empty projection: one column
    is read to count them, then dropped.
    """
    return columns if columns or not schema.fields else (schema.fields[0].name,)


Rows = TypeVar("Rows", pa.Table, pa.RecordBatch)


def as_projected(rows: Rows, columns: tuple[str, ...], expected: pa.Schema) -> Rows:
    """``rows`` with exactly ``columns``, in the canonical types of ``expected``.

    Without columns the rows are kept: Arrow's cast to an empty schema
    would drop them.
    """
    selected = rows.select(list(columns))
    return selected.cast(expected) if columns else selected


def projected_schema(schema: Schema, columns: tuple[str, ...]) -> pa.Schema:
    """The canonical Arrow schema of ``columns`` in the order they were asked for.

    ``Schema.select`` keeps the table's column order; a scan answers in the
    caller's.
    """
    selected = arrow_schema(schema.select(*columns))
    return pa.schema([selected.field(c) for c in columns])


def with_filter_columns(
    columns: tuple[str, ...], bound: BooleanExpression, schema: Schema
) -> tuple[str, ...]:
    """The projected columns plus the top-level columns the filter reads."""
    wanted = dict.fromkeys(columns)
    for field_id in sorted(extract_field_ids(bound)):
        accessor = schema.accessor_for_field(field_id)
        wanted.setdefault(schema.fields[accessor.position].name)
    return tuple(wanted)


def _exactly(
    batches: Iterable[pa.RecordBatch], bound: BooleanExpression, schema: Schema, limit: int | None
) -> Iterator[pa.RecordBatch]:
    """The rows of ``batches``, read with a weaker filter, that the exact one selects."""
    left = limit
    for batch in batches:
        if left is not None and left <= 0:
            return
        kept = filter_arrow(pa.Table.from_batches([batch]), bound, schema)
        if left is not None:
            kept = kept.slice(0, left)
            left -= kept.num_rows
        yield from kept.to_batches()
