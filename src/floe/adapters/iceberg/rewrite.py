"""Overwrites and upserts as one Iceberg ``overwrite`` snapshot: one commit, one version.

PyIceberg 0.12's ``Transaction.overwrite`` stages a ``delete`` snapshot
(files dropped whole), possibly an ``overwrite`` snapshot (files rewritten
without the matching rows) and then an ``append`` snapshot: several table
versions, milliseconds apart, and the ones in between hold states no reader
ever saw (a table without the rows being replaced). Time travel and
``retain_last`` count snapshots, so floe writes what Iceberg's Java writers
write: one ``overwrite`` snapshot that removes and adds files together.

The steps are those of ``Transaction.delete`` and ``Transaction.overwrite``,
with their own helpers: candidate files are planned with the filter; a file
whose metrics prove every row matches is dropped whole, any other is read
and, when it holds matching rows, rewritten without them
(``_expression_to_complementary_pyarrow`` keeps the rows the filter does not
select, nulls and NaNs included); the new rows are written with
``_dataframe_to_data_files``, the function ``Transaction.append`` uses. One
``_OverwriteFiles`` producer (``UpdateSnapshot.overwrite()``'s, with one
manifest evaluator per thread: ``producers.py``) deletes and adds every
file. It carries the filter as its conflict predicate, so PyIceberg's
commit retry, which re-applies it on fresh metadata, keeps files
other writers appended meanwhile and refuses (``ValidationException``) when
they added rows the filter selects or removed a file this one replaces.

An overwrite's filter is first made explicit about nulls and NaNs
(:func:`rows_where`): the rows it removes are then exactly the rows a scan
with the same filter returns.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pyarrow as pa
from pyiceberg.expressions import (
    AlwaysFalse,
    AlwaysTrue,
    And,
    BooleanExpression,
    In,
    IsNaN,
    IsNull,
    Not,
    NotEqualTo,
    NotIn,
    NotNaN,
    NotNull,
    Or,
    UnboundPredicate,
)
from pyiceberg.expressions.visitors import ROWS_MUST_MATCH, _StrictMetricsEvaluator, bind
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    ArrowScan,
    _dataframe_to_data_files,
    _expression_to_complementary_pyarrow,
)
from pyiceberg.manifest import DataFile
from pyiceberg.schema import Schema
from pyiceberg.table import DataScan, FileScanTask, Transaction
from pyiceberg.table.refs import MAIN_BRANCH

from floe.adapters.filters import is_floating
from floe.adapters.iceberg.producers import OverwriteFiles, overwrite_producer
from floe.adapters.iceberg.staged import discard
from floe.adapters.iceberg.written import WrittenFiles

_REWRITERS = 4  # files read and rewritten at once: memory holds about this many
_T = TypeVar("_T")
_R = TypeVar("_R")


def stage_overwrite(
    tx: Transaction,
    io: FileIO,
    delete_filter: BooleanExpression,
    data: pa.Table,
    snapshot_properties: dict[str, str],
    branch: str = MAIN_BRANCH,
    *,
    producer: OverwriteFiles | None = None,
    added: Sequence[DataFile] = (),
) -> int:
    """Stage one snapshot in ``tx``: the rows ``delete_filter`` selects out, ``data`` in.

    Schema and partition-spec changes staged in ``tx`` before apply: kept
    rows of rewritten files and the new rows are written under them.

    Args:
        tx: The write's transaction.
        io: The table's file IO.
        delete_filter: The rows to remove, unbound (``AlwaysFalse`` removes none).
        data: The rows to add, conformed to the transaction's schema.
        snapshot_properties: Extra entries of the snapshot summary.
        branch: The branch whose head is read and committed to.
        producer: The snapshot's producer when the caller made it (from
            :func:`overwrite_producer`, on ``branch``), e.g. to name files
            written elsewhere after its commit uuid; ``snapshot_properties``
            is then unused.
        added: Data files already written (under the transaction's schema)
            that the snapshot adds too; deleted with everything else staged
            when the staging fails.

    Returns:
        The number of rows removed.
    """
    written = WrittenFiles(io)
    producing = producer or overwrite_producer(tx, io, snapshot_properties, branch)
    try:
        return _stage_overwrite(tx, io, written, delete_filter, data, producing, added, branch)
    except BaseException:
        # Nothing was staged and every worker has stopped: the files written
        # so far (a failing worker's own included) and the manifests the
        # producer wrote before failing are nobody's.
        written.delete_all()
        discard(tx, io, producers=[producing])
        raise


def _stage_overwrite(
    tx: Transaction,
    io: FileIO,
    written: WrittenFiles,
    delete_filter: BooleanExpression,
    data: pa.Table,
    producer: OverwriteFiles,
    added: Sequence[DataFile],
    branch: str,
) -> int:
    """:func:`stage_overwrite`, reading through ``io`` and writing through ``written``."""
    metadata = tx.table_metadata
    schema = metadata.schema()
    removed = 0
    counter = itertools.count(0)  # one sequence: file names are unique per commit uuid
    if delete_filter != AlwaysFalse():
        producer.delete_by_predicate(delete_filter)
        bound = bind(schema, delete_filter, case_sensitive=True)
        all_match = _StrictMetricsEvaluator(schema, delete_filter).eval
        keep = _expression_to_complementary_pyarrow(bound, schema)
        partial: list[FileScanTask] = []
        for task in plan_candidates(tx, io, delete_filter, branch):
            original = task.file
            if not task.delete_files and all_match(original) == ROWS_MUST_MATCH:
                producer.delete_data_file(original)
                removed += original.record_count
            else:
                partial.append(task)

        def without(task: FileScanTask) -> tuple[int, list[DataFile]]:
            """The rows ``task``'s file loses, and the files holding the rest."""
            rows = ArrowScan(metadata, io, schema, AlwaysTrue()).to_table(tasks=[task])
            kept = rows.filter(keep)
            lost = rows.num_rows - kept.num_rows
            if not lost or not kept.num_rows:
                return lost, []
            files = _dataframe_to_data_files(metadata, kept, written, producer.commit_uuid, counter)
            return lost, list(files)

        # Files are read, filtered and rewritten a few at a time, in a pool of
        # its own (ArrowScan and the writer wait on PyIceberg's shared pool);
        # the producer is then fed in plan order.
        outcomes = run_all(without, partial, _REWRITERS)
        for task, (lost, files) in zip(partial, outcomes, strict=True):
            if not lost:
                continue
            producer.delete_data_file(task.file)
            removed += lost
            for rewritten in files:
                producer.append_data_file(rewritten)
    if data.num_rows:
        for new_file in _dataframe_to_data_files(
            metadata, data, written, producer.commit_uuid, counter
        ):
            producer.append_data_file(new_file)
    for data_file in added:
        producer.append_data_file(data_file)
    producer.commit()
    return removed


def run_all(work: Callable[[_T], _R], items: Sequence[_T], workers: int) -> list[_R]:
    """``work`` on every item, ``workers`` at a time; the results in the items' order.

    The first failure cancels the items not started yet and is raised once
    the running ones have finished, so no worker writes after this returns.
    """
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def rows_where(
    expression: BooleanExpression, schema: Schema, truth: bool = True
) -> BooleanExpression:
    """A filter selecting exactly the rows where ``expression`` is ``truth`` in a scan.

    Scans (and the in-memory adapter) evaluate filters with Arrow: a row is
    selected when the filter is TRUE, never when it is NULL (a comparison
    with a null) or FALSE; a null is simply not IN a set. PyIceberg's
    delete, which an overwrite runs first, decides differently in places:
    whole files are dropped on Iceberg metrics, where a null matches
    ``col != v``, and the rows kept from a rewritten file add every null or
    NaN row of a column the filter names without ``is null``/``is nan``. So
    an overwrite with ``ts != '…'`` could delete null-``ts`` rows that the
    same filter does not select. The returned filter names nulls and NaNs
    explicitly, so every evaluator PyIceberg uses agrees with the scan.
    """
    if isinstance(expression, AlwaysTrue | AlwaysFalse):
        return expression if truth else Not(expression)
    if isinstance(expression, Not):
        return rows_where(expression.child, schema, not truth)
    if isinstance(expression, And | Or):
        left = rows_where(expression.left, schema, truth)
        right = rows_where(expression.right, schema, truth)
        conjunction = isinstance(expression, And) == truth
        return And(left, right) if conjunction else Or(left, right)
    if isinstance(expression, IsNull | NotNull):  # never NULL itself
        nullness = expression if truth else ~expression
        # Naming NaN (a no-op) stops PyIceberg's row-level delete from keeping
        # every NaN row of a column the filter does not mention NaN for.
        nan, not_nan = IsNaN(term=expression.term), NotNaN(term=expression.term)
        if isinstance(nullness, IsNull):
            return Or(nullness, And(nan, nullness))
        return And(nullness, Or(not_nan, nan))
    if not isinstance(expression, UnboundPredicate):
        return expression  # not produced by the filter parser
    term = expression.term
    core = expression if truth else ~expression
    if isinstance(expression, In | NotIn):
        # Arrow's membership test is two-valued: a null is simply not in the set.
        if isinstance(core, NotIn):
            return Or(Or(core, IsNull(term=term)), IsNaN(term=term))
        return And(And(core, NotNull(term=term)), NotNaN(term=term))
    if isinstance(expression, IsNaN | NotNaN):
        if not is_floating(term, schema):  # bound as a constant: no value is NaN
            return AlwaysTrue() if isinstance(core, NotNaN) else AlwaysFalse()
        return And(NotNull(term=term), core)
    # A comparison with a null is NULL (never selected); with NaN, Arrow makes
    # != true and every other comparison false. A negation was pushed into the
    # operator (``not (f >= 0)`` is ``f < 0``), as scans do.
    if isinstance(core, NotEqualTo):
        return And(NotNull(term=term), Or(And(core, NotNaN(term=term)), IsNaN(term=term)))
    return And(NotNull(term=term), And(core, NotNaN(term=term)))


def plan_candidates(
    tx: Transaction, io: FileIO, delete_filter: BooleanExpression, branch: str = MAIN_BRANCH
) -> list[FileScanTask]:
    """The files of ``branch``'s head that may hold rows ``delete_filter`` selects, by metrics.

    PyIceberg 0.12's residual evaluation can raise ``TypeError`` on a null
    partition value (see the scan's re-planning); every file is then a
    candidate, which only costs reading more of them.
    """
    metadata = tx.table_metadata
    head = metadata.snapshot_by_name(branch)
    if head is None:
        return []
    tasks: Iterable[FileScanTask]
    try:
        tasks = DataScan(
            table_metadata=metadata, io=io, row_filter=delete_filter, snapshot_id=head.snapshot_id
        ).plan_files()
    except TypeError:
        tasks = DataScan(
            table_metadata=metadata, io=io, row_filter=AlwaysTrue(), snapshot_id=head.snapshot_id
        ).plan_files()
    return list(tasks)
