"""An overwrite, upsert or delete racing another writer: one snapshot, nothing lost.

Another client commits between the moment a floe write staged its snapshot
and the moment it commits, every time (a hook on the commit, no timing). The
catalog refuses the stale commit; PyIceberg re-applies the overwrite on the
fresh metadata and validates it. Rows another writer appended outside the
overwrite's filter are kept; rows it added inside the filter, or a data file
it replaced that the overwrite rewrites, make the overwrite a
``CommitConflictError`` that leaves the table as the other writer left it.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe
from tests.contract.test_table_store_contract import DAY2, SCHEMA, rows
from tests.integration.conftest import Race, unique


@pytest.fixture
def table(clients: tuple[floe.Floe, floe.Floe]) -> str:
    lake, _ = clients
    namespace = unique("races")
    lake.namespaces.create(namespace)
    name = f"{namespace}.events"
    lake.tables.create(name, SCHEMA, ["day(ts)"])
    lake.writes.append(name, rows([1, 2, 3]))
    return name


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table).column("id").to_pylist())


def test_rows_appended_outside_the_filter_meanwhile_are_kept(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([4], DAY2)))
    result = lake.writes.overwrite(table, rows([9]), row_filter="id = 2")
    assert (result.rows_added, result.rows_deleted) == (1, 1)
    assert ids(lake, table) == [1, 3, 4, 9]
    operations = [s.operation for s in lake.snapshots.list(table)]
    assert operations == ["append", "append", "overwrite"]


def test_rows_appended_inside_the_filter_meanwhile_are_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([20])))
    with pytest.raises(floe.CommitConflictError):
        lake.writes.overwrite(table, rows([9]), row_filter="id >= 2")
    assert ids(lake, table) == [1, 2, 3, 20]
    assert len(lake.snapshots.list(table)) == 2


def test_a_file_rewritten_meanwhile_is_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.overwrite(table, rows([7]), row_filter="id = 1"))
    with pytest.raises(floe.CommitConflictError):
        lake.writes.overwrite(table, rows([9]), row_filter="id = 3")
    assert ids(lake, table) == [2, 3, 7]


def test_an_upsert_racing_an_update_of_its_rows_is_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    theirs = rows([2]).set_column(2, "region", pa.array(["theirs"]))
    mine = rows([2, 5]).set_column(2, "region", pa.array(["mine", "mine"]))
    race.append(lambda: other.writes.upsert(table, theirs, join_columns=["id"]))
    with pytest.raises(floe.CommitConflictError):
        lake.writes.upsert(table, mine, join_columns=["id"])
    got = {r["id"]: r["region"] for r in lake.reads.scan(table).to_pylist()}
    assert got == {1: "eu", 2: "theirs", 3: "eu"}


def test_a_delete_keeps_rows_appended_outside_its_filter_meanwhile(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([4], DAY2)))
    result = lake.writes.delete(table, "id = 2")
    assert result.rows_deleted == 1
    assert ids(lake, table) == [1, 3, 4]
    operations = [s.operation for s in lake.snapshots.list(table)]
    assert operations == ["append", "append", "overwrite"]


def test_a_delete_racing_rows_appended_inside_its_filter_is_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([20])))
    with pytest.raises(floe.CommitConflictError):
        lake.writes.delete(table, "id >= 2")
    assert ids(lake, table) == [1, 2, 3, 20]
    assert len(lake.snapshots.list(table)) == 2


def test_a_delete_racing_a_rewrite_of_its_file_is_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.overwrite(table, rows([7]), row_filter="id = 1"))
    with pytest.raises(floe.CommitConflictError):
        lake.writes.delete(table, "id = 3")
    assert ids(lake, table) == [2, 3, 7]


def test_the_update_isolation_level_of_the_table_decides(
    clients: tuple[floe.Floe, floe.Floe], race: list[Race]
) -> None:
    """Overwrites are judged by ``write.update.isolation-level``, as PyIceberg's own are."""
    lake, other = clients
    namespace = unique("races")
    lake.namespaces.create(namespace)
    table = f"{namespace}.snapshot_isolated"
    lake.tables.create(table, SCHEMA, (), {"write.update.isolation-level": "snapshot"})
    lake.writes.append(table, rows([1, 2, 3]))
    race.append(lambda: other.writes.append(table, rows([20])))
    lake.writes.overwrite(table, rows([9]), row_filter="id >= 2")
    # Snapshot isolation: rows committed meanwhile were not seen, so not replaced.
    assert ids(lake, table) == [1, 9, 20]
