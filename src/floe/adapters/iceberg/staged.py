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
:func:`discard` deletes them in every case. A staging that fails may still
be writing: PyIceberg writes a snapshot's manifests in its thread pool and
raises the first failure while the other manifests are being written. The
producers floe makes write through a :class:`StagingIO`, which remembers
every file opened for output; once discarded, it deletes those and any
file whose writing ends later, so none lands after the clean-up.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from pyiceberg.io import FileIO, InputFile, OutputFile, OutputStream
from pyiceberg.manifest import DataFile
from pyiceberg.table import Transaction
from pyiceberg.table.update.snapshot import _SnapshotProducer

from floe.adapters.iceberg.guard import commit_refused
from floe.adapters.iceberg.written import WrittenFiles


class StagingIO(WrittenFiles):
    """The FileIO a snapshot producer writes its manifests through: it can take them back.

    A :class:`WrittenFiles` (every location opened for output remembered,
    reads and deletes straight to ``io``) whose :meth:`discard` deletes
    those files, and makes a file whose writing ends after it delete
    itself. Only manifests and manifest lists go through it (small files:
    the stream wrapper costs nothing that matters); data files are written
    through the table's own FileIO.

    Args:
        io: The table's FileIO.
    """

    def __init__(self, io: FileIO) -> None:
        super().__init__(io)
        self._discarded = False

    def new_output(self, location: str) -> OutputFile:
        return _StagedOutput(super().new_output(location), self)

    def discard(self) -> None:
        """Delete every file opened for output (best effort), and each one still being written."""
        with self._lock:
            self._discarded = True
        self.delete_all()  # a file not there yet deletes itself once written

    def written(self, location: str) -> None:
        """The writing of ``location`` ended (its stream closed, or failed to)."""
        with self._lock:
            doomed = self._discarded
        if doomed:
            with contextlib.suppress(Exception):
                self._io.delete(location)


class _StagedOutput(OutputFile):
    def __init__(self, inner: OutputFile, owner: StagingIO) -> None:
        super().__init__(inner.location)
        self._inner = inner
        self._owner = owner

    def __len__(self) -> int:
        return len(self._inner)

    def exists(self) -> bool:
        return self._inner.exists()

    def to_input_file(self) -> InputFile:
        return self._inner.to_input_file()

    def create(self, overwrite: bool = False) -> OutputStream:
        return _StagedStream(self._inner.create(overwrite=overwrite), self._location, self._owner)


class _StagedStream:
    """The inner stream; tells its :class:`StagingIO` when the file is complete (or failed)."""

    def __init__(self, inner: OutputStream, location: str, owner: StagingIO) -> None:
        self._inner = inner
        self._location = location
        self._owner = owner
        self._closed = False

    def write(self, b: bytes) -> int:
        return self._inner.write(b)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._inner.close()
        finally:
            self._owner.written(self._location)

    def __enter__(self) -> _StagedStream:
        return self

    def __exit__(
        self,
        exctype: type[BaseException] | None,
        excinst: BaseException | None,
        exctb: TracebackType | None,
    ) -> None:
        self.close()


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
        if isinstance(producer._io, StagingIO):
            producer._io.discard()  # manifests still being written included
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
