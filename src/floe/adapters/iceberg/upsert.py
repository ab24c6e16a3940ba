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
* they are read (in parallel, under the transaction's schema) and matched
  with the incoming keys in one go over all of them, so the keys are hashed
  once: a single key whose values compare exactly by their bytes with a set
  lookup (``index_in``), any other key with Arrow's hash join;
* a matched row is updated when a non-key column differs, as
  ``upsert_util.get_rows_to_update`` decides: values compare as Python
  values do, so a null equals a null and a NaN differs from everything;
* only files holding an updated row are rewritten without those rows; the
  updated and the new rows are added by the same ``_OverwriteFiles``
  producer (one ``overwrite`` snapshot), which carries the range predicate
  as its conflict predicate, so PyIceberg's commit retry refuses a commit
  another writer made to the same keys or to the replaced files meanwhile.
  The output is grouped once by its partition values and each partition
  written by its own call (PyIceberg's writer filters the whole table once
  per partition). New rows alone are one ``append``; no change, no snapshot.

Memory is bounded by the files the keys touch, not by the table.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import FileScanTask, Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Operation

from floe.adapters.iceberg.rewrite import plan_candidates
from floe.domain.errors import WriteError

_SOURCE = "__floe_source_row"
_TARGET = "__floe_target_row"
_READERS = 8  # files read at once


def stage_upsert(
    tx: Transaction,
    table: Table,
    data: pa.Table,
    keys: list[str],
    props: dict[str, str],
    *,
    name: str = "",
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

    Returns:
        The rows updated and the rows inserted.

    Raises:
        WriteError: An incoming key matches more than one row of the table.
    """
    if not data.num_rows:
        return 0, 0
    metadata = tx.table_metadata
    io = table.io
    within = key_range(data, keys)
    tasks = plan_candidates(tx, io, within) if metadata.current_snapshot() else []
    matchable = _matchable(data, keys)
    probe = data.select(keys).append_column(_SOURCE, _positions(data.num_rows))
    if matchable is not None:
        probe = probe.filter(matchable)
    compared = [c for c in data.column_names if c not in keys]

    matched = pa.chunked_array([], pa.int64())
    updated = pa.chunked_array([], pa.int64())
    rewritten: list[tuple[FileScanTask, pa.Table]] = []
    if tasks and probe.num_rows:
        schema = metadata.schema()

        def read(task: FileScanTask) -> pa.Table:
            return ArrowScan(metadata, io, schema, AlwaysTrue()).to_table(tasks=[task])

        # A pool of its own: ArrowScan runs its reads on PyIceberg's shared pool, and
        # reading files from inside that pool deadlocks once every worker waits.
        with ThreadPoolExecutor(max_workers=_READERS) as readers:
            files = list(readers.map(read, tasks))
        # One match over every file's rows (chunks of one table, no copy): the
        # incoming keys are hashed once, not once per file.
        offsets = np.cumsum([0] + [f.num_rows for f in files])
        candidates = pa.concat_tables(files)
        source, target, changed = _match(candidates, probe, data, keys, compared)
        matched = source.column(0)
        updated = source.filter(changed).column(0)
        gone = target.filter(changed).column(0).to_numpy()
        if len(gone):
            kept = np.ones(candidates.num_rows, dtype=np.bool_)
            kept[gone] = False
            touched = np.unique(np.searchsorted(offsets, gone, side="right") - 1)
            for i in touched.tolist():
                rows = files[i].filter(kept[offsets[i] : offsets[i + 1]])
                rewritten.append((tasks[i], rows))
    if len(pc.unique(matched)) != len(matched):
        raise WriteError(
            f"upsert into table {name}: the table holds several rows for one key of join "
            f"columns {keys}; nothing was written",
            subject=name,
        )
    is_matched = np.zeros(data.num_rows, dtype=np.bool_)
    is_matched[matched.to_numpy()] = True
    is_updated = np.zeros(data.num_rows, dtype=np.bool_)
    is_updated[updated.to_numpy()] = True
    inserts = data.filter(~is_matched)
    updates = data.filter(is_updated)
    if rewritten:
        _stage_rewrite(tx, io, within, rewritten, pa.concat_tables([updates, inserts]), props)
    elif inserts.num_rows:
        tx.append(inserts, snapshot_properties=props)
    return updates.num_rows, inserts.num_rows


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
    rows: pa.Table, probe: pa.Table, data: pa.Table, keys: list[str], compared: list[str]
) -> tuple[pa.Table, pa.Table, pa.Array]:
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
        target = pa.table({_TARGET: _positions(rows.num_rows).filter(hit)})
        source = pa.table({_SOURCE: probe.column(_SOURCE).take(found.filter(hit))})
    else:
        build = pa.table(
            {k: rows.column(k).cast(probe_schema.field(k).type) for k in keys}
        ).append_column(_TARGET, _positions(rows.num_rows))
        joined = probe.join(build, keys=keys, join_type="inner")
        source = joined.select([_SOURCE])
        target = joined.select([_TARGET])
    if not source.num_rows:
        return source, target, pa.array([], pa.bool_())
    mine = data.select(compared).take(source.column(0))
    theirs = rows.select(compared).take(target.column(0))
    changed: pa.Array | None = None
    for column in compared:
        differs = _differs(mine.column(column), theirs.column(column))
        changed = differs if changed is None else pc.or_(changed, differs)
    if changed is None:  # every column is a key column: a match changes nothing
        return source, target, pa.array(np.zeros(source.num_rows, dtype=np.bool_))
    return source, target, changed


def _differs(new: pa.ChunkedArray, old: pa.ChunkedArray) -> pa.Array:
    """Per row, whether ``new`` differs from ``old`` as their Python values do.

    ``upsert_util.get_rows_to_update`` compares ``as_py()`` values with
    ``!=``: a null equals a null only, a NaN differs even from a NaN.
    """
    if old.type != new.type:
        old = old.cast(new.type)
    if pa.types.is_nested(new.type):
        return pa.array(
            [a != b for a, b in zip(new.to_pylist(), old.to_pylist(), strict=True)], pa.bool_()
        )
    both_null = pc.and_(pc.is_null(new), pc.is_null(old))
    unequal = pc.fill_null(pc.not_equal(new, old), True)
    return pc.and_not(unequal, both_null).combine_chunks()


def _stage_rewrite(
    tx: Transaction,
    io: FileIO,
    within: BooleanExpression,
    rewritten: list[tuple[FileScanTask, pa.Table]],
    added: pa.Table,
    props: dict[str, str],
) -> None:
    """One ``overwrite`` snapshot: touched files out, their kept rows and ``added`` in."""
    metadata = tx.table_metadata
    producer = tx.update_snapshot(snapshot_properties=props).overwrite()
    # Conflicts are judged as for PyIceberg's own overwrite (write.update.isolation-level);
    # the key range covers every key this upsert reads, updates or inserts.
    producer._isolation_operation = Operation.OVERWRITE
    producer.delete_by_predicate(within)
    for task, _ in rewritten:
        producer.delete_data_file(task.file)
    kept = [rows for _, rows in rewritten if rows.num_rows]
    kept = [k.select(added.column_names).cast(added.schema) for k in kept]
    out = pa.concat_tables([*kept, added])
    for written in write_by_partition(metadata, out, io, producer.commit_uuid):
        producer.append_data_file(written)
    producer.commit()


def write_by_partition(
    metadata: TableMetadata, rows: pa.Table, io: FileIO, commit_uuid: uuid.UUID
) -> list[DataFile]:
    """Data files holding ``rows`` under the current spec, one partition at a time.

    What ``_dataframe_to_data_files`` writes for the whole table (files per
    partition, split at the target size), without its cost on many
    partitions: it filters the whole table once per partition. Here the
    rows are grouped once (Arrow's group-by on the partition values) and
    each partition's rows are written by their own call, several at once.
    A spec whose source columns are not top-level columns of ``rows`` is
    left to one call.
    """
    counter = itertools.count(0)
    groups = _partition_groups(metadata, rows)
    if groups is None or len(groups) < 2:
        return list(_dataframe_to_data_files(metadata, rows, io, commit_uuid, counter))

    # One gather puts each partition's rows together; each is then a zero-copy slice.
    ordered = rows.combine_chunks().take(pa.concat_arrays(groups))
    starts = np.cumsum([0] + [len(g) for g in groups])

    def write(i: int) -> list[DataFile]:
        part = ordered.slice(starts[i], starts[i + 1] - starts[i])
        return list(_dataframe_to_data_files(metadata, part, io, commit_uuid, counter))

    # A pool of its own: each call waits on PyIceberg's shared pool for its files.
    with ThreadPoolExecutor(max_workers=_READERS) as writers:
        return list(itertools.chain.from_iterable(writers.map(write, range(len(groups)))))


def _partition_groups(metadata: TableMetadata, rows: pa.Table) -> list[pa.Array] | None:
    """Row numbers of ``rows`` per partition of the current spec (None: not computable)."""
    spec, schema = metadata.spec(), metadata.schema()
    if spec.is_unpartitioned() or not rows.num_rows:
        return None
    values: dict[str, pa.Array] = {}
    try:
        for i, field in enumerate(spec.fields):
            source = schema.find_field(field.source_id)
            column = schema.find_column_name(field.source_id)
            if column is None or column not in rows.column_names:
                return None
            transform = field.transform.pyarrow_transform(source.field_type)
            values[f"p{i}"] = transform(rows.column(column))
    except (NotImplementedError, ValueError, TypeError, pa.ArrowException):
        return None
    keyed = pa.table(values).append_column(_TARGET, _positions(rows.num_rows))
    grouped = keyed.group_by(list(values), use_threads=False).aggregate([(_TARGET, "list")])
    return [chunk.values for chunk in _list_chunks(grouped.column(f"{_TARGET}_list"))]


def _list_chunks(lists: pa.ChunkedArray) -> list[pa.ListScalar]:
    return [item for chunk in lists.chunks for item in chunk]
