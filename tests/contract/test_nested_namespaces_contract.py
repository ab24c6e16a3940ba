"""Tables in namespaces three levels deep behave as anywhere else, on every adapter.

Dagster asset keys such as ``["lake", "bronze", "orders"]`` map to such
tables, and their first materialisation creates the table with its rows in
one commit.
"""

from __future__ import annotations

import concurrent.futures
import threading
import uuid

import pyarrow as pa
import pytest

import floe

ROWS = pa.table({"id": [1, 2, 3], "day": ["a", "b", "a"], "qty": [10, 20, 30]})


@pytest.fixture
def deep(lake: floe.Floe) -> tuple[str, str, str]:
    """A fresh namespace three levels deep, its parents created with it."""
    root = "d" + uuid.uuid4().hex[:10]
    namespace = (root, "bronze", "sales")
    lake.namespaces.create(namespace, create_parents=True)
    return namespace


def test_a_table_is_created_with_its_rows_three_levels_deep(
    lake: floe.Floe, deep: tuple[str, str, str]
) -> None:
    table = floe.TableIdentifier(deep, "orders")

    result = lake.writes.append(
        table, ROWS, create_if_missing=floe.NewTable(partition_spec=["day"])
    )

    assert result.rows_added == 3
    assert lake.tables.list(deep) == [table]
    assert lake.tables.load(table).current_snapshot_id == result.snapshot_id
    assert lake.reads.scan(table).sort_by("id") == ROWS


def test_every_write_mode_scan_list_and_drop_work_three_levels_deep(
    lake: floe.Floe, deep: tuple[str, str, str]
) -> None:
    table = floe.TableIdentifier(deep, "orders")
    lake.tables.create(table, ROWS.schema, ["day"])

    lake.writes.append(table, ROWS)
    lake.writes.overwrite(
        table, pa.table({"id": [4], "day": ["a"], "qty": [40]}), row_filter="day = 'a'"
    )
    lake.writes.upsert(
        table, pa.table({"id": [2, 5], "day": ["b", "c"], "qty": [21, 50]}), join_columns=["id"]
    )

    scanned = lake.reads.scan(table, columns=["id", "qty"], row_filter="qty > 0").sort_by("id")
    assert scanned.to_pydict() == {"id": [2, 4, 5], "qty": [21, 40, 50]}
    assert lake.namespaces.list(deep[:2]) == [deep]
    assert lake.namespaces.list(deep[:1], recursive=True) == [deep[:2], deep]

    lake.tables.drop(table, purge=True)
    assert lake.tables.list(deep) == []
    lake.namespaces.drop(deep)
    assert lake.namespaces.list(deep[:2]) == []


def test_the_same_table_name_in_sibling_deep_namespaces_is_two_tables(
    lake: floe.Floe, deep: tuple[str, str, str]
) -> None:
    sibling = (*deep[:2], "returns")
    lake.namespaces.create(sibling)
    first = floe.TableIdentifier(deep, "orders")
    second = floe.TableIdentifier(sibling, "orders")
    new = floe.NewTable()

    lake.writes.append(first, ROWS, create_if_missing=new)
    lake.writes.append(second, ROWS.slice(0, 1), create_if_missing=new)

    assert lake.reads.scan(first).num_rows == 3
    assert lake.reads.scan(second).num_rows == 1
    assert lake.tables.load(first).location != lake.tables.load(second).location


def test_create_if_not_exists_holds_when_threads_race_for_the_same_new_namespace(
    lake: floe.Floe,
) -> None:
    namespace = ("r" + uuid.uuid4().hex[:10], "bronze", "sales")
    barrier = threading.Barrier(4)

    def create() -> floe.NamespaceInfo:
        barrier.wait(timeout=60)
        return lake.namespaces.create_if_not_exists(namespace, {"owner": "etl"})

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        created = [f.result(timeout=120) for f in [pool.submit(create) for _ in range(4)]]

    assert {c.namespace for c in created} == {namespace}
    assert lake.namespaces.list(namespace[:2]) == [namespace]
    assert lake.namespaces.load(namespace).properties["owner"] == "etl"
