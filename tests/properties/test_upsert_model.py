"""Upserts against a plain-Python model: same rows, same counts, same snapshot shape.

The model is the rule PyIceberg's upsert implements: an incoming row whose
key is absent is inserted; one whose key is present replaces the table's row
when some non-key column differs as Python values differ (a null equals a
null, a NaN differs from everything, even a NaN); otherwise nothing happens.
Tables are written in several appends so keys spread over several files,
partitioned or not; change sets mix updates, inserts and untouched rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

import floe

#: Few examples (each writes a table); no explain phase, whose tracing is slow on real I/O.
MODEL = settings(
    max_examples=12,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)
SCHEMA = pa.schema(
    [
        ("k", pa.int64()),
        ("part", pa.string()),
        ("ts", pa.timestamp("us")),
        ("v", pa.float64()),
        ("s", pa.string()),
    ]
)
KEYS = {"single": ["k"], "compound": ["k", "part"]}
SPECS = {"unpartitioned": [], "identity": ["part"], "day": ["day(ts)"]}
DAY = dt.datetime(2026, 1, 1)
_names = itertools.count()

Key = tuple[Any, ...]
Row = dict[str, Any]


@pytest.fixture(scope="module", params=["memory", "local"])
def lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> floe.Floe:
    """One catalog per adapter; each example writes a fresh table in it."""
    if request.param == "memory":
        lake = floe.Floe.from_config(floe.MemoryCatalogConfig())
    else:
        warehouse = tmp_path_factory.mktemp("upsert_model") / "warehouse"
        lake = floe.Floe.from_config(floe.LocalCatalogConfig(str(warehouse)))
    lake.namespaces.create("model")
    return lake


_values = st.fixed_dictionaries(
    {
        "ts": st.integers(0, 3).map(lambda d: DAY + dt.timedelta(days=d, hours=d)),
        "v": st.none() | st.sampled_from([0.0, 1.5, -2.0]) | st.just(math.nan),
        "s": st.none() | st.sampled_from(["a", "b", ""]),
    }
)
_keys = st.tuples(st.integers(0, 40), st.sampled_from(["x", "y", "z"]))


@st.composite
def histories(draw: st.DrawFn, compound: bool) -> tuple[list[list[Row]], list[Row]]:
    """Some appends with distinct keys, then a change set with distinct keys."""

    def key_of(k: int, part: str) -> Key:
        return (k, part) if compound else (k,)

    taken: set[Key] = set()
    appends: list[list[Row]] = []
    for _ in range(draw(st.integers(1, 3))):
        batch = []
        for k, part in draw(st.lists(_keys, max_size=8)):
            if key_of(k, part) in taken:
                continue
            taken.add(key_of(k, part))
            batch.append({"k": k, "part": part, **draw(_values)})
        appends.append(batch)
    existing = [row for batch in appends for row in batch]
    changes: list[Row] = []
    seen: set[Key] = set()
    for row in draw(st.lists(st.sampled_from(existing), max_size=6)) if existing else []:
        key = key_of(row["k"], row["part"])
        if key in seen:
            continue
        seen.add(key)
        same = draw(st.booleans())  # an unchanged row, or new values
        changes.append(dict(row) if same else {"k": row["k"], "part": row["part"], **draw(_values)})
    for k, part in draw(st.lists(_keys, max_size=4)):
        key = key_of(k, part)
        if key in seen or key in taken:
            continue
        seen.add(key)
        changes.append({"k": k, "part": part, **draw(_values)})
    return appends, changes


def upserted(table: list[Row], changes: list[Row], keys: list[str]) -> tuple[list[Row], int, int]:
    """The model: the table after the upsert, the rows updated and the rows inserted."""
    rows = {tuple(r[k] for k in keys): dict(r) for r in table}
    updated = inserted = 0
    for change in changes:
        key = tuple(change[k] for k in keys)
        if key not in rows:
            inserted += 1
        elif any(change[c] != rows[key][c] for c in change if c not in keys):
            updated += 1
        else:
            continue
        rows[key] = dict(change)
    return list(rows.values()), updated, inserted


def comparable(rows: list[Row]) -> list[str]:
    """Rows as a sorted multiset, every NaN spelt alike."""
    nan = "NaN"
    return sorted(
        repr(
            sorted((c, nan if isinstance(v, float) and math.isnan(v) else v) for c, v in r.items())
        )
        for r in rows
    )


def table_of(rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMA)


@pytest.mark.parametrize("spec", SPECS, ids=list(SPECS))
@pytest.mark.parametrize("key", KEYS, ids=list(KEYS))
def test_upsert_matches_the_model(lake: floe.Floe, spec: str, key: str) -> None:
    keys = KEYS[key]

    @MODEL
    @given(history=histories(compound=len(keys) > 1))
    def check(history: tuple[list[list[Row]], list[Row]]) -> None:
        appends, changes = history
        name = f"model.t{next(_names)}"
        lake.tables.create(name, SCHEMA, SPECS[spec])
        for batch in appends:
            if batch:
                lake.writes.append(name, table_of(batch))
        before = lake.reads.scan(name).to_pylist()
        commits = len(lake.snapshots.list(name))
        expected, updated, inserted = upserted(before, changes, keys)

        result = lake.writes.upsert(name, table_of(changes), join_columns=keys)

        assert comparable(lake.reads.scan(name).to_pylist()) == comparable(expected)
        snapshots = lake.snapshots.list(name)
        if updated or inserted:
            assert (result.rows_added, result.rows_deleted) == (updated + inserted, updated)
            assert len(snapshots) == commits + 1
            assert snapshots[-1].operation == ("overwrite" if updated else "append")
        else:
            assert result.snapshot_id is None
            assert len(snapshots) == commits

    check()
