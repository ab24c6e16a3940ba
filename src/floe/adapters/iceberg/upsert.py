"""Upserts as one snapshot, matched under the transaction's schema.

``Transaction.upsert`` (PyIceberg 0.12) reads the rows it matches through
the branch's snapshot, under that snapshot's schema: once a column was added
after the last snapshot (earlier in the same transaction, or by a schema
change that committed no rows) it cannot compare them with the incoming rows
and fails. It also commits a ``delete``, an ``append`` and another
``append`` for one upsert. :func:`stage_upsert` takes the same steps with
PyIceberg's own helpers (``upsert_util``, pinned by the ``<0.13`` bound and
covered by the contract tests), reading under the transaction's schema, and
stages one snapshot.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.expressions.visitors import bind
from pyiceberg.io.pyarrow import expression_to_pyarrow
from pyiceberg.table import DataScan, Table, Transaction, upsert_util

from floe.adapters.iceberg.rewrite import stage_overwrite


def stage_upsert(
    tx: Transaction, table: Table, data: pa.Table, keys: list[str], props: dict[str, str]
) -> tuple[int, int]:
    """Stage PyIceberg's upsert in ``tx``, matching rows under the transaction's schema.

    Changed rows leave their files and arrive with the new rows in one
    ``overwrite`` snapshot (PyIceberg would commit a ``delete``, an
    ``append`` and another ``append``); new rows alone are one ``append``.
    Rows equal to the ones they match change nothing.

    Args:
        tx: The write's transaction (schema and spec changes already staged).
        table: The table ``tx`` writes to.
        data: The incoming rows, at most one per key.
        keys: The join columns.
        props: Extra entries of the snapshot summary.

    Returns:
        The rows updated and the rows inserted.
    """
    matched = upsert_util.create_match_filter(data, keys)
    existing = DataScan(
        table_metadata=tx.table_metadata, io=table.io, row_filter=matched
    ).to_arrow()
    updates = upsert_util.get_rows_to_update(data, existing, keys)
    inserts = data
    if existing.num_rows:
        schema = tx.table_metadata.schema()
        found = bind(schema, upsert_util.create_match_filter(existing, keys), case_sensitive=True)
        inserts = data.filter(~expression_to_pyarrow(found))
    if updates.num_rows:
        # One snapshot: the updated rows leave their files, updated and new rows arrive.
        changed = pa.concat_tables([updates, inserts]) if inserts.num_rows else updates
        where = upsert_util.create_match_filter(updates, keys)
        stage_overwrite(tx, table.io, where, changed, props)
    elif inserts.num_rows:
        tx.append(inserts, snapshot_properties=props)
    return updates.num_rows, inserts.num_rows
