"""Upserts by a hash join over the files the incoming keys can touch: one snapshot.

PyIceberg 0.12's ``Transaction.upsert`` filters the table with one ``In``
(or an ``Or`` of ``And``s, for a compound key) listing every incoming key,
compares matched rows one by one in Python, then overwrites with the same
giant filter: its cost grows with the number of keys times the table, and
it commits a ``delete`` and two ``append`` snapshots. It also reads the
matched rows through the branch's snapshot schema, so it fails once a
column was added after the last snapshot.

:func:`stage_upsert` keeps its semantics and stages one snapshot:

* the files that may hold an incoming key are planned with a range
  predicate (each key column between the incoming minimum and maximum), so
  PyIceberg prunes them by partition values and column bounds;
* they are read under the transaction's schema by one PyIceberg scan over
  all of them (on PyIceberg's pool; each file alone when delete files
  apply, so that every file's rows are known) and matched with the
  incoming keys in one go over all of them, so the keys are hashed once:
  a single key whose values compare exactly by their bytes with a set
  lookup (``index_in``), any other key with Arrow's hash join;
* a matched row is updated when a non-key column differs, as
  ``upsert_util.get_rows_to_update`` decides: values compare as Python
  values do, so a null equals a null and a NaN differs from everything
  (columns compared one at a time, fixed-width ones first, each only for
  the matches still equal);
* only files holding an updated row are rewritten without those rows; the
  updated and the new rows are added by the same ``_OverwriteFiles``
  producer (``producers.py``; one ``overwrite`` snapshot), which carries the range predicate
  as its conflict predicate, so PyIceberg's commit retry refuses a commit
  another writer made to the same keys or to the replaced files meanwhile.
  The output is grouped once by its partition values and each partition's
  kept rows cut out and its files written as PyIceberg ``WriteTask``s,
  several partitions at once (PyIceberg's writer filters the whole table
  once per partition). New rows alone are
  one ``append``; no change, no snapshot.

Memory is bounded by the files the keys touch, not by the table. Every file
is written through :class:`WrittenFiles`: a failure deletes what was written.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    GreaterThanOrEqual,
    LessThanOrEqual,
    Reference,
)
from pyiceberg.expressions.literals import literal
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    ArrowScan,
    _dataframe_to_data_files,
    bin_pack_arrow_table,
    pyarrow_to_schema,
    write_file,
)
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import (
    DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE,
    FileScanTask,
    Table,
    TableProperties,
    Transaction,
    WriteTask,
)
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.utils.config import Config
from pyiceberg.utils.properties import property_as_int

from floe.adapters.iceberg.producers import overwrite_producer
from floe.adapters.iceberg.rewrite import plan_candidates, run_all
from floe.adapters.iceberg.staged import discard
from floe.adapters.iceberg.streaming import append_producer
from floe.adapters.iceberg.written import WrittenFiles
from floe.domain.errors import WriteError

_SOURCE = "__floe_source_row"
_TARGET = "__floe_target_row"
_READERS = 8  # files read one by one, or partitions written, at once


def stage_upsert(
    tx: Transaction,
    table: Table,
    data: pa.Table,
    keys: list[str],
    props: dict[str, str],
    *,
    name: str = "",
    branch: str = MAIN_BRANCH,
) -> tuple[int, int]:
    """Stage an upsert of ``data`` on ``keys`` in ``tx``: one snapshot, or none.

    Changed rows leave their files and arrive with the new rows in one
    ``overwrite`` snapshot; new rows alone are one ``append``. Rows equal to
    the ones they match change nothing.

    Args:
        tx: The write's transaction (schema and spec changes already staged).
        table: The table ``tx`` writes to.
        data: The incoming rows, conformed, at most one per key, no null key.
        keys: The join columns.
        props: Extra entries of the snapshot summary.
        name: The table's name, for messages.
        branch: The branch whose head is matched against and committed to.

    Returns:
        The rows updated and the rows inserted.

    Raises:
        WriteError: An incoming key matches more than one row of the table.
    """
    if not data.num_rows:
        return 0, 0
    written = WrittenFiles(table.io)
    try:
        return _stage_upsert(tx, table.io, written, data, keys, props, name, branch)
    except BaseException:
        # Nothing was staged and every writer has stopped: the files written so
        # far (a failing writer's own included) and any manifest a producer
        # wrote before failing are nobody's.
        written.delete_all()
        discard(tx, table.io)
        raise


def _stage_upsert(
    tx: Transaction,
    io: FileIO,
    written: WrittenFiles,
    data: pa.Table,
    keys: list[str],
    props: dict[str, str],
    name: str,
    branch: str,
) -> tuple[int, int]:
    """:func:`stage_upsert`, reading through ``io`` and writing through ``written``."""
    metadata = tx.table_metadata
    within = key_range(data, keys)
    tasks = plan_candidates(tx, io, within, branch)
    matchable = _matchable(data, keys)
    probe = data.select(keys).append_column(_SOURCE, _positions(data.num_rows))
    if matchable is not None:
        probe = probe.filter(matchable)
    compared = [c for c in data.column_names if c not in keys]

    matched = updated = np.zeros(0, dtype=np.int64)
    rewritten: list[tuple[FileScanTask, pa.Table, np.ndarray]] = []
    if tasks and probe.num_rows:
        # One match over every file's rows: the incoming keys are hashed once,
        # not once per file.
        candidates, offsets = _read_candidates(metadata, io, tasks)
        source, target, changed = _match(candidates, probe, data, keys, compared)
        matched = source
        updated = source[changed]
        gone = target[changed]
        if len(gone):
            kept = np.ones(candidates.num_rows, dtype=np.bool_)
            kept[gone] = False
            touched = np.unique(np.searchsorted(offsets, gone, side="right") - 1)
            # Zero-copy slices: the writers cut the kept rows out, in parallel.
            candidates = candidates.select(data.column_names).cast(data.schema)
            for i in touched.tolist():
                start, end = int(offsets[i]), int(offsets[i + 1])
                rewritten.append((tasks[i], candidates.slice(start, end - start), kept[start:end]))
        del candidates
    is_matched = np.zeros(data.num_rows, dtype=np.bool_)
    is_matched[matched] = True
    if int(is_matched.sum()) != len(matched):  # an incoming row matched twice
        raise WriteError(
            f"upsert into table {name}: the table holds several rows for one key of join "
            f"columns {keys}; nothing was written",
            subject=name,
        )
    is_updated = np.zeros(data.num_rows, dtype=np.bool_)
    is_updated[updated] = True
    inserts = data.filter(~is_matched)
    updates = data.filter(is_updated)
    if rewritten:
        added = pa.concat_tables([updates, inserts])
        _stage_rewrite(tx, written, within, rewritten, added, props, branch)
    elif inserts.num_rows:  # what ``Transaction.append`` does, writing through ``written``
        producer = append_producer(tx, props, branch)
        for added in _dataframe_to_data_files(metadata, inserts, written, producer.commit_uuid):
            producer.append_data_file(added)
        producer.commit()
    return updates.num_rows, inserts.num_rows


def _read_candidates(
    metadata: TableMetadata, io: FileIO, tasks: list[FileScanTask]
) -> tuple[pa.Table, np.ndarray]:
    """Every row of ``tasks``' files under the table's schema, in task order.

    Returns:
        The rows, and where each task's rows start (one more entry: the end).
    """
    scan = ArrowScan(metadata, io, metadata.schema(), AlwaysTrue())
    if not any(task.delete_files for task in tasks):
        # One scan over every file, on PyIceberg's pool: without delete files a
        # task yields exactly its file's ``record_count`` rows, in task order.
        counts = [task.file.record_count for task in tasks]
        rows = scan.to_table(tasks)
        if rows.num_rows == sum(counts):
            return rows, np.cumsum([0, *counts])

    def read(task: FileScanTask) -> pa.Table:
        return scan.to_table(tasks=[task])

    # Rows removed by delete files: each file read alone, so its rows are counted.
    # A pool of its own: ArrowScan runs its reads on PyIceberg's shared pool, and
    # reading files from inside that pool deadlocks once every worker waits.
    files = run_all(read, tasks, _READERS)
    return pa.concat_tables(files), np.cumsum([0] + [f.num_rows for f in files])


def key_range(data: pa.Table, keys: Sequence[str]) -> BooleanExpression:
    """Each key column between the smallest and the largest incoming value, unbound.

    Cheap to plan with and to validate against, whatever the number of keys.
    A column whose values have no usable order (NaN among them, a type
    without Iceberg literals) is left unbounded: the range only has to cover
    every incoming key.
    """
    bounds: BooleanExpression = AlwaysTrue()
    for key in keys:
        column = data.column(key)
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            continue
        try:
            low, high = (v.as_py() for v in pc.min_max(column).values())
            term = Reference(key)
            above = GreaterThanOrEqual(term=term, value=literal(low))
            below = LessThanOrEqual(term=term, value=literal(high))
            bounds = And(bounds, And(above, below))
        except (pa.ArrowNotImplementedError, TypeError, ValueError):
            continue
    return bounds


def _positions(count: int) -> pa.Array:
    """Row numbers ``0 .. count - 1``."""
    return pa.array(np.arange(count, dtype=np.int64))


def _matchable(data: pa.Table, keys: Sequence[str]) -> pa.ChunkedArray | None:
    """The incoming rows whose key can match a row: a NaN equals nothing, as in Python.

    ``None`` when every row can (no floating-point key column).
    """
    mask: pa.ChunkedArray | None = None
    for key in keys:
        column = data.column(key)
        if pa.types.is_floating(column.type):
            not_nan = pc.invert(pc.is_nan(column))
            mask = not_nan if mask is None else pc.and_(mask, not_nan)
    return mask


def _hashable_exactly(kind: pa.DataType) -> bool:
    """Whether Arrow's set lookup (``index_in``) matches values of ``kind`` as ``==`` does.

    Integers, strings, binaries, dates, times and timestamps: equal exactly
    when their bytes are. Not floating point (``0.0 == -0.0``) nor decimals
    of different scales; those go through the hash join.
    """
    return bool(
        pa.types.is_integer(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_binary(kind)
        or pa.types.is_large_binary(kind)
        or pa.types.is_date(kind)
        or pa.types.is_time(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_boolean(kind)
    )


def _match(
    rows: pa.Table,
    probe: pa.Table,
    data: pa.Table,
    keys: list[str],
    compared: list[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Join the candidate files' rows with the incoming keys.

    Returns:
        The matched incoming row numbers, the matched row numbers of
        ``rows`` (aligned) and whether each match changes a non-key column.
    """
    probe_schema = probe.schema
    kind = probe_schema.field(keys[0]).type
    if len(keys) == 1 and _hashable_exactly(kind):
        # One key: a set lookup of the file's keys among the incoming ones
        # (hashing the smaller side), no join to materialise.
        found = pc.index_in(rows.column(keys[0]).cast(kind), value_set=probe.column(0))
        hit = pc.is_valid(found)
        target = pc.indices_nonzero(hit).to_numpy().astype(np.int64)
        source = probe.column(_SOURCE).take(found.filter(hit)).to_numpy()
    else:
        build = pa.table(
            {k: rows.column(k).cast(probe_schema.field(k).type) for k in keys}
        ).append_column(_TARGET, _positions(rows.num_rows))
        joined = probe.join(build, keys=keys, join_type="inner")
        source = joined.column(_SOURCE).to_numpy()
        target = joined.column(_TARGET).to_numpy()
    return source, target, _changed(data, rows, source, target, compared)


def _changed(
    data: pa.Table, rows: pa.Table, source: np.ndarray, target: np.ndarray, compared: list[str]
) -> np.ndarray:
    """Per match, whether incoming row ``source[i]`` differs from ``rows``' row ``target[i]``.

    Columns are compared one at a time, fixed-width ones first, each only
    for the matches no earlier column told apart: most updates differ in a
    cheap column, so their strings are never gathered.
    """
    changed = np.zeros(len(source), dtype=np.bool_)
    pending = np.arange(len(source))  # matches equal in every column compared so far
    for column in sorted(compared, key=lambda c: _compare_cost(data.schema.field(c).type)):
        if not len(pending):
            break
        mine = data.column(column).take(source[pending])
        theirs = rows.column(column).take(target[pending])
        differs = _differs(mine, theirs).to_numpy(zero_copy_only=False)
        changed[pending[differs]] = True
        pending = pending[~differs]
    return changed


def _compare_cost(kind: pa.DataType) -> int:
    """A rough cost of gathering and comparing a value of ``kind`` (an order, not a measure)."""
    if pa.types.is_nested(kind):
        return 1 << 20
    try:
        return int(kind.bit_width)
    except ValueError:  # variable width: strings, binaries
        return 1 << 10


def _differs(new: pa.ChunkedArray, old: pa.ChunkedArray) -> pa.Array:
    """Per row, whether ``new`` differs from ``old`` as their Python values do.

    ``upsert_util.get_rows_to_update`` compares ``as_py()`` values with
    ``!=``: a null equals a null only, a NaN differs even from a NaN.
    """
    if old.type != new.type:
        old = old.cast(new.type)
    if pa.types.is_nested(new.type):
        return pa.array(
            [a != b for a, b in zip(new.to_pylist(), old.to_pylist(), strict=True)],
            pa.bool_(),
        )
    both_null = pc.and_(pc.is_null(new), pc.is_null(old))
    unequal = pc.fill_null(pc.not_equal(new, old), True)
    return pc.and_not(unequal, both_null).combine_chunks()


def _stage_rewrite(
    tx: Transaction,
    io: FileIO,
    within: BooleanExpression,
    rewritten: list[tuple[FileScanTask, pa.Table, np.ndarray]],
    added: pa.Table,
    props: dict[str, str],
    branch: str,
) -> None:
    """One ``overwrite`` snapshot: touched files out, their kept rows and ``added`` in.

    Each of ``rewritten`` is a touched file, its rows (``added``'s schema)
    and which of them it keeps. The list is emptied, so that each file's
    rows are released once its partition's kept rows are cut out.
    """
    metadata = tx.table_metadata
    producer = overwrite_producer(tx, io, props, branch)
    # The key range covers every key this upsert reads, updates or inserts.
    producer.delete_by_predicate(within)
    for task, _, _ in rewritten:
        producer.delete_data_file(task.file)
    current = metadata.spec().spec_id
    # A data file holds the rows of one partition of its spec: those of the
    # current spec go with their partition, the others are grouped anew.
    whole = [(rows, keep) for t, rows, keep in rewritten if t.file.spec_id == current]
    loose = [added]
    loose += [rows.filter(keep) for t, rows, keep in rewritten if t.file.spec_id != current]
    # From here the files' rows are held by ``whole`` alone (no loop variable
    # either): each partition's are released once its kept rows are cut out.
    rewritten.clear()
    loose_rows = pa.concat_tables(loose)
    for written in write_by_partition(metadata, whole, loose_rows, io, producer.commit_uuid):
        producer.append_data_file(written)
    producer.commit()


def write_by_partition(
    metadata: TableMetadata,
    whole: list[tuple[pa.Table, np.ndarray]],
    loose: pa.Table,
    io: FileIO,
    commit_uuid: uuid.UUID,
) -> list[DataFile]:
    """Data files holding ``whole``'s kept rows and ``loose`` under the current spec, per partition.

    What ``_dataframe_to_data_files`` writes for all rows at once (files per
    partition, split at the target size), without its cost on many
    partitions: it filters the whole input once per partition and, called
    per partition, derives the partitions and the file schema again each
    time. Each of ``whole`` is the rows of one data file of the current
    spec (so of one partition) and a mask of those it keeps; ``loose`` rows
    are grouped once by their partition values (the spec's own Arrow
    transforms, Arrow's group-by). Each partition's rows are then cut out
    and joined into fresh contiguous buffers, split at the target size into
    PyIceberg ``WriteTask``s carrying their ``PartitionKey``, as
    ``_dataframe_to_data_files`` builds them, and written by PyIceberg's
    ``write_file``: several partitions at once, each from the cutting to
    the write in one worker; a failure waits for the partitions already
    running. A spec whose source columns are not top-level columns is left
    to ``_dataframe_to_data_files``. ``whole`` is emptied: each partition's
    file rows are released once they are cut out.
    """
    counter = itertools.count(0)
    spec, schema = metadata.spec(), metadata.schema()
    transforms = _partition_transforms(metadata, loose.column_names)
    if transforms is None and not spec.is_unpartitioned():
        rows = pa.concat_tables([*(t.filter(keep) for t, keep in whole), loose])
        return list(_dataframe_to_data_files(metadata, rows, io, commit_uuid, counter))
    if not transforms:
        parts: dict[tuple[Any, ...], list[_Piece]] = {(): [*whole, (loose, None)]}
    else:
        parts = _by_partition(whole, transforms)
        if loose.num_rows:
            names = [f"p{i}" for i in range(len(transforms))]
            values = [fn(loose.column(column)) for column, fn in transforms]
            keyed = pa.table([*values, _positions(loose.num_rows)], names=[*names, _TARGET])
            grouped = keyed.group_by(names, use_threads=False).aggregate([(_TARGET, "list")])
            loose = loose.combine_chunks()
            keys = zip(*(grouped.column(n).to_pylist() for n in names), strict=True)
            for key, positions in zip(
                keys, grouped.column(f"{_TARGET}_list").combine_chunks(), strict=True
            ):
                parts[tuple(key)].append((loose.take(positions.values), None))
    whole.clear()  # held by ``parts`` alone, each partition's released as it is cut out
    # The file schema and the target size, as ``_dataframe_to_data_files`` derives them.
    downcast = Config().get_bool(DOWNCAST_NS_TIMESTAMP_TO_US_ON_WRITE) or False
    task_schema = pyarrow_to_schema(
        loose.schema,
        name_mapping=schema.name_mapping,
        downcast_ns_timestamp_to_us=downcast,
        format_version=metadata.format_version,
    )
    target = property_as_int(
        metadata.properties,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
    )

    def write(part: tuple[tuple[Any, ...], list[_Piece]]) -> list[DataFile]:
        key, pieces = part
        rows = pa.concat_tables([t if keep is None else t.filter(keep) for t, keep in pieces])
        pieces.clear()  # the files' rows, read for this partition: their memory is free
        if not rows.num_rows:
            return []
        partition = None
        if transforms:
            # Fresh contiguous buffers per partition, as ``_determine_partitions``
            # hands them over: the same batches, so the same files.
            rows = rows.combine_chunks()
            partition = PartitionKey(
                field_values=[
                    PartitionFieldValue(field=field, value=value)
                    for field, value in zip(spec.fields, key, strict=True)
                ],
                partition_spec=spec,
                schema=schema,
            )
        tasks = [
            WriteTask(
                write_uuid=commit_uuid,
                task_id=next(counter),
                schema=task_schema,
                record_batches=batches,
                partition_key=partition,
            )
            for batches in bin_pack_arrow_table(rows, target or 1)
        ]
        return list(write_file(io, metadata, iter(tasks)))

    # A pool of its own: each call waits on PyIceberg's shared pool for its files.
    return list(itertools.chain.from_iterable(run_all(write, list(parts.items()), _READERS)))


_Piece = tuple[pa.Table, np.ndarray | None]  # rows, and which of them are kept (None: all)


def _by_partition(
    whole: list[tuple[pa.Table, np.ndarray]],
    transforms: list[tuple[str, Callable[[pa.Array], pa.Array]]],
) -> dict[tuple[Any, ...], list[_Piece]]:
    """The files' rows of ``whole`` by partition, each file's found from its first row."""
    parts: dict[tuple[Any, ...], list[_Piece]] = defaultdict(list)
    for rows, keep in whole:
        first = rows.slice(0, 1)
        key = tuple(fn(first.column(column)).to_pylist()[0] for column, fn in transforms)
        parts[key].append((rows, keep))
    return parts


def _partition_transforms(
    metadata: TableMetadata, columns: list[str]
) -> list[tuple[str, Callable[[pa.Array], pa.Array]]] | None:
    """Per field of the current spec, its source column and Arrow transform (None: unusable)."""
    spec, schema = metadata.spec(), metadata.schema()
    if spec.is_unpartitioned():
        return None
    found = []
    try:
        for field in spec.fields:
            column = schema.find_column_name(field.source_id)
            if column is None or column not in columns:
                return None
            source = schema.find_field(field.source_id).field_type
            found.append((column, field.transform.pyarrow_transform(source)))
    except (NotImplementedError, ValueError, TypeError, pa.ArrowException):
        return None
    return found
