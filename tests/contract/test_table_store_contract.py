"""TableStorePort contract: writes, scans, snapshots, time travel, expiry."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

import floe

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us")),
        pa.field("region", pa.string()),
        pa.field("amount", pa.float64()),
    ]
)
DAY1 = dt.datetime(2024, 5, 1, 10)
DAY2 = dt.datetime(2024, 5, 2, 11)


def rows(ids: list[int], when: dt.datetime = DAY1, region: str = "eu") -> pa.Table:
    return pa.table(
        {
            "id": ids,
            "ts": [when] * len(ids),
            "region": [region] * len(ids),
            "amount": [float(i) * 1.5 for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "events")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def ids_of(data: pa.Table) -> list[int]:
    return sorted(data.column("id").to_pylist())


def test_append_twice_adds_up_and_makes_two_snapshots(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first = lake.writes.append(table, rows([1, 2]))
    second = lake.writes.append(table, rows([3], DAY2))
    assert (first.rows_written, second.rows_written) == (2, 1)
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3]
    snapshots = lake.snapshots.list(table)
    assert [s.snapshot_id for s in snapshots] == [first.snapshot_id, second.snapshot_id]
    assert snapshots[1].parent_id == first.snapshot_id
    assert snapshots[0].operation == "append"
    assert snapshots[1].summary["added-records"] == "1"
    assert snapshots[1].summary["total-records"] == "3"
    assert snapshots[0].timestamp_ms <= snapshots[1].timestamp_ms
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == second.snapshot_id


def test_append_pandas(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    frame = pd.DataFrame(
        {
            "id": [7, 8],
            "ts": [pd.Timestamp(DAY1), pd.Timestamp(DAY2)],
            "region": ["us", None],
            "amount": [1.0, None],
        }
    )
    lake.writes.append(table, frame)
    back = lake.reads.to_pandas(table).sort_values("id").reset_index(drop=True)
    assert back["id"].tolist() == [7, 8]
    assert back["region"].tolist()[0] == "us"
    assert pd.isna(back["region"].tolist()[1])
    assert back["ts"].tolist() == [pd.Timestamp(DAY1), pd.Timestamp(DAY2)]


def test_snapshot_properties_land_in_summary(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1]), snapshot_properties={"dagster.run_id": "r-1"})
    snapshot = lake.snapshots.current(table)
    assert snapshot is not None
    assert snapshot.summary["dagster.run_id"] == "r-1"


def test_empty_append_commits_nothing(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    result = lake.writes.append(table, rows([]))
    assert result.snapshot_id is None
    assert lake.snapshots.list(table) == []
    assert lake.snapshots.current(table) is None


def test_scan_projection_filter_limit(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1, 2], DAY1, "eu"))
    lake.writes.append(table, rows([3, 4], DAY2, "us"))
    got = lake.reads.scan(table, columns=["id", "region"], row_filter="ts >= '2024-05-02T00:00:00'")
    assert got.column_names == ["id", "region"]
    assert ids_of(got) == [3, 4]
    got = lake.reads.scan(table, row_filter="region = 'eu' and amount > 2.0")
    assert ids_of(got) == [2]
    assert lake.reads.scan(table, limit=3).num_rows == 3
    assert lake.reads.scan(table, limit=0).num_rows == 0
    assert lake.reads.scan(table, row_filter="id in (1, 4)").num_rows == 2
    assert lake.reads.scan(table, row_filter="region is null").num_rows == 0


def test_predicates_nan_satisfies_find_every_nan_row(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    # One data file holding NaN beside equal values: Parquet min/max leave
    # NaN out (here [1.0, 1.0]), so pruning by them must not drop the NaN rows.
    data = rows([1, 2, 3, 4])
    data = data.set_column(3, "amount", pa.array([1.0, float("nan"), 1.0, float("nan")]))
    lake.writes.append(table, data)
    assert ids_of(lake.reads.scan(table, row_filter="amount is nan")) == [2, 4]
    assert ids_of(lake.reads.scan(table, row_filter="not (amount is not nan)")) == [2, 4]
    assert ids_of(lake.reads.scan(table, row_filter="amount is nan or id = 1")) == [1, 2, 4]
    assert ids_of(lake.reads.scan(table, row_filter="amount != 1.0")) == [2, 4]
    assert ids_of(lake.reads.scan(table, row_filter="not (amount = 1.0 or id = 4)")) == [2]
    assert ids_of(lake.reads.scan(table, row_filter="amount not in (1.0, 3.0)")) == [2, 4]
    # Negation follows Iceberg's rules (pushed into the predicate): NaN < 0 is false.
    assert ids_of(lake.reads.scan(table, row_filter="not (amount >= 0.0)")) == []
    only = lake.reads.scan(table, columns=["region"], row_filter="amount is nan", limit=1)
    assert only.column_names == ["region"]
    assert only.num_rows == 1
    streamed = lake.reads.batches(table, columns=["id"], row_filter="amount is nan", limit=5)
    assert sorted(v for b in streamed for v in b.column("id").to_pylist()) == [2, 4]


def test_filters_on_the_partition_source_read_a_null_partition(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    # A row whose partition source is null lands in a null partition; a filter
    # that cannot prune that file must still evaluate it (not fail, not skip).
    lake.writes.append(table, rows([1, 2], DAY1))
    nulls = rows([3]).set_column(1, "ts", pa.array([None], pa.timestamp("us")))
    lake.writes.append(table, nulls)
    got = lake.reads.scan(table, row_filter="id != 1 or ts >= '2024-05-01T10:30:00'")
    assert ids_of(got) == [2, 3]
    got = lake.reads.scan(table, row_filter="id = 3 or ts < '2024-05-02T00:00:00'")
    assert ids_of(got) == [1, 2, 3]
    assert ids_of(lake.reads.scan(table, row_filter="ts is null")) == [3]
    streamed = lake.reads.batches(table, row_filter="id != 1 or ts > '2024-05-01T10:30:00'")
    assert sorted(v for b in streamed for v in b.column("id").to_pylist()) == [2, 3]


@pytest.mark.parametrize(
    "row_filter",
    [
        "ts > '2024-05-01T10:30:00' or amount > 1.0",
        "amount > 2.0 or ts < '2024-05-01T10:30:00'",
        "not (ts >= '2024-05-01T10:30:00' and amount < 2.0)",
        "id != 1 or ts >= '2024-05-01T10:30:00'",
    ],
)
def test_an_overwrite_over_a_null_partition_replaces_what_the_filter_selects(
    lake: floe.Floe, table: floe.TableIdentifier, row_filter: str
) -> None:
    # Planning such a filter trips PyIceberg's residual evaluation on the null
    # partition value; the overwrite must still remove exactly the scanned rows.
    lake.writes.append(table, rows([1, 2], DAY1))
    lake.writes.append(table, rows([3]).set_column(1, "ts", pa.array([None], pa.timestamp("us"))))
    selected = ids_of(lake.reads.scan(table, row_filter=row_filter))
    result = lake.writes.overwrite(table, rows([9]), row_filter=row_filter)
    assert result.rows_deleted == len(selected)
    assert ids_of(lake.reads.scan(table)) == sorted({1, 2, 3} - set(selected) | {9})


def test_scan_returns_canonical_types(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1]))
    assert lake.reads.scan(table).schema == SCHEMA
    assert lake.reads.scan(table, columns=["region"]).schema == pa.schema([("region", pa.string())])


def test_scan_batches_streams_all_rows(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows(list(range(100))))
    reader = lake.reads.batches(table, columns=["id"], row_filter="id < 50")
    total = sum(batch.num_rows for batch in reader)
    assert total == 50


def test_unknown_filter_column_is_typed_error(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1]))
    with pytest.raises(floe.InvalidFilterError) as info:
        lake.reads.scan(table, row_filter="nope = 1")
    assert "nope" in str(info.value)
    with pytest.raises(floe.InvalidFilterError):
        lake.reads.scan(table, row_filter="id = = 2")


def test_unknown_projected_column_is_typed_error(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1]))
    with pytest.raises(floe.InvalidScanError) as info:
        lake.reads.scan(table, columns=["id", "ghost"])
    assert "ghost" in str(info.value)


def test_scan_of_empty_table(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    got = lake.reads.scan(table)
    assert got.num_rows == 0
    assert got.column_names == ["id", "ts", "region", "amount"]


def test_time_travel_by_snapshot_id_and_time(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    first = lake.writes.append(table, rows([1, 2]))
    lake.writes.append(table, rows([3]))
    assert first.snapshot_id is not None
    assert ids_of(lake.reads.scan(table, snapshot_id=first.snapshot_id)) == [1, 2]
    first_info = lake.snapshots.get(table, first.snapshot_id)
    at_first = lake.reads.scan(table, as_of=first_info.committed_at)
    assert ids_of(at_first) == [1, 2]
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    assert ids_of(lake.reads.scan(table, as_of=now)) == [1, 2, 3]
    with pytest.raises(floe.SnapshotNotFoundError):
        lake.reads.scan(table, as_of=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(floe.SnapshotNotFoundError):
        lake.reads.scan(table, snapshot_id=12345)


def test_overwrite_whole_table(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1, 2]))
    result = lake.writes.overwrite(table, rows([9]))
    assert ids_of(lake.reads.scan(table)) == [9]
    assert result.snapshot_id == lake.snapshots.current(table).snapshot_id  # type: ignore[union-attr]


def test_overwrite_by_filter_replaces_one_partition(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1, 2], DAY1))
    lake.writes.append(table, rows([3, 4], DAY2))
    lake.writes.overwrite(
        table,
        rows([5], DAY2),
        row_filter="ts >= '2024-05-02T00:00:00' and ts < '2024-05-03T00:00:00'",
    )
    assert ids_of(lake.reads.scan(table)) == [1, 2, 5]


def test_overwrite_with_bad_filter_leaves_table(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1, 2]))
    before = lake.snapshots.list(table)
    with pytest.raises(floe.InvalidFilterError):
        lake.writes.overwrite(table, rows([5]), row_filter="missing_col = 1")
    assert ids_of(lake.reads.scan(table)) == [1, 2]
    assert lake.snapshots.list(table) == before


def test_incompatible_append_leaves_table_unchanged(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1]))
    before = lake.snapshots.list(table)
    bad = pa.table({"id": ["not-a-number"], "ts": [DAY1], "region": ["eu"], "amount": [1.0]})
    with pytest.raises(floe.SchemaEvolutionError) as info:
        lake.writes.append(table, bad)
    assert "id" in str(info.value)
    assert ids_of(lake.reads.scan(table)) == [1]
    assert lake.snapshots.list(table) == before


def test_new_column_needs_schema_evolution(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1]))
    wider = rows([2]).append_column("channel", pa.array(["web"]))
    with pytest.raises(floe.SchemaEvolutionError):
        lake.writes.append(table, wider)
    assert lake.tables.load(table).schema.names == ["id", "ts", "region", "amount"]
    result = lake.writes.append(table, wider, allow_schema_evolution=True)
    assert "channel" in result.schema_change
    assert lake.tables.load(table).schema.names == ["id", "ts", "region", "amount", "channel"]
    got = lake.reads.scan(table, columns=["id", "channel"]).sort_by("id").to_pylist()
    assert got == [{"id": 1, "channel": None}, {"id": 2, "channel": "web"}]
    assert len(lake.snapshots.list(table)) == 2


def test_a_schema_change_without_new_rows_still_lands(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1, 2]))
    same = rows([1, 2]).append_column("note", pa.array([None, None], pa.string()))
    result = lake.writes.upsert(table, same, join_columns=["id"], allow_schema_evolution=True)
    assert result.rows_written == 2
    assert lake.tables.load(table).schema.names == [*SCHEMA.names, "note"]
    scanned = lake.reads.scan(table)
    assert scanned.column_names == [*SCHEMA.names, "note"]
    assert scanned.column("note").to_pylist() == [None, None]
    # The current snapshot predates the column: upserts still match its rows.
    noted = rows([2, 4]).append_column("note", pa.array(["b", "d"], pa.string()))
    lake.writes.upsert(table, noted, join_columns=["id"])
    got = lake.reads.scan(table, columns=["id", "note"]).sort_by("id").to_pylist()
    assert got == [{"id": 1, "note": None}, {"id": 2, "note": "b"}, {"id": 4, "note": "d"}]
    lake.writes.overwrite(table, rows([3]), row_filter="id = 1")
    assert ids_of(lake.reads.scan(table)) == [2, 3, 4]


def test_type_widening_int_to_long(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "narrow")
    lake.tables.create(ident, pa.schema([("n", pa.int32()), ("x", pa.float32())]))
    lake.writes.append(
        ident, pa.table({"n": pa.array([1], pa.int32()), "x": pa.array([1.5], pa.float32())})
    )
    big = pa.table({"n": pa.array([2**40], pa.int64()), "x": pa.array([2.5], pa.float64())})
    with pytest.raises(floe.SchemaEvolutionError):
        lake.writes.append(ident, big)
    lake.writes.append(ident, big, allow_schema_evolution=True)
    schema = lake.tables.load(ident).schema
    assert schema.field("n").type == pa.int64()
    assert schema.field("x").type == pa.float64()
    assert sorted(lake.reads.scan(ident).column("n").to_pylist()) == [1, 2**40]


def test_upsert_updates_and_inserts(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1, 2]))
    change = pa.table(
        {"id": [2, 3], "ts": [DAY1, DAY2], "region": ["changed", "new"], "amount": [3.0, 4.5]},
        schema=SCHEMA,
    )
    result = lake.writes.upsert(table, change, join_columns=["id"])
    assert result.rows_added == 2
    got = {r["id"]: r["region"] for r in lake.reads.scan(table).to_pylist()}
    assert got == {1: "eu", 2: "changed", 3: "new"}
    noop = lake.writes.upsert(table, change, join_columns=["id"])
    assert noop.snapshot_id is None
    assert lake.reads.scan(table).num_rows == 3


@pytest.mark.parametrize("key", ["region", "ts", "amount"])
def test_upsert_on_a_string_timestamp_or_float_key(
    lake: floe.Floe, table: floe.TableIdentifier, key: str
) -> None:
    """Each kind of single key matches as equality does (a set lookup or a join inside)."""
    later = DAY1 + dt.timedelta(hours=1)
    lake.writes.append(
        table,
        pa.table(
            {"id": [1, 2], "ts": [DAY1, later], "region": ["a", "b"], "amount": [1.5, 2.5]},
            schema=SCHEMA,
        ),
    )
    lake.writes.append(
        table,
        pa.table({"id": [3], "ts": [DAY2], "region": ["c"], "amount": [3.5]}, schema=SCHEMA),
    )
    # Row 2's key with a new id, and a row whose every value is new.
    change = pa.table(
        {
            "id": [20, 30],
            "ts": [later, DAY2 + dt.timedelta(hours=1)],
            "region": ["b", "d"],
            "amount": [2.5, 9.0],
        },
        schema=SCHEMA,
    )
    result = lake.writes.upsert(table, change, join_columns=[key])
    assert (result.rows_added, result.rows_deleted) == (2, 1)
    assert ids_of(lake.reads.scan(table)) == [1, 3, 20, 30]
    assert lake.writes.upsert(table, change, join_columns=[key]).snapshot_id is None


def test_upsert_with_duplicate_keys_is_refused(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1]))
    with pytest.raises(floe.WriteError):
        lake.writes.upsert(table, rows([2, 2]), join_columns=["id"])
    assert ids_of(lake.reads.scan(table)) == [1]


KEYED = pa.schema([("k", pa.int64()), ("j", pa.string()), ("v", pa.int64())])


DUPLICATES = "the data holds duplicate rows for join columns {columns}"
NULLS = (
    "join columns hold null values: {named}; a null key matches no row, so fill or drop those rows"
)


@pytest.mark.parametrize(
    ("keys", "join_columns", "refusal"),
    [
        ({"k": [1, 1], "j": ["a", "b"]}, ["k"], DUPLICATES.format(columns=["k"])),
        ({"k": [1, 1], "j": ["a", "a"]}, ["k", "j"], DUPLICATES.format(columns=["k", "j"])),
        # A null key matches no row: upserting it would insert it again every time.
        ({"k": [None, 2], "j": ["a", "b"]}, ["k"], NULLS.format(named="'k' (1)")),
        ({"k": [1, 1], "j": [None, None]}, ["k", "j"], NULLS.format(named="'j' (2)")),
        ({"k": [None, 1], "j": [None, "b"]}, ["j", "k"], NULLS.format(named="'j' (1), 'k' (1)")),
    ],
    ids=["duplicate", "duplicate-compound", "null-key", "null-part", "nulls-in-both-parts"],
)
@pytest.mark.parametrize("existing", [True, False], ids=["existing", "created"])
def test_upsert_with_bad_keys_is_refused_by_name(
    lake: floe.Floe,
    ns: tuple[str, ...],
    keys: dict[str, list[object]],
    join_columns: list[str],
    refusal: str,
    existing: bool,
) -> None:
    ident = floe.TableIdentifier(ns, "keyed")
    if existing:
        lake.tables.create(ident, KEYED)
        lake.writes.append(ident, pa.table({"k": [1], "j": ["a"], "v": [0]}, schema=KEYED))
    data = pa.table({**keys, "v": [1, 2]}, schema=KEYED)

    with pytest.raises(floe.WriteError) as raised:
        lake.writes.upsert(
            ident,
            data,
            join_columns=join_columns,
            create_if_missing=None if existing else floe.NewTable(),
        )

    assert str(raised.value) == f"upsert into table {ident}: {refusal}; nothing was written"
    if existing:
        assert len(lake.snapshots.list(ident)) == 1
    else:
        assert not lake.tables.exists(ident)


def test_upsert_on_a_nested_join_column_is_a_write_error(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    ident = floe.TableIdentifier(ns, "nested")
    data = pa.table({"k": pa.array([{"x": 1}, {"x": 2}]), "v": [1, 2]})
    lake.tables.create(ident, data.schema)

    with pytest.raises(floe.WriteError, match=r"join columns \['k'\] cannot be compared"):
        lake.writes.upsert(ident, data, join_columns=["k"])

    assert lake.snapshots.list(ident) == []


def test_write_to_missing_table_raises(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.TableNotFoundError):
        lake.writes.append(floe.TableIdentifier(ns, "ghost"), rows([1]))
    with pytest.raises(floe.TableNotFoundError):
        lake.reads.scan(floe.TableIdentifier(ns, "ghost"))


def test_expire_keeps_retain_last_and_current(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    written = [lake.writes.append(table, rows([i])).snapshot_id for i in range(4)]
    result = lake.maintenance.expire_snapshots(table, retain_last=2)
    assert set(result.expired_snapshot_ids) == set(written[:2])
    remaining = [s.snapshot_id for s in lake.snapshots.list(table)]
    assert remaining == written[2:]
    assert ids_of(lake.reads.scan(table)) == [0, 1, 2, 3]
    with pytest.raises(floe.SnapshotNotFoundError):
        lake.reads.scan(table, snapshot_id=written[0])


def test_expire_by_age_keeps_young_snapshots(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    for i in range(3):
        lake.writes.append(table, rows([i]))
    result = lake.maintenance.expire_snapshots(
        table, older_than=dt.timedelta(hours=1), retain_last=1
    )
    assert result.expired_snapshot_ids == ()
    assert len(lake.snapshots.list(table)) == 3


def test_expire_with_bad_retain_last_changes_nothing(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([1]))
    lake.writes.append(table, rows([2]))
    with pytest.raises(floe.InvalidConfigError):
        lake.maintenance.expire_snapshots(table, retain_last=0)
    assert len(lake.snapshots.list(table)) == 2


def test_overwrite_reports_rows_replaced(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([1, 2, 3], DAY1))
    result = lake.writes.overwrite(table, rows([9], DAY1), row_filter="id >= 2")
    assert (result.rows_added, result.rows_deleted) == (1, 2)
    assert ids_of(lake.reads.scan(table)) == [1, 9]


def test_inspect_files_and_partitions(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "inspected")
    lake.tables.create(ident, SCHEMA, ["day(ts)", "region"])
    lake.writes.append(ident, rows([1, 2], DAY1, "eu"))
    lake.writes.append(ident, rows([3], DAY2, "us"))
    lake.writes.append(ident, rows([4], DAY2, "us"))
    files = lake.tables.files(ident)
    assert sorted(
        (f.partition["ts_day"], f.partition["region"], f.record_count) for f in files
    ) == [
        ("2024-05-01", "eu", 2),
        ("2024-05-02", "us", 1),
        ("2024-05-02", "us", 1),
    ]
    assert all(f.size_bytes > 0 and f.path for f in files)
    parts = lake.tables.partitions(ident)
    assert [(dict(p.partition), p.record_count, p.file_count) for p in parts] == [
        ({"ts_day": "2024-05-01", "region": "eu"}, 2, 1),
        ({"ts_day": "2024-05-02", "region": "us"}, 2, 2),
    ]
    lake.writes.overwrite(ident, rows([5], DAY1, "eu"), row_filter="id = 1")
    after = {(p.partition["ts_day"], p.record_count) for p in lake.tables.partitions(ident)}
    assert after == {("2024-05-01", 2), ("2024-05-02", 2)}
    assert lake.tables.files(floe.TableIdentifier(ns, "inspected"))[0].record_count >= 1


def test_inspect_unpartitioned_and_empty(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    ident = floe.TableIdentifier(table.namespace, "flat")
    lake.tables.create(ident, SCHEMA)
    assert lake.tables.files(ident) == []
    lake.writes.append(ident, rows([1, 2, 3]))
    parts = lake.tables.partitions(ident)
    assert [(dict(p.partition), p.record_count, p.file_count) for p in parts] == [({}, 3, 1)]


def test_first_write_creates_the_table_in_the_same_commit(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    ident = floe.TableIdentifier(ns, "born_with_data")
    new = floe.NewTable(["day(ts)"], {"owner": "etl"})
    result = lake.writes.write(ident, rows([1, 2]), mode="overwrite", create_if_missing=new)
    info = lake.tables.load(ident)
    assert [str(t) for t in info.partition_spec] == ["day(ts)"]
    assert info.properties.get("owner") == "etl"
    snapshots = lake.snapshots.list(ident)
    assert [s.snapshot_id for s in snapshots] == [result.snapshot_id]
    assert ids_of(lake.reads.scan(ident)) == [1, 2]
    again = lake.writes.write(ident, rows([3]), mode="append", create_if_missing=new)
    assert again.snapshot_id != result.snapshot_id
    assert ids_of(lake.reads.scan(ident)) == [1, 2, 3]


def test_first_write_that_fails_leaves_no_table(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "never_born")
    with pytest.raises(floe.InvalidPartitionSpecError):
        lake.writes.append(ident, rows([1]), create_if_missing=floe.NewTable(["day(region)"]))
    with pytest.raises(floe.WriteError):
        lake.writes.upsert(
            ident, rows([1, 1]), join_columns=["id"], create_if_missing=floe.NewTable()
        )
    assert not lake.tables.exists(ident)
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.writes.append(
            floe.TableIdentifier((*ns, "nowhere"), "t"),
            rows([1]),
            create_if_missing=floe.NewTable(),
        )


def test_partition_fields_are_added_in_the_write_commit_and_others_kept(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    ident = floe.TableIdentifier(ns, "evolving_spec")
    lake.tables.create(ident, SCHEMA, ["bucket[4](id)"])
    lake.writes.append(ident, rows([1], DAY1, "eu"))
    before = len(lake.snapshots.list(ident))
    lake.writes.append(ident, rows([2], DAY2, "us"), partition_fields=["day(ts)"])
    info = lake.tables.load(ident)
    assert [str(t) for t in info.partition_spec] == ["bucket[4](id)", "day(ts)"]
    assert len(lake.snapshots.list(ident)) == before + 1
    newest = [f for f in lake.tables.files(ident) if f.partition.get("ts_day") == "2024-05-02"]
    assert [f.record_count for f in newest] == [1]
    assert ids_of(lake.reads.scan(ident)) == [1, 2]
    # Naming only some fields never strips the others.
    lake.writes.append(ident, rows([3], DAY2, "us"), partition_fields=["day(ts)"])
    assert [str(t) for t in lake.tables.load(ident).partition_spec] == ["bucket[4](id)", "day(ts)"]


def test_a_clashing_partition_field_changes_nothing(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "clashing_spec")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    lake.writes.append(ident, rows([1]))
    snapshots = lake.snapshots.list(ident)
    with pytest.raises(floe.InvalidPartitionSpecError):
        lake.writes.append(ident, rows([2]), partition_fields=["month(ts)"])
    assert [str(t) for t in lake.tables.load(ident).partition_spec] == ["day(ts)"]
    assert lake.snapshots.list(ident) == snapshots


@pytest.mark.parametrize("emptied", [False, True], ids=["never-written", "all-rows-deleted"])
def test_upsert_into_an_empty_table_inserts_its_rows(
    lake: floe.Floe, ns: tuple[str, ...], emptied: bool
) -> None:
    ident = floe.TableIdentifier(ns, "empty")
    lake.tables.create(ident, KEYED)
    if emptied:
        lake.writes.append(ident, pa.table({"k": [7], "j": ["x"], "v": [0]}, schema=KEYED))
        lake.writes.delete(ident, "true")

    result = lake.writes.upsert(
        ident,
        pa.table({"k": [1, 2], "j": ["a", "b"], "v": [1, 2]}, schema=KEYED),
        join_columns=["k"],
    )

    assert result.rows_added == 2
    assert sorted(lake.reads.scan(ident).column("k").to_pylist()) == [1, 2]


def test_upsert_matching_a_key_the_table_holds_twice_is_refused(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    ident = floe.TableIdentifier(ns, "keyed")
    lake.tables.create(ident, KEYED)
    lake.writes.append(ident, pa.table({"k": [1, 1], "j": ["a", "b"], "v": [1, 2]}, schema=KEYED))

    with pytest.raises(floe.WriteError) as raised:
        lake.writes.upsert(
            ident, pa.table({"k": [1], "j": ["c"], "v": [3]}, schema=KEYED), join_columns=["k"]
        )

    assert str(raised.value) == (
        f"upsert into table {ident}: the table holds several rows for one key of join "
        "columns ['k']; nothing was written"
    )
    assert sorted(lake.reads.scan(ident).column("v").to_pylist()) == [1, 2]
    assert len(lake.snapshots.list(ident)) == 1
