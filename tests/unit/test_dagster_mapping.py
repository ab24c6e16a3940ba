"""The Dagster adapter's translation rules: partitions → filters, step identity, metadata."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
from pyiceberg.expressions import (
    AlwaysFalse,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThanOrEqual,
    In,
    LessThan,
    Or,
)
from pyiceberg.expressions.literals import (
    BooleanLiteral,
    DateLiteral,
    DecimalLiteral,
    DoubleLiteral,
    Literal,
    LongLiteral,
    TimestampLiteral,
)

import floe
from floe.adapters.dagster import _frames as frames
from floe.adapters.dagster import _targets as targets
from floe.adapters.dagster._annotations import InputShape, input_shape
from floe.adapters.dagster._lineage import StepWrite, resumed_run_ids
from floe.adapters.dagster._materialization import (
    MaterializationMetadata,
    rows_after_write,
    to_dagster,
)
from floe.adapters.dagster._partitions import selection_for
from floe.adapters.dagster._selection import (
    ColumnCondition,
    PartitionSelection,
    TimeRange,
    merge_ranges,
)
from floe.domain.models import SnapshotInfo, WriteMode
from floe.ports.arrow import describe_schema
from floe.ports.catalog import TableInfo

UTC = dt.UTC
D2, D4 = dt.date(2024, 5, 2), dt.date(2024, 5, 4)
DAILY = dg.DailyPartitionsDefinition(start_date="2024-05-01", end_date="2024-05-10")
REGIONS = dg.StaticPartitionsDefinition(["eu", "us", "o'hare"])
SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us")),
        ("tstz", pa.timestamp("us", tz="UTC")),
        ("day", pa.date32()),
        ("day_text", pa.string()),
        ("region", pa.string()),
        ("shard", pa.int64()),
        ("v", pa.int64()),
    ]
)


def _daily(*keys: str, column: str = "ts") -> PartitionSelection:
    return selection_for(DAILY, list(keys), {"floe/partition_column": column}, None, asset="a")


def _lake_with_rows() -> floe.Floe:
    """A memory table with one row per hour over 2024-05-01..03 (UTC), 3 regions, shards."""
    lake = floe.Floe.from_config({"type": "memory"})
    lake.namespaces.create("t")
    lake.tables.create("t.events", SCHEMA)
    base = dt.datetime(2024, 5, 1)
    hours = [base + dt.timedelta(hours=h) for h in range(72)]
    regions = ["eu", "us", "o'hare"]
    lake.writes.append(
        "t.events",
        pa.table(
            {
                "ts": hours,
                "tstz": [h.replace(tzinfo=UTC) for h in hours],
                "day": [h.date() for h in hours],
                "day_text": [h.date().isoformat() for h in hours],
                "region": [regions[i % 3] for i in range(72)],
                "shard": [i % 4 for i in range(72)],
                "v": list(range(72)),
            },
            schema=SCHEMA,
        ),
    )
    return lake


def _window(column: str, low: dt.date, high: dt.date) -> BooleanExpression:
    """``low <= column < high``, as the selections build it."""
    return And(GreaterThanOrEqual(column, low), LessThan(column, high))


# -- filters ------------------------------------------------------------------------------


def test_a_day_on_a_naive_timestamp_is_a_half_open_wall_clock_range() -> None:
    expression = _daily("2024-05-02").to_filter(SCHEMA, table="t.events")

    assert expression == _window("ts", dt.datetime(2024, 5, 2), dt.datetime(2024, 5, 3))


def test_a_day_on_a_zoned_timestamp_is_a_range_of_utc_instants() -> None:
    expression = _daily("2024-05-02", column="tstz").to_filter(SCHEMA, table="t.events")

    assert expression == _window(
        "tstz", dt.datetime(2024, 5, 2, tzinfo=UTC), dt.datetime(2024, 5, 3, tzinfo=UTC)
    )


def test_partitions_in_another_time_zone_shift_only_the_zoned_column() -> None:
    ny = dg.DailyPartitionsDefinition(start_date="2024-05-01", timezone="America/New_York")
    meta = {"floe/partition_column": "tstz"}
    zoned = selection_for(ny, ["2024-05-02"], meta, None, asset="a")
    naive = selection_for(ny, ["2024-05-02"], {"floe/partition_column": "ts"}, None, asset="a")

    assert zoned.to_filter(SCHEMA, table="t") == _window(
        "tstz", dt.datetime(2024, 5, 2, 4, tzinfo=UTC), dt.datetime(2024, 5, 3, 4, tzinfo=UTC)
    )
    assert naive.to_filter(SCHEMA, table="t") == _window(
        "ts", dt.datetime(2024, 5, 2), dt.datetime(2024, 5, 3)
    )


def test_partitions_in_another_time_zone_select_wall_clock_or_instant_rows() -> None:
    ny = dg.DailyPartitionsDefinition(start_date="2024-05-01", timezone="America/New_York")
    zoned = selection_for(ny, ["2024-05-02"], {"floe/partition_column": "tstz"}, None, asset="a")
    naive = selection_for(ny, ["2024-05-02"], {"floe/partition_column": "ts"}, None, asset="a")
    lake = _lake_with_rows()

    def values(selection: PartitionSelection) -> list[int]:
        rows = lake.reads.scan("t.events", row_filter=selection.to_filter(SCHEMA, table="t"))
        return sorted(rows.column("v").to_pylist())

    assert values(naive) == list(range(24, 48))  # the wall-clock day
    assert values(zoned) == list(range(28, 52))  # 04:00Z to 04:00Z: the New York day


def test_days_on_a_date_column_and_on_a_text_column() -> None:
    assert _daily("2024-05-02", column="day").to_filter(SCHEMA, table="t") == _window(
        "day", dt.date(2024, 5, 2), dt.date(2024, 5, 3)
    )
    assert _daily("2024-05-01", "2024-05-02", column="day_text").to_filter(SCHEMA, table="t") == In(
        "day_text", ["2024-05-01", "2024-05-02"]
    )


def test_adjacent_days_merge_and_gaps_stay_apart() -> None:
    contiguous = _daily("2024-05-01", "2024-05-02", "2024-05-03")
    gapped = _daily("2024-05-01", "2024-05-03")

    assert contiguous.to_filter(SCHEMA, table="t") == _window(
        "ts", dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 4)
    )
    assert contiguous.label == "2024-05-01...2024-05-03"
    assert gapped.to_filter(SCHEMA, table="t") == Or(
        _window("ts", dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2)),
        _window("ts", dt.datetime(2024, 5, 3), dt.datetime(2024, 5, 4)),
    )


def test_static_keys_are_values_of_the_column_type() -> None:
    one = selection_for(REGIONS, ["o'hare"], {"floe/partition_column": "region"}, None, asset="a")
    shards = dg.StaticPartitionsDefinition(["1", "3"])
    many = selection_for(shards, ["1", "3"], {"floe/partition_column": "shard"}, None, asset="a")

    assert one.to_filter(SCHEMA, table="t") == EqualTo("region", "o'hare")
    assert many.to_filter(SCHEMA, table="t") == In("shard", [1, 3])


@pytest.mark.parametrize(
    ("selection", "expected_values"),
    [
        (_daily("2024-05-02"), list(range(24, 48))),
        (_daily("2024-05-02", column="tstz"), list(range(24, 48))),
        (_daily("2024-05-03", column="day"), list(range(48, 72))),
        (_daily("2024-05-01", "2024-05-03", column="day_text"), [*range(24), *range(48, 72)]),
        (_daily("2024-05-01", "2024-05-03"), [*range(24), *range(48, 72)]),
        (
            selection_for(
                REGIONS, ["o'hare"], {"floe/partition_column": "region"}, None, asset="a"
            ),
            list(range(2, 72, 3)),
        ),
        (
            selection_for(
                dg.StaticPartitionsDefinition(["1", "3"]),
                ["1", "3"],
                {"floe/partition_column": "shard"},
                None,
                asset="a",
            ),
            [v for v in range(72) if v % 4 in (1, 3)],
        ),
    ],
)
def test_selections_select_exactly_the_partition_rows(
    selection: PartitionSelection, expected_values: list[int]
) -> None:
    lake = _lake_with_rows()

    rows = lake.reads.scan("t.events", row_filter=selection.to_filter(SCHEMA, table="t.events"))

    assert sorted(rows.column("v").to_pylist()) == expected_values


NUMBERS = pa.schema(
    [
        ("i", pa.int32()),
        ("f", pa.float64()),
        ("d", pa.decimal128(10, 2)),
        ("b", pa.bool_()),
        ("day", pa.date32()),
        ("ts", pa.timestamp("us")),
        ("tstz", pa.timestamp("us", tz="UTC")),
        ("v", pa.int64()),
    ]
)


def _literal_kinds(expression: BooleanExpression) -> set[type[Literal[Any]]]:
    literals = expression.literals if isinstance(expression, In) else {expression.literal}
    return {type(literal) for literal in literals}


@pytest.mark.parametrize(
    ("column", "keys", "expected", "kind", "values"),
    [
        ("i", ["2"], EqualTo("i", 2), LongLiteral, [2]),
        ("f", ["1.5", "2.5"], In("f", [1.5, 2.5]), DoubleLiteral, [1, 2]),
        ("d", ["1.50"], EqualTo("d", Decimal("1.50")), DecimalLiteral, [1]),
        ("b", ["true"], EqualTo("b", True), BooleanLiteral, [1, 3]),
        ("day", ["2024-05-02", "2024-05-04"], In("day", [D2, D4]), DateLiteral, [1, 3]),
        (
            "ts",
            ["2024-05-02T00:00:00"],
            EqualTo("ts", dt.datetime(2024, 5, 2)),
            TimestampLiteral,
            [1],
        ),
        (
            "tstz",
            ["2024-05-02T02:00:00+02:00"],
            EqualTo("tstz", dt.datetime(2024, 5, 2, tzinfo=UTC)),
            TimestampLiteral,
            [1],
        ),
    ],
)
def test_keys_are_typed_values_that_select_their_rows(
    column: str,
    keys: list[str],
    expected: BooleanExpression,
    kind: type[Literal[Any]],
    values: list[int],
) -> None:
    selection = PartitionSelection(((ColumnCondition(column, tuple(keys)),),), ",".join(keys))
    lake = floe.Floe.from_config({"type": "memory"})
    lake.namespaces.create("t")
    lake.tables.create("t.numbers", NUMBERS)
    days = [dt.date(2024, 5, d) for d in range(1, 5)]
    lake.writes.append(
        "t.numbers",
        pa.table(
            {
                "i": [0, 1, 2, 3],
                "f": [0.5, 1.5, 2.5, 3.5],
                "d": [Decimal(f"{v}.50") for v in range(4)],
                "b": [False, True, False, True],
                "day": days,
                "ts": [dt.datetime.combine(d, dt.time()) for d in days],
                "tstz": [dt.datetime.combine(d, dt.time(), UTC) for d in days],
                "v": list(range(4)),
            },
            schema=NUMBERS,
        ),
    )

    expression = selection.to_filter(NUMBERS, table="t.numbers")
    rows = lake.reads.scan("t.numbers", row_filter=expression)

    assert expression == expected
    assert _literal_kinds(expression) == {kind}
    assert sorted(rows.column("v").to_pylist()) == values


def test_no_filter_text_is_rendered_for_odd_names_and_keys() -> None:
    column = 'the "odd" region\\'
    keys = ("o'hare", 'say "hi"', "back\\slash", "it''s")
    schema = pa.schema([(column, pa.string()), ("v", pa.int64())])
    lake = floe.Floe.from_config({"type": "memory"})
    lake.namespaces.create("t")
    lake.tables.create("t.odd", schema)
    lake.writes.append(
        "t.odd", pa.table({column: [*keys, "other", None], "v": list(range(6))}, schema=schema)
    )

    one = PartitionSelection(((ColumnCondition(column, keys[:1]),),), keys[0])
    many = PartitionSelection(((ColumnCondition(column, keys),),), ",".join(keys))

    def values(expression: BooleanExpression) -> list[int]:
        return sorted(lake.reads.scan("t.odd", row_filter=expression).column("v").to_pylist())

    single, several = one.to_filter(schema, table="t.odd"), many.to_filter(schema, table="t.odd")

    assert isinstance(single, BooleanExpression)
    assert isinstance(several, BooleanExpression)
    assert single == EqualTo(column, "o'hare")
    assert single.term.name == column
    assert single.literal.value == "o'hare"
    assert several == In(column, keys)
    assert {literal.value for literal in several.literals} == set(keys)
    assert values(single) == [0]
    assert values(several) == [0, 1, 2, 3]


def test_multi_partitions_full_product_is_one_conjunction() -> None:
    multi = dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})
    meta = {"floe/partition_columns": {"date": "ts", "region": "region"}}
    keys = ["2024-05-01|eu", "2024-05-01|us", "2024-05-02|eu", "2024-05-02|us"]

    selection = selection_for(multi, keys, meta, None, asset="a")
    rows = _lake_with_rows().reads.scan(
        "t.events", row_filter=selection.to_filter(SCHEMA, table="t.events")
    )

    assert len(selection.alternatives) == 1
    assert rows.num_rows == 32  # 48 hours, two regions of three
    assert set(rows.column("region").to_pylist()) == {"eu", "us"}


def test_multi_partitions_partial_set_keeps_each_key_apart() -> None:
    multi = dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})
    meta = {"floe/partition_columns": {"date": "day", "region": "region"}}

    selection = selection_for(multi, ["2024-05-01|eu", "2024-05-02|us"], meta, None, asset="a")
    rows = _lake_with_rows().reads.scan(
        "t.events", row_filter=selection.to_filter(SCHEMA, table="t.events")
    )

    assert len(selection.alternatives) == 2
    pairs = set(zip(rows.column("day").to_pylist(), rows.column("region").to_pylist(), strict=True))
    assert pairs == {(dt.date(2024, 5, 1), "eu"), (dt.date(2024, 5, 2), "us")}
    assert rows.num_rows == 16


def test_multi_partition_time_dimension_falls_back_to_the_configured_column() -> None:
    multi = dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})
    meta = {"floe/partition_columns": {"region": "region"}}

    selection = selection_for(multi, ["2024-05-01|eu"], meta, "day", asset="a")

    assert selection.to_filter(SCHEMA, table="t") == And(
        _window("day", dt.date(2024, 5, 1), dt.date(2024, 5, 2)), EqualTo("region", "eu")
    )


def test_partitioned_asset_without_a_column_is_a_config_error() -> None:
    with pytest.raises(floe.InvalidConfigError, match="floe/partition_column"):
        selection_for(REGIONS, ["eu"], {}, "ts", asset="asset regions")  # static: no fallback
    with pytest.raises(floe.InvalidConfigError, match="dimension 'region'"):
        selection_for(
            dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS}),
            ["2024-05-01|eu"],
            {"floe/partition_columns": {"date": "ts"}},
            None,
            asset="a",
        )


def test_the_partition_column_is_inferred_from_an_unambiguous_spec() -> None:
    spec = {"floe/partition_spec": ["bucket[4](shard)", "day(ts)", "region"]}
    multi = dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})

    daily = selection_for(DAILY, ["2024-05-01"], spec, "day", asset="a")
    static = selection_for(REGIONS, ["eu"], spec, None, asset="a")
    both = selection_for(multi, ["2024-05-01|eu"], spec, None, asset="a")
    named = selection_for(
        DAILY, ["2024-05-01"], {**spec, "floe/partition_column": "day"}, None, asset="a"
    )

    first_day = _window("ts", dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2))
    # The spec's time transform wins over the IO manager's default column.
    assert daily.to_filter(SCHEMA, table="t") == first_day
    assert static.to_filter(SCHEMA, table="t") == EqualTo("region", "eu")
    assert both.to_filter(SCHEMA, table="t") == And(first_day, EqualTo("region", "eu"))
    assert named.to_filter(SCHEMA, table="t") == _window(
        "day", dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    )


def test_a_spec_with_several_candidate_columns_is_a_config_error_naming_them() -> None:
    times = {"floe/partition_spec": ["day(ts)", "month(tstz)"]}
    keys = {"floe/partition_spec": ["region", "shard"]}

    with pytest.raises(floe.InvalidConfigError, match=r"several columns .*\(ts, tstz\)"):
        selection_for(DAILY, ["2024-05-01"], times, "ts", asset="a")
    with pytest.raises(floe.InvalidConfigError, match=r"several columns .*\(region, shard\)"):
        selection_for(REGIONS, ["eu"], keys, None, asset="a")
    with pytest.raises(floe.InvalidConfigError, match="floe/partition_column"):
        selection_for(REGIONS, ["eu"], {"floe/partition_spec": ["day(ts)"]}, None, asset="a")


def test_unknown_or_unfit_partition_column_is_a_config_error() -> None:
    with pytest.raises(floe.InvalidConfigError, match="'nope' is not a column"):
        _daily("2024-05-01", column="nope").to_filter(SCHEMA, table="t")
    with pytest.raises(floe.InvalidConfigError, match="need a date, timestamp or string"):
        _daily("2024-05-01", column="shard").to_filter(SCHEMA, table="t")
    with pytest.raises(floe.InvalidConfigError, match="do not fit column 'shard'"):
        selection_for(
            REGIONS, ["eu"], {"floe/partition_column": "shard"}, None, asset="a"
        ).to_filter(SCHEMA, table="t")


# -- rows outside the partition -----------------------------------------------------------


def test_check_rows_accepts_rows_inside_and_counts_rows_outside() -> None:
    inside = pa.table({"ts": [dt.datetime(2024, 5, 2), dt.datetime(2024, 5, 2, 23, 59)]})
    mixed = pa.table(
        {"ts": [dt.datetime(2024, 5, 2, 1), dt.datetime(2024, 5, 3), dt.datetime(2024, 5, 1)]}
    )
    selection = _daily("2024-05-02")

    selection.check_rows(inside, SCHEMA, table="t")
    with pytest.raises(floe.WriteError, match=r"2 of 3 rows .* partition 2024-05-02"):
        selection.check_rows(mixed, SCHEMA, table="t")


def test_check_rows_compares_instants_for_zoned_data() -> None:
    paris = pa.timestamp("us", tz="Europe/Paris")
    # 2024-05-02T01:00+02:00 is 2024-05-01T23:00Z: outside the UTC day 2024-05-02.
    data = pa.table(
        {"tstz": pa.array([dt.datetime(2024, 5, 1, 23), dt.datetime(2024, 5, 2, 12)], paris)}
    )

    with pytest.raises(floe.WriteError, match="1 of 2 rows"):
        _daily("2024-05-02", column="tstz").check_rows(data, SCHEMA, table="t")


def test_check_rows_needs_the_partition_column_and_treats_null_as_outside() -> None:
    selection = selection_for(REGIONS, ["eu"], {"floe/partition_column": "region"}, None, asset="a")

    with pytest.raises(floe.WriteError, match="'region' is missing"):
        selection.check_rows(pa.table({"v": [1]}), SCHEMA, table="t")
    with pytest.raises(floe.WriteError, match="1 of 2 rows"):
        selection.check_rows(pa.table({"region": ["eu", None]}), SCHEMA, table="t")


def test_merge_ranges_joins_touching_and_overlapping_windows() -> None:
    def at(day: int) -> dt.datetime:
        return dt.datetime(2024, 5, day, tzinfo=UTC)

    merged = merge_ranges(
        [TimeRange(at(5), at(6)), TimeRange(at(1), at(3)), TimeRange(at(2), at(4))]
    )

    assert merged == (TimeRange(at(1), at(4)), TimeRange(at(5), at(6)))


def test_identity_condition_alone_is_an_equality() -> None:
    selection = PartitionSelection(((ColumnCondition("region", ("eu",)),),), "eu")

    assert selection.to_filter(SCHEMA, table="t") == EqualTo("region", "eu")


# -- step identity ------------------------------------------------------------------------


def _run(run_id: str, parent: str | None = None, **kwargs: object) -> dg.DagsterRun:
    return dg.DagsterRun(
        job_name="j",
        run_id=run_id,
        parent_run_id=parent,
        root_run_id="r1" if parent else None,
        **kwargs,  # type: ignore[arg-type]
    )


def test_resumed_runs_follow_from_failure_parents_until_the_step_succeeded() -> None:
    runs = {
        "r1": _run("r1"),
        "r2": _run("r2", "r1", step_keys_to_execute=["s"]),
        "r3": _run("r3", "r2", tags={"dagster/is_resume_retry": "true"}),
    }
    never = lambda run, step: False  # noqa: E731

    assert resumed_run_ids(runs["r3"], "s", runs.get, never) == ("r2", "r1")
    assert resumed_run_ids(runs["r1"], "s", runs.get, never) == ()
    # The step succeeded in r1: r2 re-running it is a new computation.
    assert resumed_run_ids(runs["r3"], "s", runs.get, lambda run, step: run == "r1") == ("r2",)


def test_reexecuting_all_steps_resumes_nothing() -> None:
    runs = {"r1": _run("r1"), "r2": _run("r2", "r1")}

    assert resumed_run_ids(runs["r2"], "s", runs.get, lambda run, step: False) == ()


def _snapshot(snapshot_id: int, **summary: str) -> floe.SnapshotInfo:
    return floe.SnapshotInfo(snapshot_id, None, snapshot_id, "append", summary)


def test_find_earlier_matches_run_step_output_and_partition() -> None:
    write = StepWrite("r2", "s", "result", "", resumed_run_ids=("r1",))
    props = write.snapshot_properties()
    other_step = {**props, "floe.dagster.step_key": "t"}
    from_r1 = {**props, "floe.dagster.run_id": "r1"}
    other_run = {**props, "floe.dagster.run_id": "r0"}
    other_partition = {**props, "floe.dagster.partition": "2024-05-01"}

    assert props == {
        "floe.dagster.run_id": "r2",
        "floe.dagster.step_key": "s",
        "floe.dagster.output": "result",
        "floe.dagster.partition": "",
    }
    assert write.find_earlier([_snapshot(1, **other_step), _snapshot(2, **from_r1)]) == (
        _snapshot(2, **from_r1)
    )
    assert write.find_earlier([_snapshot(1, **other_run), _snapshot(2, **other_partition)]) is None


# -- names, modes, values -----------------------------------------------------------------


def test_table_for_asset_keys_and_override() -> None:
    assert str(targets.table_for(["orders"], {}, "raw")) == "raw.orders"
    assert str(targets.table_for(["a", "b", "orders"], {}, "raw")) == "a.b.orders"
    assert str(targets.table_for(["orders"], {"floe/table": "x.y"}, "raw")) == "x.y"
    with pytest.raises(floe.InvalidConfigError, match="without an asset key"):
        targets.table_for(None, {}, "raw")
    with pytest.raises(floe.InvalidIdentifierError):
        targets.table_for(["orders"], {"floe/table": "noname"}, "raw")


def test_write_mode_and_name_lists_from_metadata() -> None:
    assert targets.write_mode_for({}, "append", asset="a") is floe.WriteMode.APPEND
    assert targets.write_mode_for({"floe/write_mode": "UPSERT"}, "append", asset="a") is (
        floe.WriteMode.UPSERT
    )
    with pytest.raises(floe.InvalidConfigError, match="write mode of a must be one of"):
        targets.write_mode_for({}, "merge", asset="a")
    assert targets.names({"columns": ["a", "b"]}, "columns", asset="a") == ("a", "b")
    assert targets.names({"columns": "a"}, "columns", asset="a") == ("a",)
    assert targets.names({}, "columns", asset="a") is None
    with pytest.raises(floe.InvalidConfigError, match="list of strings"):
        targets.names({"columns": [1]}, "columns", asset="a")
    with pytest.raises(floe.InvalidConfigError, match="filter text"):
        targets.row_filter_for({"row_filter": 3}, asset="a")


def test_frames_convert_pandas_and_reject_other_values() -> None:
    frame = pd.DataFrame({"a": [1, 2]}, index=[10, 11])

    table = frames.to_arrow(frame, table="t")

    assert table.column_names == ["a"]
    assert table.column("a").to_pylist() == [1, 2]
    assert frames.from_arrow(table, pd.DataFrame)["a"].tolist() == [1, 2]
    assert frames.from_arrow(table, object) is table
    with pytest.raises(floe.WriteError, match="cannot write a list to table t"):
        frames.to_arrow([1, 2], table="t")


def test_polars_frames_round_trip() -> None:
    pl = pytest.importorskip("polars")

    table = frames.to_arrow(pl.DataFrame({"a": [1, 2]}), table="t")

    assert table.column("a").to_pylist() == [1, 2]
    assert frames.from_arrow(table, pl.DataFrame)["a"].to_list() == [1, 2]
    assert frames.from_arrow(table, pl.LazyFrame).collect()["a"].to_list() == [1, 2]


def test_materialization_metadata_in_dagster_terms() -> None:
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), ("ts", pa.timestamp("us"))])
    report = MaterializationMetadata(
        table=floe.TableIdentifier.from_string("a.b"),
        snapshot_id=7,
        row_count=30,
        rows_written=3,
        columns=describe_schema(schema),
        write_mode=floe.WriteMode.APPEND,
        duration_ms=1.23456,
        partition="2024-05-01",
        partition_row_count=5,
        location="file:///lake/a/b",
        catalog="prod",
    )

    entries = to_dagster(report)

    assert entries["dagster/row_count"].value == 30  # the table's rows
    assert entries["dagster/partition_row_count"].value == 5
    assert entries["floe/rows_written"].value == 3
    assert entries["dagster/table_name"].value == "a.b"
    assert entries["dagster/relation_identifier"].value == "prod.a.b"
    assert entries["dagster/uri"].value == "file:///lake/a/b"
    assert entries["floe/snapshot_id"].value == 7
    assert entries["floe/partition"].value == "2024-05-01"
    assert entries["floe/duration_ms"].value == 1.235
    columns = entries["dagster/column_schema"].value.columns
    assert [(c.name, c.type, c.constraints.nullable) for c in columns] == [
        ("id", "long", False),
        ("ts", "timestamp", True),
    ]


def test_an_empty_partition_set_selects_no_row() -> None:
    nothing = PartitionSelection((), "")
    lake = _lake_with_rows()

    expression = nothing.to_filter(SCHEMA, table="t.events")

    assert expression == AlwaysFalse()
    assert lake.reads.scan("t.events", row_filter=expression).num_rows == 0
    with pytest.raises(floe.WriteError, match="1 of 1 rows"):
        nothing.check_rows(pa.table({"ts": [dt.datetime(2024, 5, 1)]}), SCHEMA, table="t")


def test_io_manager_settings_are_validated_as_floe_config() -> None:
    from floe.adapters.dagster import IcebergIOManager

    good = IcebergIOManager(
        catalog={"type": "memory"}, default_namespace="a.b", write_mode="upsert"
    )
    assert good.settings.default_namespace == ("a", "b")
    assert good.settings.write_mode is floe.WriteMode.UPSERT
    with pytest.raises(floe.InvalidConfigError):
        _ = IcebergIOManager(catalog={"type": "memory"}, write_mode="merge").settings
    with pytest.raises(floe.InvalidIdentifierError):
        _ = IcebergIOManager(catalog={"type": "memory"}, default_namespace="a..b").settings


def test_input_annotations_ask_for_a_frame_one_per_partition_or_maybe_none() -> None:
    import typing

    assert input_shape(pa.Table) == InputShape(pa.Table)
    assert input_shape(None) == InputShape(None)
    assert input_shape(typing.Any) == InputShape(None)
    assert input_shape(pa.Table | None) == InputShape(pa.Table, optional=True)
    assert input_shape(typing.Optional[pd.DataFrame]) == InputShape(  # noqa: UP045
        pd.DataFrame, optional=True
    )
    assert input_shape(dict[str, pd.DataFrame]) == InputShape(pd.DataFrame, by_partition=True)
    assert input_shape(typing.Dict[str, pa.Table]) == InputShape(  # noqa: UP006
        pa.Table, by_partition=True
    )
    assert input_shape(typing.Mapping[str, pa.Table] | None) == InputShape(
        pa.Table, by_partition=True, optional=True
    )
    assert input_shape(pa.Table | pd.DataFrame) == InputShape(pa.Table | pd.DataFrame)


def test_rows_after_a_write_are_known_without_loading_when_the_write_tells_them() -> None:
    table = floe.TableIdentifier.from_string("a.b")
    before = TableInfo(table, pa.schema([("id", pa.int64())]), (), {}, "file:///b", 7)
    history = [SnapshotInfo(7, None, 0, "append", {"total-records": "10"})]
    day = _daily("2024-05-01")
    overwrite, append, upsert = WriteMode.OVERWRITE, WriteMode.APPEND, WriteMode.UPSERT

    assert rows_after_write(append, None, 8, 3, None, []) == 3  # created with its rows
    assert rows_after_write(overwrite, None, 8, 3, before, []) == 3  # all replaced
    assert rows_after_write(append, None, 8, 3, before, history) == 13
    assert rows_after_write(append, None, None, 3, before, history) == 10  # deduplicated
    assert rows_after_write(overwrite, day, 8, 3, before, history) is None  # other days
    assert rows_after_write(upsert, None, 8, 3, before, history) is None
    assert rows_after_write(overwrite, None, None, 0, before, []) is None  # nothing committed
    assert rows_after_write(append, None, 8, 3, before, []) is None  # history not read
