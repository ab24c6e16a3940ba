"""PyIceberg's overwrite producer, made safe for the thread pool it plans in.

Every overwrite floe commits (an overwrite or delete by filter, an updating
upsert, a compaction) removes files with PyIceberg 0.12's
``_OverwriteFiles``. To find the entries of the files it removes, its
``_deleted_entries`` judges the parent snapshot's manifests in PyIceberg's
shared thread pool, with one manifest evaluator per partition spec shared
by all the pool's threads. That evaluator (``_ManifestEvalVisitor``) keeps
the manifest it is judging in an attribute while it visits the filter, so
two threads judging two manifests at once can each read the other's
partition summaries. A manifest holding a file to remove is then skipped,
and the overwrite fails with "Missing required files to delete" although
nothing changed the table: rare, more likely the busier the machine
(``tests/integration/test_concurrency.py`` forces the interleaving).

:class:`OverwriteFiles` gives each thread its own evaluator (built once per
thread, from the same spec, schema and filter), so the judgement of a
manifest depends on that manifest alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pyiceberg.expressions.visitors import manifest_evaluator
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.table import Transaction
from pyiceberg.table.snapshots import Operation
from pyiceberg.table.update.snapshot import _OverwriteFiles

from floe.adapters.iceberg.staged import StagingIO


class OverwriteFiles(_OverwriteFiles):
    """PyIceberg's ``_OverwriteFiles`` with one manifest evaluator per thread."""

    def _build_manifest_evaluator(self, spec_id: int) -> Callable[[ManifestFile], bool]:
        spec, schema = self.spec(spec_id), self.schema()
        partition_filter = self.partition_filters[spec_id]
        case_sensitive = self._case_sensitive
        own = threading.local()

        def evaluate(manifest: ManifestFile) -> bool:
            evaluator: Callable[[ManifestFile], bool] | None = getattr(own, "evaluator", None)
            if evaluator is None:
                evaluator = manifest_evaluator(spec, schema, partition_filter, case_sensitive)
                own.evaluator = evaluator
            return evaluator(manifest)

        return evaluate


def overwrite_producer(
    tx: Transaction, io: FileIO, snapshot_properties: dict[str, str], branch: str
) -> OverwriteFiles:
    """The producer of one ``overwrite`` snapshot on ``branch`` in ``tx``.

    Built as ``tx.update_snapshot(...).overwrite()`` builds PyIceberg's (an
    ``append`` while the branch has no snapshot), and judging conflicts as
    PyIceberg's own overwrite does (``write.update.isolation-level``).

    Args:
        tx: The write's transaction.
        io: The table's file IO.
        snapshot_properties: Extra entries of the snapshot summary.
        branch: The branch whose head is read and committed to.

    Returns:
        The producer; the caller adds and deletes files, then commits it.
    """
    has_head = tx.table_metadata.snapshot_by_name(branch) is not None
    producer = OverwriteFiles(
        operation=Operation.OVERWRITE if has_head else Operation.APPEND,
        transaction=tx,
        io=StagingIO(io),  # its manifests can be taken back (staged.py)
        branch=branch,
        snapshot_properties=snapshot_properties,
    )
    producer._isolation_operation = Operation.OVERWRITE
    return producer
