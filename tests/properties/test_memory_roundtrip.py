"""Write/read round trips through the public API over the in-memory adapter."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from floe import Floe

ROUND_TRIP = settings(max_examples=150, deadline=None, database=None)
NAMESPACE = "props"


class _NaN:
    """Stands for a float NaN so that rows holding one compare equal."""

    def __repr__(self) -> str:
        return "NaN"


NAN = _NaN()


def _comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every NaN replaced by one sentinel (NaN != NaN otherwise)."""
    return [
        {k: NAN if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in rows
    ]


def _as_multiset(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(repr(sorted(row.items())) for row in _comparable(rows))


def _fresh_table(schema: pa.Schema, name: str = "t") -> tuple[Floe, str]:
    lake = Floe.from_config({"type": "memory"})
    lake.namespaces.create(NAMESPACE)
    table = f"{NAMESPACE}.{name}"
    lake.tables.create(table, schema)
    return lake, table


# -- random tables ----------------------------------------------------------------------

_UTC = dt.UTC
_naive_times = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))
_aware_times = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(_UTC)
)

#: Arrow type → strategy of the Python values a column of it holds.
COLUMN_KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "long": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "int": (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    "double": (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    "float": (pa.float32(), st.floats(width=32, allow_nan=True, allow_infinity=True)),
    "string": (pa.string(), st.text(max_size=12)),
    "boolean": (pa.bool_(), st.booleans()),
    "timestamp": (pa.timestamp("us"), _naive_times),
    "timestamptz": (pa.timestamp("us", tz="UTC"), _aware_times),
}


@st.composite
def arrow_tables(draw: st.DrawFn) -> pa.Table:
    kinds = draw(st.lists(st.sampled_from(sorted(COLUMN_KINDS)), min_size=1, max_size=6))
    num_rows = draw(st.integers(0, 12))
    fields, arrays = [], []
    for position, kind in enumerate(kinds):
        arrow_type, values = COLUMN_KINDS[kind]
        column = draw(st.lists(st.none() | values, min_size=num_rows, max_size=num_rows))
        fields.append(pa.field(f"c{position}_{kind}", arrow_type))
        arrays.append(pa.array(column, type=arrow_type))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


@ROUND_TRIP
@given(data=arrow_tables())
def test_what_is_written_is_read_back(data: pa.Table) -> None:
    lake, table = _fresh_table(data.schema)

    result = lake.writes.append(table, data)
    read = lake.reads.scan(table)

    assert result.rows_written == data.num_rows
    assert read.schema == data.schema
    assert read.num_rows == data.num_rows
    assert _comparable(read.to_pylist()) == _comparable(data.to_pylist())


# -- sequences of appends ---------------------------------------------------------------

EVENTS = pa.schema([pa.field("k", pa.int64()), pa.field("v", pa.string())])


def _events(start: int, count: int) -> pa.Table:
    keys = list(range(start, start + count))
    return pa.table({"k": keys, "v": [f"row {k}" for k in keys]}, schema=EVENTS)


@ROUND_TRIP
@given(batch_sizes=st.lists(st.integers(0, 5), min_size=1, max_size=6))
def test_appends_add_up_and_only_non_empty_ones_commit(batch_sizes: list[int]) -> None:
    lake, table = _fresh_table(EVENTS)

    results = []
    start = 0
    for size in batch_sizes:
        results.append(lake.writes.append(table, _events(start, size)))
        start += size

    read = lake.reads.scan(table)
    snapshots = lake.snapshots.list(table)
    non_empty = [size for size in batch_sizes if size]
    assert read.num_rows == sum(batch_sizes)
    assert sorted(read.column("k").to_pylist()) == list(range(sum(batch_sizes)))
    assert len(snapshots) == len(non_empty)
    assert [r.snapshot_id is None for r in results] == [size == 0 for size in batch_sizes]
    assert [s.snapshot_id for s in snapshots] == [
        r.snapshot_id for r in results if r.snapshot_id is not None
    ]
    current = lake.snapshots.current(table)
    assert (current.snapshot_id if current else None) == (
        snapshots[-1].snapshot_id if snapshots else None
    )


# -- overwrite by filter ----------------------------------------------------------------

_keys = st.none() | st.integers(-20, 20)
_labels = st.text(alphabet="abcé€𝄞 ", max_size=4)


def _event_rows(keys: list[int | None], labels: list[str]) -> pa.Table:
    return pa.table({"k": keys, "v": labels}, schema=EVENTS)


_event_tables = st.integers(0, 10).flatmap(
    lambda n: st.tuples(
        st.lists(_keys, min_size=n, max_size=n), st.lists(_labels, min_size=n, max_size=n)
    ).map(lambda kv: _event_rows(*kv))
)
_filters: list[tuple[str, Callable[[int, int], bool]]] = [
    ("k >= {t}", lambda k, t: k >= t),
    ("k < {t}", lambda k, t: k < t),
    ("k = {t}", lambda k, t: k == t),
]


@ROUND_TRIP
@given(
    before=_event_tables,
    new=_event_tables,
    threshold=st.integers(-25, 25),
    row_filter=st.sampled_from(_filters),
)
def test_overwrite_by_filter_keeps_exactly_the_other_rows_plus_the_new_ones(
    before: pa.Table,
    new: pa.Table,
    threshold: int,
    row_filter: tuple[str, Callable[[int, int], bool]],
) -> None:
    text, matches = row_filter
    lake, table = _fresh_table(EVENTS)
    lake.writes.append(table, before)

    result = lake.writes.overwrite(table, new, row_filter=text.format(t=threshold))

    # A null key matches no comparison (SQL semantics), so its row stays.
    kept = [r for r in before.to_pylist() if r["k"] is None or not matches(r["k"], threshold)]
    read = lake.reads.scan(table)
    assert _as_multiset(read.to_pylist()) == _as_multiset(kept + new.to_pylist())
    assert result.rows_written == new.num_rows
    assert result.rows_deleted == before.num_rows - len(kept)
