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
``_OverwriteFiles`` producer (``UpdateSnapshot.overwrite()``) deletes and
adds every file. It carries the filter as its conflict predicate, so
PyIceberg's commit retry, which re-applies it on fresh metadata, keeps files
other writers appended meanwhile and refuses (``ValidationException``) when
they added rows the filter selects or removed a file this one replaces.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable

import pyarrow as pa
from pyiceberg.expressions import AlwaysFalse, AlwaysTrue, BooleanExpression
from pyiceberg.expressions.visitors import ROWS_MUST_MATCH, _StrictMetricsEvaluator, bind
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import (
    ArrowScan,
    _dataframe_to_data_files,
    _expression_to_complementary_pyarrow,
)
from pyiceberg.table import DataScan, FileScanTask, Transaction
from pyiceberg.table.snapshots import Operation


def stage_overwrite(
    tx: Transaction,
    io: FileIO,
    delete_filter: BooleanExpression,
    data: pa.Table,
    snapshot_properties: dict[str, str],
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

    Returns:
        The number of rows removed.
    """
    metadata = tx.table_metadata
    schema = metadata.schema()
    producer = tx.update_snapshot(snapshot_properties=snapshot_properties).overwrite()
    # Conflicts are judged as for PyIceberg's own overwrite (write.update.isolation-level).
    producer._isolation_operation = Operation.OVERWRITE
    removed = 0
    counter = itertools.count(0)  # one sequence: file names are unique per commit uuid
    if delete_filter != AlwaysFalse():
        producer.delete_by_predicate(delete_filter)
        bound = bind(schema, delete_filter, case_sensitive=True)
        all_match = _StrictMetricsEvaluator(schema, delete_filter).eval
        keep = _expression_to_complementary_pyarrow(bound, schema)
        for task in _candidates(tx, io, delete_filter):
            original = task.file
            if not task.delete_files and all_match(original) == ROWS_MUST_MATCH:
                producer.delete_data_file(original)
                removed += original.record_count
                continue
            rows = ArrowScan(metadata, io, schema, AlwaysTrue()).to_table(tasks=[task])
            kept = rows.filter(keep)
            if kept.num_rows == rows.num_rows:
                continue
            producer.delete_data_file(original)
            removed += rows.num_rows - kept.num_rows
            if kept.num_rows:
                for rewritten in _dataframe_to_data_files(
                    metadata, kept, io, producer.commit_uuid, counter
                ):
                    producer.append_data_file(rewritten)
    if data.num_rows:
        for added in _dataframe_to_data_files(metadata, data, io, producer.commit_uuid, counter):
            producer.append_data_file(added)
    producer.commit()
    return removed


def _candidates(
    tx: Transaction, io: FileIO, delete_filter: BooleanExpression
) -> list[FileScanTask]:
    """The current files that may hold rows ``delete_filter`` selects.

    PyIceberg 0.12's residual evaluation can raise ``TypeError`` on a null
    partition value (see the scan's re-planning); every file is then a
    candidate, which only costs reading more of them.
    """
    metadata = tx.table_metadata
    tasks: Iterable[FileScanTask]
    try:
        tasks = DataScan(table_metadata=metadata, io=io, row_filter=delete_filter).plan_files()
    except TypeError:
        tasks = DataScan(table_metadata=metadata, io=io, row_filter=AlwaysTrue()).plan_files()
    return list(tasks)
