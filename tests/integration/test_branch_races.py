"""Branch writes racing other writers: conflicts are judged on the branch's own history.

As in ``test_overwrite_races``, the other client commits just before floe's
commit is sent, every time (a hook on the commit, no timing): the catalog
refuses the stale commit (it asserts the branch head it read) and
PyIceberg re-applies the write on the fresh branch head, validating it
against the commits made to that branch meanwhile.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe
from tests.contract.test_table_store_contract import SCHEMA, rows
from tests.integration.conftest import Race, unique


@pytest.fixture
def table(clients: tuple[floe.Floe, floe.Floe]) -> str:
    lake, _ = clients
    namespace = unique("branchraces")
    lake.namespaces.create(namespace)
    name = f"{namespace}.events"
    lake.tables.create(name, SCHEMA, ["day(ts)"])
    lake.writes.append(name, rows([1, 2, 3]))
    lake.refs.create_branch(name, "audit")
    return name


def ids(lake: floe.Floe, table: str, ref: str | None = None) -> list[int]:
    return sorted(lake.reads.scan(table, ref=ref).column("id").to_pylist())


def test_a_branch_overwrite_racing_an_overwrite_of_its_rows_on_the_branch_is_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(
        lambda: other.writes.overwrite(table, rows([7]), row_filter="id = 2", branch="audit")
    )

    with pytest.raises(floe.CommitConflictError):
        lake.writes.overwrite(table, rows([9]), row_filter="id >= 2", branch="audit")

    assert ids(lake, table, "audit") == [1, 3, 7]
    assert ids(lake, table) == [1, 2, 3]


def test_the_same_rows_overwritten_on_main_meanwhile_do_not_conflict_with_the_branch(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.overwrite(table, rows([7]), row_filter="id = 2"))

    result = lake.writes.overwrite(table, rows([9]), row_filter="id >= 2", branch="audit")

    assert result.rows_deleted == 2
    assert ids(lake, table, "audit") == [1, 9]
    assert ids(lake, table) == [1, 3, 7]


def test_an_upsert_on_a_branch_racing_an_update_of_its_rows_there_is_a_conflict(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    theirs = rows([2]).set_column(2, "region", pa.array(["theirs"]))
    mine = rows([2, 5]).set_column(2, "region", pa.array(["mine", "mine"]))
    race.append(lambda: other.writes.upsert(table, theirs, join_columns=["id"], branch="audit"))

    with pytest.raises(floe.CommitConflictError):
        lake.writes.upsert(table, mine, join_columns=["id"], branch="audit")

    got = {r["id"]: r["region"] for r in lake.reads.scan(table, ref="audit").to_pylist()}
    assert got == {1: "eu", 2: "theirs", 3: "eu"}


def test_appends_racing_on_a_branch_are_both_kept_and_main_is_untouched(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([20]), branch="audit"))

    lake.writes.append(table, rows([10]), branch="audit")

    assert ids(lake, table, "audit") == [1, 2, 3, 10, 20]
    assert ids(lake, table) == [1, 2, 3]


def test_a_main_write_racing_a_branch_commit_is_retried_not_refused(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    # The branch commit took the sequence number main's commit had read: the
    # catalog must refuse main's commit as a conflict (retried), not a bad request.
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([20]), branch="audit"))

    result = lake.writes.overwrite(table, rows([9]), row_filter="id = 1")

    assert result.rows_deleted == 1
    assert ids(lake, table) == [2, 3, 9]
    assert ids(lake, table, "audit") == [1, 2, 3, 20]
