"""Batch streams read a bounded number of data files ahead of a slow consumer.

PyIceberg's own batch reader hands every planned file to its thread pool at
once, so a consumer that has pulled one batch already has every file read
into memory. floe's stream reads a window of files at a time, and one more
window ahead.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest

import floe
from floe.adapters.iceberg.reads import FILES_AT_ONCE
from tests.integration.counting_io import COUNTING_IO, CountingFileIO, opened_data_files

FILES = 4 * FILES_AT_ONCE
ROWS_PER_FILE = 1_000
SCHEMA = pa.schema([("id", pa.int64()), ("tag", pa.string())])


@pytest.fixture(params=["local", "rest"])
def lake(request: pytest.FixtureRequest) -> floe.Floe:
    fixture = "local_lake" if request.param == "local" else "rest_lake"
    lake: floe.Floe = request.getfixturevalue(fixture)
    return lake


@pytest.fixture
def many_files(lake: floe.Floe) -> Iterator[floe.TableIdentifier]:
    """A table of FILES data files (one per append), read through the counting FileIO."""
    namespace = ("b" + uuid.uuid4().hex[:10],)
    lake.namespaces.create(namespace)
    table = floe.TableIdentifier(namespace, "events")
    lake.tables.create(table, SCHEMA, properties={"py-io-impl": COUNTING_IO})
    for n in range(FILES):
        ids = pa.array(range(n * ROWS_PER_FILE, (n + 1) * ROWS_PER_FILE), pa.int64())
        tags = pa.array([f"f{n}"] * ROWS_PER_FILE)
        lake.writes.append(table, pa.table({"id": ids, "tag": tags}, schema=SCHEMA))
    CountingFileIO.opened.clear()
    yield table
    CountingFileIO.opened.clear()


def _opened_soon(marker: str, more_than: int) -> int:
    """Files opened, waiting (bounded) in case background reads go on opening more."""
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if len(opened_data_files(marker)) > more_than:
            break
        time.sleep(0.05)
    return len(opened_data_files(marker))


def test_a_slow_consumer_holds_one_window_of_files(
    lake: floe.Floe, many_files: floe.TableIdentifier
) -> None:
    marker = many_files.namespace[0]
    reader = lake.reads.batches(many_files)
    first = reader.read_next_batch()

    assert first.num_rows > 0
    # The window being pulled and the one read ahead: never more.
    assert _opened_soon(marker, 2 * FILES_AT_ONCE) <= 2 * FILES_AT_ONCE

    rest = reader.read_all()
    streamed = pa.Table.from_batches([first]).cast(rest.schema)
    streamed = pa.concat_tables([streamed, rest])
    assert streamed.equals(lake.reads.scan(many_files))
    assert len(opened_data_files(marker)) == 2 * FILES  # the stream's and the scan's, once each


def test_windows_give_the_rows_of_a_scan_in_its_order(
    lake: floe.Floe, many_files: floe.TableIdentifier
) -> None:
    for row_filter in (None, "id >= 500", "tag != 'f0' or id < 10"):
        for limit in (None, 1, ROWS_PER_FILE * FILES_AT_ONCE + 300, 10**9):
            streamed = lake.reads.batches(many_files, row_filter=row_filter, limit=limit)
            scanned = lake.reads.scan(many_files, row_filter=row_filter, limit=limit)

            assert streamed.read_all().equals(scanned), (row_filter, limit)
