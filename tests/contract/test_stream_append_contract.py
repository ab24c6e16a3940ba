"""Streaming appends: a reader or an iterable of batches, one commit, nothing on failure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import floe

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us")),
        pa.field("region", pa.string()),
    ]
)
START = dt.datetime(2024, 5, 1, 6)


def batch(first: int, count: int, schema: pa.Schema = SCHEMA) -> pa.RecordBatch:
    ids = list(range(first, first + count))
    columns = {
        "id": ids,
        "ts": [START + dt.timedelta(hours=7 * i) for i in ids],
        "region": ["eu" if i % 3 else "us" for i in ids],
    }
    if "extra" in schema.names:
        columns["extra"] = [f"x{i}" for i in ids]
    return pa.RecordBatch.from_pydict(columns, schema=schema)


def batches(n: int = 5, size: int = 40) -> list[pa.RecordBatch]:
    return [batch(i * size, size) for i in range(n)]


def reader(items: list[pa.RecordBatch]) -> pa.RecordBatchReader:
    return pa.RecordBatchReader.from_batches(SCHEMA, iter(items))


def failing(items: list[pa.RecordBatch], after: int) -> Iterator[pa.RecordBatch]:
    yield from items[:after]
    raise RuntimeError("upstream went away")


def sorted_rows(data: pa.Table) -> list[dict[str, object]]:
    return sorted(data.select(["id", "ts", "region"]).to_pylist(), key=lambda r: str(r["id"]))


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "stream")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def test_stream_append_writes_the_same_rows_as_a_table_append_in_one_snapshot(
    lake: floe.Floe, ns: tuple[str, ...], table: floe.TableIdentifier
) -> None:
    whole = floe.TableIdentifier(ns, "whole")
    lake.tables.create(whole, SCHEMA, ["day(ts)"])
    lake.writes.append(whole, pa.Table.from_batches(batches()))
    lake.writes.append(table, batch(1000, 3))  # one snapshot before
    result = lake.writes.append(table, reader(batches()), chunk_bytes=1)  # a chunk per batch
    assert result.rows_written == result.rows_added == 200
    snapshots = lake.snapshots.list(table)
    assert len(snapshots) == 2
    assert snapshots[-1].snapshot_id == result.snapshot_id
    assert snapshots[-1].operation == "append"
    assert snapshots[-1].summary["added-records"] == "200"
    got = [r for r in sorted_rows(lake.reads.scan(table)) if int(str(r["id"])) < 1000]
    assert got == sorted_rows(lake.reads.scan(whole))


def test_an_iterable_of_batches_streams_with_schema_evolution(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    wider = SCHEMA.append(pa.field("extra", pa.string()))
    source = (batch(i * 10, 10, wider) for i in range(4))
    result = lake.writes.append(table, source, allow_schema_evolution=True, chunk_bytes=1)
    assert result.rows_written == 40
    assert "extra" in result.schema_change
    assert len(lake.snapshots.list(table)) == 1
    assert "extra" in lake.tables.load(table).schema.names
    back = lake.reads.scan(table, columns=["id", "extra"]).sort_by("id")
    assert back.column("extra").to_pylist()[:2] == ["x0", "x1"]


def test_a_stream_failing_midway_leaves_the_table_unchanged(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, batch(1000, 3))
    before = lake.snapshots.list(table)
    with pytest.raises(floe.WriteError) as info:
        lake.writes.append(table, failing(batches(), after=3), chunk_bytes=1)
    assert "upstream went away" in str(info.value)
    assert lake.snapshots.list(table) == before
    assert lake.reads.scan(table).num_rows == 3


def test_a_batch_that_does_not_fit_midway_leaves_the_table_unchanged(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    loose = pa.schema([f.with_nullable(True) for f in SCHEMA])
    bad = pa.RecordBatch.from_pydict({"id": [None], "ts": [START], "region": ["eu"]}, schema=loose)
    good = [pa.RecordBatch.from_pydict(b.to_pydict(), schema=loose) for b in batches(3)]
    source = pa.RecordBatchReader.from_batches(loose, iter([*good, bad]))
    with pytest.raises(floe.SchemaEvolutionError):
        lake.writes.append(table, source, chunk_bytes=1)
    assert lake.snapshots.list(table) == []
    assert lake.reads.scan(table).num_rows == 0


def test_an_incompatible_stream_is_refused_before_any_row_is_read(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    pulled: list[int] = []
    wrong = pa.schema([("id", pa.string()), ("ts", pa.timestamp("us")), ("region", pa.string())])

    def source() -> Iterator[pa.RecordBatch]:
        pulled.append(1)
        yield pa.RecordBatch.from_pydict({"id": ["a"], "ts": [START], "region": ["eu"]}, wrong)

    with pytest.raises(floe.SchemaEvolutionError):
        lake.writes.append(table, pa.RecordBatchReader.from_batches(wrong, source()))
    assert pulled == []
    assert lake.snapshots.list(table) == []


def test_an_empty_stream_commits_nothing(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    assert lake.writes.append(table, reader([])).snapshot_id is None
    assert lake.writes.append(table, iter([])).snapshot_id is None
    assert lake.snapshots.list(table) == []


def test_a_stream_that_changes_shape_midway_is_refused(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    other = pa.RecordBatch.from_pydict({"id": [1]}, pa.schema([pa.field("id", pa.int64(), False)]))
    with pytest.raises(floe.WriteError, match="changed shape"):
        lake.writes.append(table, iter([batch(0, 5), other]), chunk_bytes=1)
    assert lake.snapshots.list(table) == []


def test_overwrite_and_upsert_take_a_reader_whole(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, batch(0, 10))
    lake.writes.overwrite(table, reader([batch(100, 4)]))
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [100, 101, 102, 103]
    lake.writes.upsert(table, iter([batch(103, 2)]), join_columns=["id"])
    assert lake.reads.scan(table).num_rows == 5


def test_a_stream_creates_a_missing_table_with_its_rows(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    fresh = floe.TableIdentifier(ns, "fresh")
    result = lake.writes.append(
        fresh, reader(batches(2)), create_if_missing=floe.NewTable(["day(ts)"])
    )
    assert result.rows_written == 80
    assert [s.snapshot_id for s in lake.snapshots.list(fresh)] == [result.snapshot_id]


def test_files_of_a_failed_stream_are_deleted(tmp_path: Path) -> None:
    lake = floe.Floe.from_config(floe.LocalCatalogConfig(str(tmp_path / "warehouse")))
    lake.namespaces.create("files")
    table = floe.TableIdentifier(("files",), "stream")
    lake.tables.create(table, SCHEMA, ["day(ts)"])
    with pytest.raises(floe.WriteError):
        lake.writes.append(table, failing(batches(), after=4), chunk_bytes=1)
    assert list((tmp_path / "warehouse").rglob("*.parquet")) == []
    lake.writes.append(table, reader(batches()), chunk_bytes=1)
    assert list((tmp_path / "warehouse").rglob("*.parquet"))
