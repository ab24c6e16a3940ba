"""What a write staged for a commit that will never land, deleted: one rule for every write.

A write stages its snapshot before the catalog sees it: data files (its
own, or written by Ray workers), then manifests and a manifest list written
by PyIceberg's snapshot producer. When the commit cannot land, all of them
are unreferenced. Two cases are certain:

* the staging itself failed (a manifest could not be written): nothing was
  sent to the catalog;
* the catalog refused the commit (:func:`~floe.adapters.iceberg.guard.commit_refused`:
  a conflict beyond PyIceberg's retries, a failed validation, a 4xx answer).

After an unknown outcome (a 5xx, a timeout, a cut connection once the
request went out) the commit may have landed and its files be referenced,
so nothing is deleted: a file kept is at worst an orphan for orphan-file
removal, a referenced file deleted breaks every reader.

PyIceberg deletes a producer's manifests itself after a conflict or failed
validation, not after another refusal (a 400 or 403) nor a failed staging;
:func:`discard` deletes them in every case (PyIceberg forgets a manifest
once deleted, so none is deleted twice).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.table import Transaction
from pyiceberg.table.update.snapshot import _SnapshotProducer

from floe.adapters.iceberg.guard import commit_refused


def discard(
    tx: Transaction,
    io: FileIO,
    data_files: Iterable[DataFile] = (),
    producers: Sequence[_SnapshotProducer[Any]] = (),
) -> None:
    """Delete everything ``tx`` staged for its snapshots, and ``data_files`` (best effort).

    Every data file its snapshot producers add (they were written for this
    write alone), each producer's manifests and manifest lists, and
    ``data_files``. ``producers`` are those that may not have registered with
    the transaction yet (a staging that failed early). What cannot be deleted
    stays as an orphan.

    Args:
        tx: The transaction whose commit will never land.
        io: The table's FileIO.
        data_files: Data files written for it that its producers may not hold.
        producers: Producers of ``tx`` besides those it registered.
    """
    staged = list(dict.fromkeys([*tx._snapshot_producers, *producers]))
    paths = dict.fromkeys(f.file_path for f in data_files)
    for producer in staged:
        paths.update(dict.fromkeys(f.file_path for f in producer._added_data_files))
    for path in paths:
        with contextlib.suppress(Exception):
            io.delete(path)
    for producer in staged:
        with contextlib.suppress(Exception):
            producer._clean_all_uncommitted()


@contextmanager
def discarded_when_refused(
    tx: Transaction, io: FileIO, data_files: Iterable[DataFile] = ()
) -> Iterator[None]:
    """Around ``tx.commit_transaction()``: a refused commit's staged files are deleted.

    Use inside :func:`~floe.adapters.iceberg.guard.commit_outcome_guarded`
    (its record of the wire decides whether the request may have landed).
    An unknown outcome keeps every file.
    """
    try:
        yield
    except Exception as exc:
        if commit_refused(exc):
            discard(tx, io, data_files)
        raise
