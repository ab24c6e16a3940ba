"""Row-level delete: the rows a filter selects go, in one commit; nothing else changes.

Run against every adapter. Files whose rows all match are dropped whole, the
others holding matches are rewritten without them, the rest are untouched;
a filter that matches nothing commits nothing.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from pyiceberg.expressions import GreaterThanOrEqual

import floe

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64()),
        pa.field("day", pa.date32()),
        pa.field("amount", pa.float64()),
    ]
)
DAYS = [dt.date(2024, 5, 1), dt.date(2024, 5, 2), dt.date(2024, 5, 3)]


def rows(ids: list[int]) -> pa.Table:
    return pa.table(
        {
            "id": ids,
            "day": [DAYS[i % 3] for i in ids],
            "amount": [None if i % 5 == 0 else float(i) for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "events")
    lake.tables.create(ident, SCHEMA, ["day"])
    lake.writes.append(ident, rows(list(range(0, 12))))
    lake.writes.append(ident, rows(list(range(12, 24))))
    return ident


def ids(lake: floe.Floe, table: floe.TableIdentifier) -> list[int]:
    return sorted(lake.reads.scan(table).column("id").to_pylist())


@pytest.mark.parametrize(
    ("row_filter", "gone"),
    [
        ("day = '2024-05-02'", {i for i in range(24) if i % 3 == 1}),  # whole files
        ("id >= 6 and id < 9", {6, 7, 8}),  # parts of files
        ("amount is null", {0, 5, 10, 15, 20}),  # nulls, selected as a scan selects them
        (GreaterThanOrEqual("id", 20), {20, 21, 22, 23}),  # an expression
        ("true", set(range(24))),
    ],
    ids=["whole-partition", "partial", "nulls", "expression", "everything"],
)
def test_delete_removes_exactly_the_rows_a_scan_with_the_filter_returns(
    lake: floe.Floe, table: floe.TableIdentifier, row_filter: object, gone: set[int]
) -> None:
    selected = set(lake.reads.scan(table, row_filter=row_filter).column("id").to_pylist())
    assert selected == gone
    before = len(lake.snapshots.list(table))

    result = lake.writes.delete(table, row_filter)

    assert ids(lake, table) == sorted(set(range(24)) - gone)
    assert result.rows_deleted == len(gone)
    assert result.rows_written == 0
    assert result.mode is floe.WriteMode.OVERWRITE
    snapshots = lake.snapshots.list(table)
    assert len(snapshots) == before + 1  # one commit
    assert snapshots[-1].snapshot_id == result.snapshot_id
    assert snapshots[-1].operation == "overwrite"
    assert snapshots[-1].summary["total-records"] == str(24 - len(gone))
    assert result.table_info == lake.tables.load(table)


def test_a_delete_that_matches_nothing_commits_nothing(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    before = lake.snapshots.list(table)

    result = lake.writes.delete(table, "id > 1000")

    assert result.snapshot_id is None
    assert result.rows_deleted == 0
    assert lake.snapshots.list(table) == before
    assert len(ids(lake, table)) == 24


def test_earlier_snapshots_still_hold_the_deleted_rows(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    previous = lake.tables.load(table).current_snapshot_id
    lake.writes.delete(table, "id < 12")
    assert ids(lake, table) == list(range(12, 24))
    old = lake.reads.scan(table, snapshot_id=previous).column("id").to_pylist()
    assert sorted(old) == list(range(24))


@pytest.mark.parametrize(
    ("row_filter", "error"),
    [
        (None, floe.InvalidFilterError),
        ("nope = 1", floe.InvalidFilterError),
        ("id >", floe.InvalidFilterError),
        (42, floe.InvalidFilterError),
    ],
    ids=["none", "unknown-column", "malformed", "not-a-filter"],
)
def test_a_bad_filter_deletes_nothing(
    lake: floe.Floe, table: floe.TableIdentifier, row_filter: object, error: type[Exception]
) -> None:
    before = lake.snapshots.list(table)
    with pytest.raises(error):
        lake.writes.delete(table, row_filter)  # type: ignore[arg-type]
    assert lake.snapshots.list(table) == before


def test_a_delete_from_a_missing_table_names_the_delete(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    with pytest.raises(floe.TableNotFoundError, match=r"delete rows of table .*ghost"):
        lake.writes.delete(floe.TableIdentifier(ns, "ghost"), "true")
