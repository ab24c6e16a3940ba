"""A write reports the table and snapshot it committed, and can start from a loaded table.

``WriteResult.table_info`` and ``WriteResult.snapshot`` are what a load of the
table and of its snapshot would return right after the write, on every
adapter. ``current=`` hands a write the table its caller just loaded (or just
found missing) so that the write need not ask the catalog again; a stale one
never loses a commit.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe
from floe.application import TableMissing


def rows(*ids: int) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "day": [f"d{i % 2}" for i in ids]})


def assert_reports_the_commit(lake: floe.Floe, table: str, result: floe.WriteResult) -> None:
    assert result.snapshot_id is not None
    assert result.table_info == lake.tables.load(table)
    assert result.table_info is not None
    assert result.table_info.current_snapshot_id == result.snapshot_id
    assert result.snapshot == lake.snapshots.get(table, result.snapshot_id)


def test_every_mode_reports_the_table_and_snapshot_it_committed(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = f"{ns[0]}.t"
    first = lake.writes.append(table, rows(1, 2), create_if_missing=floe.NewTable(["day"]))
    assert_reports_the_commit(lake, table, first)
    assert first.snapshot is not None
    assert first.snapshot.summary["total-records"] == "2"

    appended = lake.writes.append(table, rows(3))
    assert_reports_the_commit(lake, table, appended)
    replaced = lake.writes.overwrite(table, rows(4), row_filter="day = 'd1'")
    assert_reports_the_commit(lake, table, replaced)
    assert replaced.snapshot is not None
    assert replaced.snapshot.summary["total-records"] == "2"
    upserted = lake.writes.upsert(table, rows(4, 5), join_columns=["id"])
    assert_reports_the_commit(lake, table, upserted)
    streamed = lake.writes.append(
        table, pa.RecordBatchReader.from_batches(rows(6).schema, rows(6, 7).to_batches())
    )
    assert_reports_the_commit(lake, table, streamed)


def test_a_write_that_evolves_the_schema_reports_the_new_schema(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = f"{ns[0]}.t"
    lake.writes.append(table, rows(1), create_if_missing=floe.NewTable())
    wider = rows(2).append_column("note", pa.array(["n"]))
    result = lake.writes.append(table, wider, allow_schema_evolution=True)
    assert_reports_the_commit(lake, table, result)
    assert result.table_info is not None
    assert "note" in result.table_info.schema.names


def test_a_write_that_commits_nothing_reports_no_table(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = f"{ns[0]}.t"
    lake.writes.append(table, rows(1), create_if_missing=floe.NewTable())
    unchanged = lake.writes.upsert(table, rows(1), join_columns=["id"])
    assert unchanged.snapshot_id is None
    assert unchanged.snapshot is None
    assert unchanged.table_info is None
    empty = lake.writes.append(table, rows())
    assert empty.snapshot is None
    assert empty.table_info is None


@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert"])
def test_a_write_from_the_loaded_table_lands_like_any_other(
    lake: floe.Floe, ns: tuple[str, ...], mode: str
) -> None:
    table = f"{ns[0]}.t"
    lake.writes.append(table, rows(1, 2), create_if_missing=floe.NewTable())
    loaded = lake.tables.load(table)
    result = lake.writes.write(
        table,
        rows(2, 3),
        mode=mode,
        join_columns=["id"] if mode == "upsert" else (),
        current=loaded,
    )
    assert_reports_the_commit(lake, table, result)
    expected = {"append": [1, 2, 2, 3], "overwrite": [2, 3], "upsert": [1, 2, 3]}[mode]
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == expected


def test_a_stale_loaded_table_loses_no_commit(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    table = f"{ns[0]}.t"
    lake.writes.append(table, rows(1), create_if_missing=floe.NewTable())
    loaded = lake.tables.load(table)
    lake.writes.append(table, rows(2))  # another writer, after the load
    result = lake.writes.write(table, rows(3), mode="append", current=loaded)
    assert_reports_the_commit(lake, table, result)
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [1, 2, 3]
    # The same TableInfo again: it still describes the table before both appends.
    again = lake.writes.write(table, rows(4), mode="append", current=loaded)
    assert_reports_the_commit(lake, table, again)
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [1, 2, 3, 4]


def test_a_table_found_missing_is_created_with_its_rows(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = f"{ns[0]}.t"
    result = lake.writes.write(
        table, rows(1), mode="overwrite", current=TableMissing(), create_if_missing=floe.NewTable()
    )
    assert_reports_the_commit(lake, table, result)
    with pytest.raises(floe.TableNotFoundError, match="create_if_missing"):
        lake.writes.write(f"{ns[0]}.other", rows(1), mode="append", current=TableMissing())


def test_a_table_found_missing_but_created_meanwhile_is_written_not_replaced(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = f"{ns[0]}.t"
    lake.writes.append(table, rows(1), create_if_missing=floe.NewTable())
    result = lake.writes.write(
        table, rows(2), mode="append", current=TableMissing(), create_if_missing=floe.NewTable()
    )
    assert_reports_the_commit(lake, table, result)
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [1, 2]


def test_a_loaded_table_of_another_table_is_refused(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    lake.writes.append(f"{ns[0]}.a", rows(1), create_if_missing=floe.NewTable())
    lake.writes.append(f"{ns[0]}.b", rows(1), create_if_missing=floe.NewTable())
    other = lake.tables.load(f"{ns[0]}.b")
    with pytest.raises(floe.WriteError, match=r"describes .*\.b"):
        lake.writes.write(f"{ns[0]}.a", rows(2), mode="append", current=other)
    assert lake.reads.scan(f"{ns[0]}.b").num_rows == 1
