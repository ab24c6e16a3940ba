"""TableStorePort contract: one commit is one version, for every write mode.

A reader thinks in versions: whatever instant ``as_of`` names, it reads a
state the table had after some commit, never a half-applied one (an
overwrite's rows deleted but the new ones not yet added); ``snapshots.list``
shows one entry per commit, and ``retain_last=k`` keeps the k newest
versions readable.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

import floe
from tests.contract.test_table_store_contract import DAY1, DAY2, SCHEMA, rows

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAY1_RANGE = "ts >= '2024-05-01T00:00:00' and ts < '2024-05-02T00:00:00'"
DAY2_RANGE = "ts >= '2024-05-02T00:00:00' and ts < '2024-05-03T00:00:00'"

Write = Callable[[floe.Floe, floe.TableIdentifier], floe.WriteResult]


def changed(ids: list[int], when: dt.datetime = DAY1) -> pa.Table:
    """Rows whose non-key columns differ from :func:`rows` for the same ids."""
    data = rows(ids, when)
    return data.set_column(2, "region", pa.array(["changed"] * len(ids), pa.string()))


def append(data: pa.Table) -> Write:
    return lambda lake, table: lake.writes.append(table, data)


def overwrite(data: pa.Table, row_filter: str | None = None) -> Write:
    return lambda lake, table: lake.writes.overwrite(table, data, row_filter=row_filter)


def upsert(data: pa.Table) -> Write:
    return lambda lake, table: lake.writes.upsert(table, data, join_columns=["id"])


#: Per write mode, commits after a first append. Each overwrite or upsert
#: removes rows and adds others, dropping whole files and rewriting files
#: that keep some of their rows.
SEQUENCES: dict[str, list[Write]] = {
    "append": [append(rows([1, 2])), append(rows([3], DAY2)), append(rows([4, 5]))],
    "overwrite_whole": [
        append(rows([1, 2, 3])),
        overwrite(rows([4, 5], DAY2)),
        overwrite(rows([6])),
    ],
    "overwrite_by_filter": [
        append(rows([1, 2, 3])),
        append(rows([4], DAY2)),
        overwrite(rows([9]), row_filter="id >= 2 and id < 4"),  # rewrites the DAY1 file
        overwrite(rows([10], DAY2), row_filter="id = 4"),  # drops the DAY2 file
    ],
    "overwrite_partition": [
        append(pa.concat_tables([rows([1, 2]), rows([3], DAY2)])),
        overwrite(rows([7, 8]), row_filter=DAY1_RANGE),
        overwrite(rows([9], DAY2), row_filter=DAY2_RANGE),
    ],
    "upsert": [
        append(rows([1, 2, 3])),
        upsert(pa.concat_tables([changed([2]), rows([4], DAY2)])),
        upsert(pa.concat_tables([changed([3, 4], DAY2), rows([5])])),
    ],
}


def state(data: pa.Table) -> list[tuple[Any, ...]]:
    """A table's rows, order-free."""
    names = SCHEMA.names
    return sorted(tuple(r[n] for n in names) for r in data.select(names).to_pylist())


def at(ms: int, micros: int = 500) -> dt.datetime:
    """An aware instant ``micros`` after the millisecond ``ms`` (inside that millisecond)."""
    return EPOCH + dt.timedelta(milliseconds=ms, microseconds=micros)


def commit_all(
    lake: floe.Floe, table: floe.TableIdentifier, writes: list[Write]
) -> tuple[list[int], list[list[tuple[Any, ...]]]]:
    """Run the writes; the snapshot id each committed and the table's state after it."""
    ids, states = [], []
    for write in writes:
        result = write(lake, table)
        assert result.snapshot_id is not None
        ids.append(result.snapshot_id)
        states.append(state(lake.reads.scan(table)))
    return ids, states


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "versions")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


@pytest.mark.parametrize("mode", list(SEQUENCES))
def test_each_commit_is_one_snapshot(
    lake: floe.Floe, table: floe.TableIdentifier, mode: str
) -> None:
    ids, states = commit_all(lake, table, SEQUENCES[mode])
    snapshots = lake.snapshots.list(table)
    assert [s.snapshot_id for s in snapshots] == ids
    for snapshot, expected in zip(snapshots, states, strict=True):
        assert state(lake.reads.scan(table, snapshot_id=snapshot.snapshot_id)) == expected
    if mode.startswith(("overwrite", "upsert")):
        assert [s.operation for s in snapshots[-2:]] == ["overwrite", "overwrite"]


@pytest.mark.parametrize("mode", list(SEQUENCES))
def test_as_of_any_instant_reads_a_committed_state(
    lake: floe.Floe, table: floe.TableIdentifier, mode: str
) -> None:
    _, states = commit_all(lake, table, SEQUENCES[mode])
    stamps = sorted(s.timestamp_ms for s in lake.snapshots.list(table))
    # At, just before and just after every snapshot, and halfway between two.
    moments = {ms for stamp in stamps for ms in (stamp - 1, stamp, stamp + 1)}
    moments |= {(a + b) // 2 for a, b in itertools.pairwise(stamps)}
    for ms in sorted(m for m in moments if m >= stamps[0]):
        seen = state(lake.reads.scan(table, as_of=at(ms)))
        assert seen in states, f"as_of {at(ms).isoformat()} read a state no commit left"
    assert state(lake.reads.scan(table, as_of=at(stamps[-1]))) == states[-1]


@pytest.mark.parametrize("mode", list(SEQUENCES))
@pytest.mark.parametrize("keep", [1, 2])
def test_retain_last_keeps_that_many_versions(
    lake: floe.Floe, table: floe.TableIdentifier, mode: str, keep: int
) -> None:
    ids, states = commit_all(lake, table, SEQUENCES[mode])
    result = lake.maintenance.expire_snapshots(table, retain_last=keep)
    assert set(result.expired_snapshot_ids) == set(ids[:-keep])
    remaining = [s.snapshot_id for s in lake.snapshots.list(table)]
    assert remaining == ids[-keep:]
    for snapshot_id, expected in zip(remaining, states[-keep:], strict=True):
        assert state(lake.reads.scan(table, snapshot_id=snapshot_id)) == expected


def test_an_overwrite_is_one_snapshot_carrying_the_commit_properties(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1, 2, 3]))
    result = lake.writes.overwrite(
        table, rows([7]), row_filter="id = 2", snapshot_properties={"run": "r1"}
    )
    assert (result.rows_added, result.rows_deleted) == (1, 1)
    newest = lake.snapshots.list(table)[-1]
    assert newest.snapshot_id == result.snapshot_id
    assert (newest.operation, newest.summary["run"]) == ("overwrite", "r1")
    assert newest.summary["total-records"] == "3"
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [1, 3, 7]


def test_an_upsert_with_updates_and_inserts_is_one_snapshot(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first = lake.writes.append(table, rows([1, 2, 3]))
    result = lake.writes.upsert(
        table,
        pa.concat_tables([changed([2]), rows([4])]),
        join_columns=["id"],
        snapshot_properties={"run": "r2"},
    )
    assert (result.rows_added, result.rows_deleted) == (2, 1)
    snapshots = lake.snapshots.list(table)
    assert [s.snapshot_id for s in snapshots] == [first.snapshot_id, result.snapshot_id]
    assert (snapshots[-1].operation, snapshots[-1].summary["run"]) == ("overwrite", "r2")
    got = {r["id"]: r["region"] for r in lake.reads.scan(table).to_pylist()}
    assert got == {1: "eu", 2: "changed", 3: "eu", 4: "eu"}
    inserted = lake.writes.upsert(table, rows([5]), join_columns=["id"])
    assert lake.snapshots.list(table)[-1].snapshot_id == inserted.snapshot_id
    assert lake.snapshots.list(table)[-1].operation == "append"


def test_an_overwrite_with_a_schema_change_is_one_snapshot(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1, 2]))
    wider = rows([9]).append_column("note", pa.array(["n"], pa.string()))
    result = lake.writes.overwrite(table, wider, row_filter="id = 1", allow_schema_evolution=True)
    snapshots = lake.snapshots.list(table)
    assert [s.snapshot_id for s in snapshots][-1] == result.snapshot_id
    assert len(snapshots) == 2
    got = lake.reads.scan(table, columns=["id", "note"]).sort_by("id").to_pylist()
    assert got == [{"id": 2, "note": None}, {"id": 9, "note": "n"}]


def test_an_overwrite_of_a_table_without_snapshots_is_one_append(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    result = lake.writes.overwrite(table, rows([1, 2]), row_filter="id > 0")
    (snapshot,) = lake.snapshots.list(table)
    assert (snapshot.snapshot_id, snapshot.operation) == (result.snapshot_id, "append")
    assert (result.rows_added, result.rows_deleted) == (2, 0)
    again = lake.writes.overwrite(table, rows([3]).slice(0, 0), row_filter="id > 5")
    assert again.snapshot_id is not None  # an overwrite always commits its snapshot
    assert [s.snapshot_id for s in lake.snapshots.list(table)][-1] == again.snapshot_id
    assert (again.rows_added, again.rows_deleted) == (0, 0)
    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [1, 2]
