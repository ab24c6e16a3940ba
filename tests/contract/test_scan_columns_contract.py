"""Scans return the requested columns in the order they were requested, on every adapter."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import floe

SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("qty", pa.int32()),
        ("name", pa.string()),
        ("ts", pa.timestamp("us")),
        ("price", pa.float64()),
    ]
)
ROWS = pa.table(
    {
        "id": [1, 2, 3],
        "qty": [5, 6, 7],
        "name": ["a", "b", None],
        "ts": [0, 86_400_000_000, 2 * 86_400_000_000],
        "price": [1.5, None, 3.5],
    },
    schema=SCHEMA,
)


@pytest.fixture
def orders(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    table = floe.TableIdentifier(ns, "orders")
    lake.tables.create(table, SCHEMA, ["day(ts)"])
    lake.writes.append(table, ROWS)
    return table


def test_columns_come_back_in_the_requested_order(
    lake: floe.Floe, orders: floe.TableIdentifier
) -> None:
    scanned = lake.reads.scan(orders, columns=["qty", "id"])

    assert scanned.column_names == ["qty", "id"]
    assert scanned.schema == pa.schema([("qty", pa.int32()), ("id", pa.int64())])
    assert scanned.sort_by("id").to_pydict() == {"qty": [5, 6, 7], "id": [1, 2, 3]}


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    columns=st.lists(st.sampled_from(SCHEMA.names), min_size=1, max_size=5, unique=True),
    row_filter=st.sampled_from([None, "qty > 5", "ts >= '1970-01-02T00:00:00'", "name is null"]),
)
def test_any_projection_order_with_any_filter_is_kept_by_scans_and_batches(
    lake: floe.Floe, orders: floe.TableIdentifier, columns: list[str], row_filter: str | None
) -> None:
    expected_schema = pa.schema([SCHEMA.field(c) for c in columns])

    scanned = lake.reads.scan(orders, columns=columns, row_filter=row_filter)
    streamed = lake.reads.batches(orders, columns=columns, row_filter=row_filter).read_all()

    assert scanned.schema == expected_schema
    assert streamed.schema == expected_schema
    assert sorted(scanned.to_pylist(), key=str) == sorted(streamed.to_pylist(), key=str)


def test_a_float_not_in_keeps_null_rows_as_its_exact_meaning_does(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    # Arrow's is_in answers false for a null, so "not in" keeps it; the scan
    # once pushed the NaN-safe "is not null" down in its place and lost it.
    table = floe.TableIdentifier(ns, "prices")
    schema = pa.schema([("id", pa.int64()), ("price", pa.float64())])
    lake.tables.create(table, schema)
    lake.writes.append(table, pa.table({"id": [1, 2, 3, 4], "price": [1.0, None, math.nan, 6.0]}))

    kept = lake.reads.scan(table, row_filter="price not in (6.0, 9.0)")
    streamed = lake.reads.batches(table, row_filter="price not in (6.0, 9.0)").read_all()

    assert sorted(kept.column("id").to_pylist()) == [1, 2, 3]
    assert sorted(streamed.column("id").to_pylist()) == [1, 2, 3]
