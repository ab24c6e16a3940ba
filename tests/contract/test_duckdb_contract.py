"""A DuckDB relation of a table holds exactly the rows a scan returns, on every adapter."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import floe

UTC = dt.UTC
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("region", pa.string()),
        ("amount", pa.float64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
    ]
)


def _rows(ids: range, region: str) -> pa.Table:
    amounts = [None if i % 7 == 0 else math.nan if i % 5 == 0 else i * 1.5 for i in ids]
    return pa.table(
        {
            "id": list(ids),
            "region": [None if i % 11 == 0 else region for i in ids],
            "amount": amounts,
            "ts": [dt.datetime(2024, 1, 1 + i % 3, i % 24, tzinfo=UTC) for i in ids],
            "day": [dt.date(2024, 1, 1 + i % 3) for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture
def sales(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    table = floe.TableIdentifier(ns, "sales")
    lake.tables.create(table, SCHEMA, ["identity(region)", "day(ts)"])
    lake.writes.append(table, _rows(range(0, 40), "eu"))
    lake.writes.append(table, _rows(range(40, 80), "us"))
    lake.writes.overwrite(table, _rows(range(80, 90), "eu"), row_filter="region = 'eu' and id < 10")
    return table


def _normal(rows: pa.Table) -> list[tuple[Any, ...]]:
    """Rows as sortable tuples, NaN spelt out (it equals nothing, not even itself)."""

    def value(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return "NaN"
        return v

    tuples = [tuple(value(v) for v in row.values()) for row in rows.to_pylist()]
    return sorted(tuples, key=repr)


def _relation_rows(relation: Any) -> pa.Table:
    table: pa.Table = relation.to_arrow_table()
    return table


FILTERS = [
    None,
    "region != 'eu'",
    "region is null",
    "region not in ('us')",
    "amount > 30",
    "amount >= 30 or id < 3",
    "not (amount >= 30)",
    "amount is nan",
    "amount not in (6.0, 9.0)",
    "ts >= '2024-01-02T00:00:00+00:00'",
    "day = '2024-01-03'",
    "id in (1, 2, 41, 85)",
]


def test_a_relation_selects_the_rows_of_a_scan(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    for row_filter in FILTERS:
        relation = lake.reads.to_duckdb(sales, row_filter=row_filter)
        scanned = lake.reads.scan(sales, row_filter=row_filter)

        assert relation.columns == SCHEMA.names
        assert _normal(_relation_rows(relation)) == _normal(scanned), row_filter


def test_projection_time_travel_and_an_aggregate_in_duckdb(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    first = lake.snapshots.list(sales)[0].snapshot_id
    relation = lake.reads.to_duckdb(
        sales, columns=["amount", "id"], row_filter="id >= 5", snapshot_id=first
    )
    scanned = lake.reads.scan(
        sales, columns=["amount", "id"], row_filter="id >= 5", snapshot_id=first
    )

    assert relation.columns == ["amount", "id"]
    assert _normal(_relation_rows(relation)) == _normal(scanned)
    counted = relation.aggregate("count(*) AS n, max(id) AS top").fetchall()
    assert counted == [(scanned.num_rows, 39)]


def test_a_relation_reads_a_branch_or_a_tag(lake: floe.Floe, sales: floe.TableIdentifier) -> None:
    first = lake.snapshots.list(sales)[0].snapshot_id
    lake.refs.create_tag(sales, "first", snapshot_id=first)
    lake.refs.create_branch(sales, "audit")
    lake.writes.append(sales, _rows(range(90, 95), "us"), branch="audit")

    for ref in ("first", "audit", "main"):
        relation = lake.reads.to_duckdb(sales, row_filter="id >= 3", ref=ref)
        scanned = lake.reads.scan(sales, row_filter="id >= 3", ref=ref)
        assert _normal(_relation_rows(relation)) == _normal(scanned), ref
    assert lake.reads.to_duckdb(sales, ref="audit").aggregate("max(id)").fetchall() == [(94,)]


def test_the_callers_connection_is_used_and_sql_runs_over_the_relation(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    connection = duckdb.connect()
    relation = lake.reads.to_duckdb(sales, columns=["region", "id"], connection=connection)
    relation.create_view("floe_sales")
    total = connection.sql(
        "SELECT region, count(*) FROM floe_sales GROUP BY region ORDER BY region NULLS FIRST"
    ).fetchall()
    scanned = lake.reads.scan(sales, columns=["region"]).column("region").to_pylist()

    assert total == sorted(
        ((r, scanned.count(r)) for r in set(scanned)), key=lambda p: (p[0] is not None, p[0] or "")
    )


def test_schema_evolution_and_an_empty_table(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    table = floe.TableIdentifier(ns, "evolving")
    lake.tables.create(table, pa.schema([("id", pa.int32())]))
    empty = lake.reads.to_duckdb(table)
    assert empty.fetchall() == []
    assert empty.columns == ["id"]

    lake.writes.append(table, pa.table({"id": pa.array([1, 2], pa.int32())}))
    wider = pa.table({"id": pa.array([3], pa.int64()), "note": ["new"]})
    lake.writes.append(table, wider, allow_schema_evolution=True)

    relation = lake.reads.to_duckdb(table, row_filter="note is null or id > 2")
    assert sorted(relation.fetchall()) == [(1, None), (2, None), (3, "new")]


def test_bad_options_are_floe_errors(lake: floe.Floe, sales: floe.TableIdentifier) -> None:
    with pytest.raises(floe.InvalidScanError):
        lake.reads.to_duckdb(sales, columns=["nope"])
    with pytest.raises(floe.InvalidFilterError):
        lake.reads.to_duckdb(sales, row_filter="nope = 1")
    with pytest.raises(floe.SnapshotNotFoundError):
        lake.reads.to_duckdb(sales, snapshot_id=1)
    with pytest.raises(floe.TableNotFoundError):
        lake.reads.to_duckdb(floe.TableIdentifier(sales.namespace, "missing"))


def test_no_columns_are_the_rows_without_columns_and_no_relation(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    for row_filter in (None, "region = 'eu' and amount > 30"):
        expected = lake.reads.scan(sales, row_filter=row_filter).num_rows
        scanned = lake.reads.scan(sales, columns=[], row_filter=row_filter)
        streamed = lake.reads.batches(sales, columns=[], row_filter=row_filter).read_all()

        assert (scanned.num_columns, scanned.num_rows) == (0, expected), row_filter
        assert (streamed.num_columns, streamed.num_rows) == (0, expected), row_filter
        # DuckDB has no relation without columns: refused, naming the table
        with pytest.raises(floe.InvalidScanError, match=str(sales)):
            lake.reads.to_duckdb(sales, columns=[], row_filter=row_filter)


def test_a_relation_duckdb_cannot_make_is_a_scan_error_naming_the_table(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    closed = duckdb.connect()
    closed.close()

    with pytest.raises(floe.ScanError, match=str(sales)) as raised:
        lake.reads.to_duckdb(sales, connection=closed)

    assert "connection" in str(raised.value)
