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
* they are read (in parallel, under the transaction's schema) and joined
  with the incoming keys (Arrow's hash join);
* a matched row is updated when a non-key column differs, as
  ``upsert_util.get_rows_to_update`` decides: values compare as Python
  values do, so a null equals a null and a NaN differs from everything;
* only files holding an updated row are rewritten without those rows; the
  updated and the new rows are added by the same ``_OverwriteFiles``
  producer (one ``overwrite`` snapshot), which carries the range predicate
  as its conflict predicate, so PyIceberg's commit retry refuses a commit
  another writer made to the same keys or to the replaced files meanwhile.
  New rows alone are one ``append``; no change, no snapshot.

Memory is bounded by the files the keys touch, not by the table.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

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
from pyiceberg.table import FileScanTask, Table, Transaction
from pyiceberg.table.refs import MAIN_BRANCH
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
    metadata = tx.table_metadata
    io = table.io
    within = key_range(data, keys)
    tasks = plan_candidates(tx, io, within, branch)
    matchable = _matchable(data, keys)
    probe = data.select(keys).append_column(_SOURCE, pa.array(range(data.num_rows), pa.int64()))
    probe = probe.filter(matchable)
    compared = [c for c in data.column_names if c not in keys]

    matched = pa.chunked_array([], pa.int64())
    updated = pa.chunked_array([], pa.int64())
    rewritten: list[tuple[FileScanTask, pa.Table]] = []
    if tasks and probe.num_rows:
        schema = metadata.schema()

        def read(task: FileScanTask) -> pa.Table:
            return ArrowScan(metadata, io, schema, AlwaysTrue()).to_table(tasks=[task])

        matches: list[pa.ChunkedArray] = []
        changes: list[pa.ChunkedArray] = []
        # A pool of its own: ArrowScan runs its reads on PyIceberg's shared pool, and
        # reading files from inside that pool deadlocks once every worker waits.
        with ThreadPoolExecutor(max_workers=_READERS) as readers:
            files = list(readers.map(read, tasks))
        for task, rows in zip(tasks, files, strict=True):
            source, target, changed = _match(rows, probe, data, keys, compared)
            if not source.num_rows:
                continue
            matches.append(source.column(0))
            if pc.any(changed).as_py():
                changes.append(source.filter(changed).column(0))
                replaced = pc.is_in(
                    pa.array(range(rows.num_rows), pa.int64()),
                    value_set=target.filter(changed).column(0).combine_chunks(),
                )
                rewritten.append((task, rows.filter(pc.invert(replaced))))
        if matches:
            matched = pa.chunked_array(itertools.chain.from_iterable(m.chunks for m in matches))
        if changes:
            updated = pa.chunked_array(itertools.chain.from_iterable(c.chunks for c in changes))
    if len(pc.unique(matched)) != len(matched):
        raise WriteError(
            f"upsert into table {name}: the table holds several rows for one key of join "
            f"columns {keys}; nothing was written",
            subject=name,
        )
    positions = pa.array(range(data.num_rows), pa.int64())
    inserts = data.filter(pc.invert(pc.is_in(positions, value_set=matched.combine_chunks())))
    updates = data.filter(pc.is_in(positions, value_set=updated.combine_chunks()))
    if rewritten:
        added = pa.concat_tables([updates, inserts])
        _stage_rewrite(tx, io, within, rewritten, added, props, branch)
    elif inserts.num_rows:
        tx.append(inserts, snapshot_properties=props, branch=branch)
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


def _matchable(data: pa.Table, keys: Sequence[str]) -> pa.Array:
    """The incoming rows whose key can match a row: a NaN equals nothing, as in Python."""
    mask = pa.array([True] * data.num_rows)
    for key in keys:
        column = data.column(key)
        if pa.types.is_floating(column.type):
            mask = pc.and_(mask, pc.invert(pc.is_nan(column).combine_chunks()))
    return mask


def _match(
    rows: pa.Table, probe: pa.Table, data: pa.Table, keys: list[str], compared: list[str]
) -> tuple[pa.Table, pa.Table, pa.Array]:
    """Join one file's rows with the incoming keys.

    Returns:
        The matched incoming row numbers, the matched row numbers of the
        file (aligned) and whether each match changes a non-key column.
    """
    probe_schema = probe.schema
    build = pa.table(
        {k: rows.column(k).cast(probe_schema.field(k).type) for k in keys}
    ).append_column(_TARGET, pa.array(range(rows.num_rows), pa.int64()))
    joined = probe.join(build, keys=keys, join_type="inner")
    source = joined.select([_SOURCE])
    target = joined.select([_TARGET])
    if not joined.num_rows:
        return source, target, pa.array([], pa.bool_())
    mine = data.take(source.column(0))
    theirs = rows.take(target.column(0))
    changed = pa.array([False] * joined.num_rows)
    for column in compared:
        changed = pc.or_(changed, _differs(mine.column(column), theirs.column(column)))
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
    branch: str,
) -> None:
    """One ``overwrite`` snapshot: touched files out, their kept rows and ``added`` in."""
    metadata = tx.table_metadata
    producer = tx.update_snapshot(snapshot_properties=props, branch=branch).overwrite()
    # Conflicts are judged as for PyIceberg's own overwrite (write.update.isolation-level);
    # the key range covers every key this upsert reads, updates or inserts.
    producer._isolation_operation = Operation.OVERWRITE
    producer.delete_by_predicate(within)
    for task, _ in rewritten:
        producer.delete_data_file(task.file)
    kept = [rows for _, rows in rewritten if rows.num_rows]
    kept = [k.select(added.column_names).cast(added.schema) for k in kept]
    out = pa.concat_tables([*kept, added])
    counter = itertools.count(0)
    for written in _dataframe_to_data_files(metadata, out, io, producer.commit_uuid, counter):
        producer.append_data_file(written)
    producer.commit()
