"""Compaction and manifest rewrite as Iceberg ``replace`` snapshots, over PyIceberg 0.12.

PyIceberg 0.12 has no rewrite-files or rewrite-manifests action, and its
summary update refuses the ``replace`` operation. Both are built here from
its own producers, as Iceberg's Java ``BaseRewriteFiles`` and
``BaseRewriteManifests`` behave:

* :class:`_ReplaceFiles` is PyIceberg's ``_OverwriteFiles`` (as
  ``producers.py`` makes it safe for the thread pool: delete the
  given files, add new ones, carry every other manifest along) labelled
  ``replace``, and validating on a retry only what a rewrite must: the files
  it replaces are still live and no delete file was added for them. An
  append that lands meanwhile conflicts with nothing: PyIceberg's commit
  retry re-applies the producer on the fresh table, whose manifests (the
  appended files included) are carried along.
* :class:`_RewriteManifests` writes the live entries of the current
  snapshot's data manifests into one manifest per partition spec (status
  ``existing``, their snapshot ids and sequence numbers kept); delete
  manifests are carried along. A retry rewrites the fresh snapshot's.

Data files are read with ``ArrowScan`` (the current schema: older files are
projected as every read projects them) and written with
``_dataframe_to_data_files`` (the function ``Transaction.append`` uses:
partition split under the current spec, file names, statistics), one bin
at a time.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.manifest import (
    DataFile,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
)
from pyiceberg.table import DataScan, FileScanTask, Table, TableProperties, Transaction
from pyiceberg.table.snapshots import Operation, Summary
from pyiceberg.table.update.snapshot import _SnapshotProducer
from pyiceberg.table.update.validate import (
    _validate_data_files_exist,
    _validate_no_new_deletes_for_data_files,
)
from pyiceberg.typedef import EMPTY_DICT

from floe.adapters.filters import bind_filter, parse_filter
from floe.adapters.iceberg.guard import commit_outcome_guarded
from floe.adapters.iceberg.producers import OverwriteFiles
from floe.adapters.iceberg.refs import transaction
from floe.adapters.iceberg.staged import StagingIO, discarded_when_refused
from floe.adapters.iceberg.writes import validation_conflicts
from floe.adapters.iceberg.written import WrittenFiles
from floe.adapters.iceberg_model import partition_values
from floe.domain.compaction import CompactionBin, CompactionCandidate
from floe.domain.errors import CommitConflictError
from floe.ports.table_store import CompactionInput, ManifestRewrite, RewriteOutcome

#: A target size no bin reaches: each bin is written as one file.
_ONE_FILE = str(2**62)
#: Bins read and written at once: memory holds about this many output files' rows.
_BINS_AT_ONCE = 2


def _replace_summary(producer: _SnapshotProducer[Any], properties: dict[str, str]) -> Summary:
    """PyIceberg's summary of the producer's files, with the ``replace`` operation.

    ``update_snapshot_summaries`` accepts only append, overwrite and delete;
    its totals are the same for a replace, so it runs as an overwrite.
    """
    producer._operation = Operation.OVERWRITE
    try:
        summary = _SnapshotProducer._summary(producer, properties)
    finally:
        producer._operation = Operation.REPLACE
    return Summary(Operation.REPLACE, **summary.additional_properties)


class _ReplaceFiles(OverwriteFiles):
    """An overwrite of files by files holding the same rows: a ``replace`` snapshot."""

    def _summary(self, snapshot_properties: dict[str, str] = EMPTY_DICT) -> Summary:
        return _replace_summary(self, snapshot_properties)

    def _validate_concurrency(self) -> None:
        window = self._commit_window
        if window is None or window.is_empty() or window.head is None:
            return
        table = self._transaction._table
        _validate_data_files_exist(table, window.head, self._deleted_data_files, window.base)
        _validate_no_new_deletes_for_data_files(
            table, window.head, None, self._deleted_data_files, window.base
        )


class _RewriteManifests(_SnapshotProducer["_RewriteManifests"]):
    """The current snapshot's data manifests rewritten into one per spec: a ``replace``."""

    def __init__(self, tx: Transaction, table: Table) -> None:
        super().__init__(Operation.REPLACE, tx, table.io)
        self.counts: dict[str, int] = {}

    def _validate_concurrency(self) -> None:
        """Nothing to validate: each attempt rewrites the manifests of the fresh head."""

    def _deleted_entries(self) -> list[ManifestEntry]:
        return []

    def _existing_manifests(self) -> list[ManifestFile]:
        return []

    def _manifests(self) -> list[ManifestFile]:
        snapshot = self._transaction.table_metadata.snapshot_by_name(self._target_branch)
        kept: list[ManifestFile] = []
        entries: dict[int, list[ManifestEntry]] = defaultdict(list)
        replaced = 0
        for manifest in [] if snapshot is None else snapshot.manifests(self._io):
            if manifest.content != ManifestContent.DATA:
                kept.append(manifest)
                continue
            replaced += 1
            entries[manifest.partition_spec_id].extend(
                manifest.fetch_manifest_entry(self._io, discard_deleted=True)
            )
        created: list[ManifestFile] = []
        for spec_id, live in sorted(entries.items()):
            if not live:
                continue
            with self.new_manifest_writer(self.spec(spec_id)) as writer:
                for entry in live:
                    writer.add_entry(
                        ManifestEntry.from_args(
                            status=ManifestEntryStatus.EXISTING,
                            snapshot_id=entry.snapshot_id,
                            sequence_number=entry.sequence_number,
                            file_sequence_number=entry.file_sequence_number,
                            data_file=entry.data_file,
                        )
                    )
            created.append(writer.to_manifest_file())
        self.counts = {
            "manifests-created": len(created),
            "manifests-kept": len(kept),
            "manifests-replaced": replaced,
            "entries-processed": sum(len(v) for v in entries.values()),
        }
        return created + kept

    def _summary(self, snapshot_properties: dict[str, str] = EMPTY_DICT) -> Summary:
        counts = {k: str(v) for k, v in self.counts.items()}
        return _replace_summary(self, {**snapshot_properties, **counts})


def candidates(table: Table, name: str, row_filter: object | None) -> CompactionInput:
    """The live data files of ``table``'s current snapshot (those ``row_filter`` may match).

    Raises:
        InvalidFilterError: A bad filter.
    """
    snapshot = table.current_snapshot()
    expression: BooleanExpression = AlwaysTrue()
    if row_filter is not None:
        bind_filter(row_filter, table.schema(), table=name)
        expression = parse_filter(row_filter, table=name)
    if snapshot is None:
        return CompactionInput(None)
    schema, specs = table.schema(), table.specs()
    files = tuple(
        CompactionCandidate(
            path=task.file.file_path,
            partition=partition_values(specs[task.file.spec_id], schema, task.file.partition),
            spec_id=task.file.spec_id,
            size_bytes=task.file.file_size_in_bytes,
            record_count=task.file.record_count,
            has_deletes=bool(task.delete_files),
        )
        for task in _plan(table, expression)
    )
    return CompactionInput(snapshot.snapshot_id, files)


def _plan(table: Table, expression: BooleanExpression) -> list[FileScanTask]:
    return list(
        DataScan(table_metadata=table.metadata, io=table.io, row_filter=expression).plan_files()
    )


def rewrite(
    table: Table,
    name: str,
    bins: Sequence[CompactionBin],
    snapshot_properties: Mapping[str, str] | None,
) -> RewriteOutcome:
    """Rewrite each bin into one file and commit them all as one ``replace`` snapshot.

    Raises:
        CommitConflictError: A file of a bin is no longer live, now or at the
            commit (the files written are deleted, nothing is committed).
    """
    live = {task.file.file_path: task for task in _plan(table, AlwaysTrue())}
    gone = [f.path for b in bins for f in b.files if f.path not in live]
    if gone:
        raise CommitConflictError(
            f"compaction of table {name} conflicts with a concurrent commit: "
            f"{len(gone)} file(s) it would rewrite are no longer live (e.g. {gone[0]}); "
            "nothing was written",
            subject=name,
        )
    tx = transaction(table)
    producer = _ReplaceFiles(
        operation=Operation.REPLACE,
        transaction=tx,
        io=StagingIO(table.io),
        snapshot_properties=dict(snapshot_properties or {}),
    )
    metadata = tx.table_metadata
    one_file = metadata.model_copy(
        update={
            "properties": {
                **metadata.properties,
                TableProperties.WRITE_TARGET_FILE_SIZE_BYTES: _ONE_FILE,
            }
        }
    )
    schema = metadata.schema()
    counter = itertools.count(0)
    written: list[DataFile] = []
    outputs: list[tuple[int, int]] = []

    # Every output is written through it: a bin that fails after writing its
    # file (an upload failing when completed) leaves no DataFile to delete.
    outputs_io = WrittenFiles(table.io)

    def compact_bin(b: CompactionBin) -> list[DataFile]:
        tasks = [live[f.path] for f in b.files]
        rows = ArrowScan(metadata, table.io, schema, AlwaysTrue()).to_table(tasks=tasks)
        # One task per bin (the target is one file): nothing keeps writing after it returns.
        return list(
            _dataframe_to_data_files(one_file, rows, outputs_io, producer.commit_uuid, counter)
        )

    futures: list[Future[list[DataFile]]] = []
    try:
        # A few bins at once (one read while another is written), in a pool of its
        # own (the reads and writes wait on PyIceberg's shared pool); the producer
        # is fed in bin order from this thread.
        with ThreadPoolExecutor(max_workers=_BINS_AT_ONCE) as pool:
            futures = [pool.submit(compact_bin, b) for b in bins]
            try:
                for b, future in zip(bins, futures, strict=True):
                    added = future.result()
                    written.extend(added)
                    for f in b.files:
                        producer.delete_data_file(live[f.path].file)
                    for data_file in added:
                        producer.append_data_file(data_file)
                    outputs.append((len(added), sum(f.file_size_in_bytes for f in added)))
            except BaseException:
                for future in futures:
                    future.cancel()  # the bins not started yet; running ones finish
                raise
        producer.commit()
    except BaseException:
        # The pool has stopped (its exit waits for the running bins): every file
        # written so far, the failing bin's own included, is nobody's.
        outputs_io.delete_all()
        raise
    commit_replace(tx, table, written, name)
    return RewriteOutcome(producer.snapshot_id, tuple(outputs))


def commit_replace(tx: Transaction, table: Table, written: list[DataFile], name: str) -> None:
    """Commit a compaction; delete the files it wrote when the commit surely did not land.

    A refused commit (a conflict PyIceberg's retries could not resolve, a
    failed validation, any 4xx answer) leaves them and its manifests
    unreferenced (``staged.py``); after an unknown outcome they may be
    referenced, so they are kept.
    """
    with (
        commit_outcome_guarded(name),
        validation_conflicts(
            f"compaction of table {name} conflicts with a concurrent commit that removed "
            "or changed files it rewrites",
            name,
        ),
        discarded_when_refused(tx, table.io, written),
    ):
        tx.commit_transaction()


def rewrite_manifests(table: Table, name: str) -> ManifestRewrite:
    """Rewrite the current snapshot's data manifests into one per spec, in one commit."""
    snapshot = table.current_snapshot()
    before = [] if snapshot is None else snapshot.manifests(table.io)
    if len(before) <= 1:
        return ManifestRewrite(None, len(before), len(before))
    tx = transaction(table)
    producer = _RewriteManifests(tx, table)
    producer.commit()
    commit_manifests(tx, name)
    committed = table.metadata.snapshot_by_id(producer.snapshot_id)
    after = 0 if committed is None else len(committed.manifests(table.io))
    return ManifestRewrite(producer.snapshot_id, len(before), after)


def commit_manifests(tx: Transaction, name: str) -> None:
    """Commit a manifest rewrite (PyIceberg re-applies it on a fresher table after a conflict)."""
    with commit_outcome_guarded(name):
        tx.commit_transaction()
