"""A LazyFrame input: polars filters pushed into floe's scan return exactly polars' rows."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import floe
from floe.adapters.dagster._lazy import filter_text, lazy_scan

pl = pytest.importorskip("polars")

SCHEMA = pa.schema(
    [
        ("a", pa.int64()),
        ("i", pa.int32()),
        ("s", pa.string()),
        ("b", pa.bool_()),
        ("f", pa.float64()),
        ("and", pa.int64()),
    ]
)
ROWS = pa.table(
    {
        "a": [1, 2, None, -5, 2**40, 0],
        "i": [1, None, 3, -(2**31), 2**31 - 1, 0],
        "s": ["x", "", None, "é", "o'k", "y"],
        "b": [True, False, None, True, False, None],
        "f": [1.5, math.nan, None, -math.inf, 3.0, 0.0],
        "and": [1, 2, 3, 4, 5, 6],
    },
    schema=SCHEMA,
)


@pytest.mark.parametrize(
    ("predicate", "text"),
    [
        (pl.col("a") > 2, "(a > 2)"),
        (pl.lit(3) < pl.col("a"), "(a > 3)"),
        ((pl.col("a") == 1) & (pl.col("s") == "x"), "(a = 1) and (s = 'x')"),
        (pl.col("a").is_null(), "(a is null)"),
        (pl.col("s").is_not_null(), "(s is not null)"),
        (~(pl.col("a") < 3), "(not (a < 3))"),
        ((pl.col("a") > 1) | (pl.col("i") < 0), "((a > 1) or (i < 0))"),
        (pl.col("b") == True, "(b = true)"),  # noqa: E712 - a polars expression
        (pl.col("s") != "é", "(s != 'é')"),
        (pl.col("b"), "(b = true)"),
        (~pl.col("b"), "(not (b = true))"),
        (pl.col("a").is_between(1, 5), "((a >= 1) and (a <= 5))"),
        (pl.col("i").is_between(0, 9, closed="none"), "((i > 0) and (i < 9))"),
    ],
)
def test_translatable_predicates_become_filter_text(predicate: Any, text: str) -> None:
    assert filter_text(predicate, SCHEMA) == text


@pytest.mark.parametrize(
    "predicate",
    [
        pl.col("f") > 2.5,  # NaN: polars keeps it, Iceberg would not
        pl.col("i") > 2**40,  # no int32 holds the literal
        pl.col("s") == "o'k",  # a quote inside the literal
        pl.col("and") > 1,  # a column named like a keyword
        pl.col("a").is_in([1, 2]),
        (pl.col("a") > 1) | (pl.col("f") < 0),  # half of an "or" is not enough
        ~((pl.col("a") > 1) & (pl.col("f") > 1)),  # nor half under a "not"
        pl.col("a") > pl.col("i"),  # two columns
        pl.col("a").cast(pl.Utf8) == "1",
    ],
)
def test_other_predicates_are_left_to_polars(predicate: Any) -> None:
    assert filter_text(predicate, SCHEMA) is None


def test_the_translatable_conjuncts_of_an_and_are_pushed() -> None:
    predicate = (pl.col("f") > 1) & (pl.col("a") >= 0) & pl.col("s").is_in(["x"])

    assert filter_text(predicate, SCHEMA) == "(a >= 0)"


@pytest.fixture(scope="module")
def lake() -> floe.Floe:
    lake = floe.Floe.from_config(floe.MemoryCatalogConfig())
    lake.namespaces.create("ns")
    lake.tables.create("ns.t", SCHEMA)
    lake.writes.append("ns.t", ROWS)
    return lake


def _scan(lake: floe.Floe, pushed: list[str | None]) -> Any:
    def read(columns: Sequence[str] | None, text: str | None, limit: int | None) -> Any:
        pushed.append(text)
        return lake.reads.batches("ns.t", columns=columns, row_filter=text, limit=limit)

    return lazy_scan(read, SCHEMA, name="ns.t")


ATOMS = st.one_of(
    st.builds(
        lambda col, op, v: getattr(pl.col(col), op)(v),
        st.sampled_from(["a", "i", "and"]),
        st.sampled_from(["eq", "ne", "lt", "le", "gt", "ge"]),
        st.integers(-6, 6) | st.sampled_from([2**40, -(2**31), 2**31 - 1, 2**31]),
    ),
    st.builds(
        lambda op, v: getattr(pl.col("s"), op)(v),
        st.sampled_from(["eq", "ne", "lt", "ge"]),
        st.sampled_from(["x", "", "é", "o'k", "y", "a\\b"]),
    ),
    st.builds(
        lambda op, v: getattr(pl.col("f"), op)(v),
        st.sampled_from(["eq", "lt", "gt"]),
        st.sampled_from([0.0, 1.5, -1.0, math.inf]),
    ),
    st.builds(lambda v: pl.col("b") == v, st.booleans()),
    st.just(pl.col("b")),
    st.builds(
        lambda low, high, closed: pl.col("a").is_between(low, high, closed=closed),
        st.integers(-6, 6),
        st.integers(-6, 6),
        st.sampled_from(["both", "left", "right", "none"]),
    ),
    st.builds(
        lambda col, null: pl.col(col).is_null() if null else pl.col(col).is_not_null(),
        st.sampled_from(["a", "s", "b", "f"]),
        st.booleans(),
    ),
)
PREDICATES = st.recursive(
    ATOMS,
    lambda inner: st.one_of(
        st.builds(lambda x, y: x & y, inner, inner),
        st.builds(lambda x, y: x | y, inner, inner),
        st.builds(lambda x: ~x, inner),
    ),
    max_leaves=4,
)


@settings(max_examples=80, deadline=None, database=None)
@given(predicate=PREDICATES, columns=st.sampled_from([["a"], ["s", "f"], None]))
def test_a_lazy_scan_returns_exactly_the_rows_polars_selects(
    lake: floe.Floe, predicate: Any, columns: list[str] | None
) -> None:
    expected = pl.from_arrow(ROWS).filter(predicate)
    pushed: list[str | None] = []
    frame = _scan(lake, pushed).filter(predicate)
    if columns is not None:
        frame, expected = frame.select(columns), expected.select(columns)

    got = frame.collect()

    # Polars rewrites the predicate before the scan sees it (``b == False`` is
    # ``~b``): whatever part of it was pushed down, the rows are polars' own.
    assert _same_rows(got, expected)
    assert len(pushed) == 1
    event("pushed down" if pushed[0] else "filtered by polars alone")


def _same_rows(got: Any, expected: Any) -> bool:
    def key(rows: list[dict[str, Any]]) -> list[str]:
        return [repr({k: "NaN" if v != v else v for k, v in r.items()}) for r in rows]

    return key(got.to_dicts()) == key(expected.to_dicts())


def test_nothing_is_read_before_collect_and_limits_are_pushed_without_a_filter(
    lake: floe.Floe,
) -> None:
    pushed: list[str | None] = []
    frame = _scan(lake, pushed)

    assert pushed == []
    assert frame.head(2).collect().height == 2
    assert frame.filter(pl.col("a") > 0).head(1).collect()["a"].to_list() == [1]
    assert pushed == [None, "(a > 0)"]
