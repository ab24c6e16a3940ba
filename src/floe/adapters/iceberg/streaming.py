"""Streaming appends: a stream of record batches written in chunks, added by one commit.

PyIceberg's ``Transaction.append`` takes a whole Arrow table (or, for
unpartitioned tables only, a reader whose batches it submits to its writer
pool all at once, so the stream ends up in memory anyway). Here the stream is
cut into chunks of about ``chunk_bytes``; each chunk goes through the very
function ``Transaction.append`` uses to turn Arrow data into data files
(split by partition, sized by ``write.target-file-size-bytes``) and is on
storage before the next chunk is read. One snapshot producer collects every
file and the transaction commits them together.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
from pyiceberg.io import FileIO
from pyiceberg.io.pyarrow import _dataframe_to_data_files
from pyiceberg.manifest import DataFile
from pyiceberg.table import TableProperties, Transaction
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.update.snapshot import UpdateSnapshot, _SnapshotProducer
from pyiceberg.utils.properties import property_as_bool, property_as_int

from floe.adapters.iceberg.staged import StagingIO
from floe.adapters.iceberg.vended import VendedFileIO, refused_storage


def chunked(batches: Iterable[pa.RecordBatch], chunk_bytes: int) -> Iterator[list[pa.RecordBatch]]:
    """Group a stream into lists of batches of at least ``chunk_bytes`` (the last may be less).

    Only the current group is held: it is handed on before the next batch is read.
    """
    group: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        group.append(batch)
        size += batch.nbytes
        if size >= chunk_bytes:
            yield group
            group, size = [], 0
    if group:
        yield group


def effective_chunk_bytes(tx: Transaction, chunk_bytes: int) -> int:
    """The chunk size: the asked one, never above the table's target data file size.

    A chunk then makes at most one file per partition, and memory stays
    bounded by the smaller of the two.
    """
    target = property_as_int(
        tx.table_metadata.properties,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
    )
    return max(1, min(chunk_bytes, target or chunk_bytes))


def append_producer(
    tx: Transaction, snapshot_properties: dict[str, str], branch: str = MAIN_BRANCH
) -> _SnapshotProducer[Any]:
    """The producer ``Transaction.append`` would use (merge or fast append) on ``branch``.

    Built as ``tx.update_snapshot(...)`` builds it, with its manifests
    written through a :class:`StagingIO` (``staged.py``).
    """
    io = StagingIO(tx._table.io)
    update = UpdateSnapshot(tx, io=io, branch=branch, snapshot_properties=snapshot_properties)
    merge = property_as_bool(
        tx.table_metadata.properties,
        TableProperties.MANIFEST_MERGE_ENABLED,
        TableProperties.MANIFEST_MERGE_ENABLED_DEFAULT,
    )
    return update.merge_append() if merge else update.fast_append()


def write_stream(
    tx: Transaction,
    io: FileIO,
    producer: _SnapshotProducer[Any],
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    chunk_bytes: int,
    written: list[DataFile],
) -> int:
    """Write the stream as data files of ``tx``'s table and add them to ``producer``.

    One chunk is written in the background while the next is read, so a
    slow source and the writer overlap; at most about two chunks are held.
    Each file is appended to ``written`` once it is on storage, so a caller
    can delete them when something fails later; on a failure this waits for
    the chunk being written before raising.

    Returns:
        The number of rows written.
    """
    counter = itertools.count(0)
    rows = 0

    def write(chunk: pa.Table) -> list[DataFile]:
        def files() -> list[DataFile]:
            return list(
                _dataframe_to_data_files(
                    tx.table_metadata, chunk, io, producer.commit_uuid, counter
                )
            )

        try:
            return files()
        except Exception as exc:
            # Vended credentials refused mid-upload (they expired early, or the
            # clock is off): the chunk is still held, so it is written once
            # more with renewed credentials; the stream goes on, one commit.
            if not (isinstance(io, VendedFileIO) and refused_storage(exc)):
                raise
            io.renew_now()
        return files()

    def collect(files: list[DataFile]) -> None:
        for data_file in files:
            written.append(data_file)
            producer.append_data_file(data_file)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="floe-stream") as writer:
        pending: Future[list[DataFile]] | None = None
        try:
            for group in chunked(batches, effective_chunk_bytes(tx, chunk_bytes)):
                chunk = pa.Table.from_batches(group, schema=schema)
                rows += chunk.num_rows
                if pending is not None:
                    collect(pending.result())
                pending = writer.submit(write, chunk)
                del chunk, group  # held by the writer only
            if pending is not None:
                collect(pending.result())
                pending = None
        except BaseException:
            if pending is not None and not pending.cancel():
                with contextlib.suppress(Exception):  # its own failure is already raised
                    collect(pending.result())
            raise
    return rows


def delete_quietly(io: FileIO, files: Iterable[DataFile]) -> None:
    """Delete data files no snapshot references (best effort: leftovers are orphans)."""
    for data_file in files:
        with contextlib.suppress(Exception):
            io.delete(data_file.file_path)
