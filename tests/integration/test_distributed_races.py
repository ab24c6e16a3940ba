"""Distributed writes racing other writers: judged as the single-process writes are.

As in ``test_overwrite_races`` and ``test_branch_races``, the other client
commits just before floe's commit is sent, every time (a hook on the
commit, no timing), after the Ray workers have written their files. A
filtered replace keeps rows appended outside its filter meanwhile and is a
``CommitConflictError`` when rows were added inside it (its conflict
predicate is the filter), leaving no file of its own behind; a branch write
is re-applied over a commit made meanwhile to ``main`` and leaves it alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

import floe
from tests.contract.test_table_store_contract import DAY2, SCHEMA, rows
from tests.integration import ray_cluster
from tests.integration.conftest import Race, unique

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One small local Ray for the module."""
    yield from ray_cluster.local(ray)


@pytest.fixture
def table(clients: tuple[floe.Floe, floe.Floe]) -> str:
    lake, _ = clients
    namespace = unique("rayraces")
    lake.namespaces.create(namespace)
    name = f"{namespace}.events"
    lake.tables.create(name, SCHEMA, ["day(ts)"])
    lake.writes.append(name, rows([1, 2, 3]))
    return name


def ids(lake: floe.Floe, table: str, ref: str | None = None) -> list[int]:
    return sorted(lake.reads.scan(table, ref=ref).column("id").to_pylist())


def _orphaned_data_files(lake: floe.Floe, table: str) -> list[str]:
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    return [p for p in found.orphan_paths if p.endswith(".parquet")]


def test_rows_appended_outside_the_filter_meanwhile_are_kept(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([4], DAY2)))

    result = lake.writes.overwrite_distributed(
        table, ray.data.from_arrow(rows([9])), row_filter="id = 2"
    )

    assert (result.rows_added, result.rows_deleted) == (1, 1)
    assert ids(lake, table) == [1, 3, 4, 9]
    operations = [s.operation for s in lake.snapshots.list(table)]
    assert operations == ["append", "append", "overwrite"]


def test_rows_appended_inside_the_filter_meanwhile_are_a_conflict_and_leave_no_file(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    race.append(lambda: other.writes.append(table, rows([20])))

    with pytest.raises(floe.CommitConflictError):
        lake.writes.overwrite_distributed(
            table, ray.data.from_arrow(rows([9, 10])).repartition(2), row_filter="id >= 2"
        )

    assert ids(lake, table) == [1, 2, 3, 20]
    assert len(lake.snapshots.list(table)) == 2
    # The workers' files and the file rewritten on the driver were deleted.
    assert _orphaned_data_files(lake, table) == []


def test_a_branch_write_racing_a_commit_on_main_moves_only_the_branch(
    clients: tuple[floe.Floe, floe.Floe], table: str, race: list[Race]
) -> None:
    lake, other = clients
    lake.refs.create_branch(table, "audit", min_snapshots_to_keep=4)
    race.append(lambda: other.writes.overwrite(table, rows([7]), row_filter="id = 2"))

    result = lake.writes.overwrite_distributed(
        table, ray.data.from_arrow(rows([9])), row_filter="id >= 2", branch="audit"
    )

    assert result.rows_deleted == 2
    assert ids(lake, table, "audit") == [1, 9]
    assert ids(lake, table) == [1, 3, 7]
    assert lake.refs.get(table, "audit").retention.min_snapshots_to_keep == 4
