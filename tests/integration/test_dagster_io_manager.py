"""IcebergIOManager in real Dagster runs over the embedded local and the in-memory catalogs."""

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan

import floe
from floe.adapters.dagster import IcebergIOManager, create_io_manager
from tests.conftest import rest_config
from tests.integration.seaweed import SeaweedServer

DAYS = ["2024-05-01", "2024-05-02", "2024-05-03"]
DAILY = dg.DailyPartitionsDefinition(start_date="2024-05-01", end_date="2024-05-04")
REGIONS = dg.StaticPartitionsDefinition(["eu", "us"])


def _local(tmp_path: Path) -> dict[str, str]:
    return {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}


def _lake(tmp_path: Path) -> floe.Floe:
    return floe.Floe.from_config(_local(tmp_path))


def _materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Materialization metadata by asset key, values unwrapped."""
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        found[key] = {k: v.value for k, v in materialization.metadata.items()}
    return found


def _appends(lake: floe.Floe, table: str) -> list[floe.SnapshotInfo]:
    return [s for s in lake.snapshots.list(table) if s.operation == "append"]


# -- a small pipeline: pyarrow → pandas → projected, filtered read -----------------------


@dg.asset(key_prefix=["shop"])
def orders() -> pa.Table:
    return pa.table(
        {
            "id": [1, 2, 3, 4, 5],
            "region": ["eu", "us", "eu", "eu", "us"],
            "amount": [10.0, 20.0, -1.0, 5.5, 7.25],
        }
    )


@dg.asset(key_prefix=["shop"])
def cleaned_orders(orders: pd.DataFrame) -> pd.DataFrame:
    kept = orders[orders["amount"] > 0]
    return kept.assign(amount_cents=(kept["amount"] * 100).astype("int64"))


@dg.asset(
    key_prefix=["shop"],
    ins={
        "cleaned_orders": dg.AssetIn(
            key_prefix=["shop"],
            metadata={"columns": ["region", "amount_cents"], "row_filter": "region = 'eu'"},
        )
    },
)
def eu_revenue(context: dg.AssetExecutionContext, cleaned_orders: pa.Table) -> pa.Table:
    context.add_output_metadata(
        {"columns_seen": ",".join(cleaned_orders.column_names), "rows_seen": len(cleaned_orders)}
    )
    return pa.table(
        {"region": ["eu"], "revenue_cents": [pc.sum(cleaned_orders["amount_cents"]).as_py()]}
    )


@dg.asset
def nothing() -> None:
    return None


PIPELINE = [orders, cleaned_orders, eu_revenue, nothing]


@pytest.mark.parametrize("kind", ["local", "memory"])
def test_pipeline_writes_tables_and_reads_projected_filtered_inputs(
    tmp_path: Path, kind: str
) -> None:
    catalog = _local(tmp_path) if kind == "local" else {"type": "memory"}

    result = dg.materialize(PIPELINE, resources={"io_manager": IcebergIOManager(catalog=catalog)})

    assert result.success
    meta = _materializations(result)
    assert meta["shop/eu_revenue"]["columns_seen"] == "region,amount_cents"
    assert meta["shop/eu_revenue"]["rows_seen"] == 2  # eu rows with amount > 0: ids 1 and 4
    assert meta["shop/orders"]["dagster/row_count"] == 5
    assert meta["shop/orders"]["floe/rows_written"] == 5
    assert meta["shop/cleaned_orders"]["dagster/row_count"] == 4
    assert meta["shop/orders"]["floe/table"] == "shop.orders"
    assert meta["shop/orders"]["floe/write_mode"] == "overwrite"  # the default
    assert meta["shop/orders"]["floe/deduplicated"] is False
    assert meta["shop/orders"]["floe/duration_ms"] > 0
    assert "floe/partition" not in meta["shop/orders"]
    schema = meta["shop/cleaned_orders"]["dagster/column_schema"]
    assert [(c.name, c.type) for c in schema.columns] == [
        ("id", "long"),
        ("region", "string"),
        ("amount", "double"),
        ("amount_cents", "long"),
    ]
    assert "floe/table" not in meta.get("nothing", {})
    if kind == "local":
        lake = _lake(tmp_path)
        assert lake.reads.scan("shop.eu_revenue").to_pylist() == [
            {"region": "eu", "revenue_cents": 1550}
        ]
        assert lake.reads.scan("shop.cleaned_orders").num_rows == 4
        current = lake.snapshots.current("shop.orders")
        assert current is not None
        assert meta["shop/orders"]["floe/snapshot_id"] == current.snapshot_id
        assert current.summary["floe.dagster.run_id"] == result.run_id
        assert current.summary["floe.dagster.step_key"] == "shop__orders"
        assert current.summary["floe.dagster.partition"] == ""
        assert not lake.tables.exists("default.nothing")


def test_append_mode_appends_and_the_default_replaces(tmp_path: Path) -> None:
    appending = IcebergIOManager(catalog=_local(tmp_path), write_mode="append")
    overwriting = IcebergIOManager(catalog=_local(tmp_path))
    lake = _lake(tmp_path)

    dg.materialize([orders], resources={"io_manager": appending})
    dg.materialize([orders], resources={"io_manager": appending})
    appended = lake.reads.scan("shop.orders").num_rows
    dg.materialize([orders], resources={"io_manager": overwriting})

    assert appended == 10
    assert lake.reads.scan("shop.orders").num_rows == 5
    # One snapshot per commit: two appends, then one overwrite.
    assert [s.operation for s in lake.snapshots.list("shop.orders")] == [
        "append",
        "append",
        "overwrite",
    ]


# -- daily partitions: backfill, re-run one day, downstream reads one day -----------------

RUN = {"version": 1}


@dg.asset(
    partitions_def=DAILY,
    metadata={"floe/partition_spec": ["day(ts)"], "floe/table": "events.clicks"},
)
def clicks(context: dg.AssetExecutionContext) -> pa.Table:
    start = context.partition_time_window.start.replace(tzinfo=None)
    hours = [start + dt.timedelta(hours=h) for h in (0, 6, 12, 23)]
    return pa.table({"ts": hours, "version": [RUN["version"]] * 4})


@dg.asset(partitions_def=DAILY, metadata={"floe/partition_column": "day"})
def clicks_per_day(context: dg.AssetExecutionContext, clicks: pd.DataFrame) -> pa.Table:
    return pa.table({"day": [context.partition_time_window.start.date()], "clicks": [len(clicks)]})


def test_daily_backfill_then_rerun_of_one_day_replaces_only_that_day(tmp_path: Path) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path), partition_column="ts")
    lake = _lake(tmp_path)
    RUN["version"] = 1
    for day in DAYS:
        dg.materialize(
            [clicks, clicks_per_day], partition_key=day, resources={"io_manager": io_manager}
        )
    RUN["version"] = 2

    rerun = dg.materialize(
        [clicks, clicks_per_day], partition_key="2024-05-02", resources={"io_manager": io_manager}
    )

    rows = lake.reads.scan("events.clicks")
    by_day: dict[str, list[int]] = {}
    for ts, version in zip(rows["ts"].to_pylist(), rows["version"].to_pylist(), strict=True):
        by_day.setdefault(ts.date().isoformat(), []).append(version)
    assert by_day == {"2024-05-01": [1] * 4, "2024-05-02": [2] * 4, "2024-05-03": [1] * 4}
    per_day = sorted(lake.reads.scan("default.clicks_per_day").to_pylist(), key=lambda r: r["day"])
    assert per_day == [
        {"day": dt.date(2024, 5, d), "clicks": 4} for d in (1, 2, 3)
    ]  # each day read only its own 4 rows
    meta = _materializations(rerun)["clicks"]
    assert meta["floe/partition"] == "2024-05-02"
    assert meta["floe/write_mode"] == "overwrite"
    assert meta["dagster/row_count"] == 12  # the table's rows: three days of four
    assert meta["dagster/partition_row_count"] == 4
    assert meta["floe/rows_written"] == 4
    commits = lake.snapshots.list("events.clicks")  # one snapshot per partition write
    partitions = [s.summary["floe.dagster.partition"] for s in commits]
    assert partitions == [*DAYS, "2024-05-02"]
    assert lake.tables.load("events.clicks").partition_spec[0].source_column == "ts"


@dg.asset(partitions_def=DAILY, metadata={"floe/partition_column": "at"})
def readings(context: dg.AssetExecutionContext) -> pa.Table:
    start = context.partition_time_window.start  # aware, UTC
    return pa.table(
        {
            "at": pa.array(
                [start, start + dt.timedelta(hours=23, minutes=59)], pa.timestamp("us", "UTC")
            )
        }
    )


@dg.asset
def all_readings(readings: pa.Table) -> pa.Table:
    return readings


def test_timestamptz_partitions_and_unpartitioned_downstream_reading_every_day(
    tmp_path: Path,
) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path))
    for day in DAYS[:2]:
        dg.materialize([readings], partition_key=day, resources={"io_manager": io_manager})
    dg.materialize([readings], partition_key=DAYS[0], resources={"io_manager": io_manager})

    result = dg.materialize(
        [readings.to_source_asset(), all_readings], resources={"io_manager": io_manager}
    )

    assert result.success
    got = _lake(tmp_path).reads.scan("default.all_readings")["at"].to_pylist()
    assert sorted(t.isoformat() for t in got) == [
        "2024-05-01T00:00:00+00:00",
        "2024-05-01T23:59:00+00:00",
        "2024-05-02T00:00:00+00:00",
        "2024-05-02T23:59:00+00:00",
    ]


@dg.asset(partitions_def=DAILY, metadata={"floe/partition_column": "ts"})
def sloppy(context: dg.AssetExecutionContext) -> pa.Table:
    return pa.table({"ts": [dt.datetime(2024, 5, 1, 12), dt.datetime(2024, 5, 2, 12)]})


def test_rows_outside_the_partition_fail_the_step_and_leave_the_table(tmp_path: Path) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path))

    result = dg.materialize(
        [sloppy],
        partition_key="2024-05-01",
        resources={"io_manager": io_manager},
        raise_on_error=False,
    )

    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "1 of 2 rows written to table default.sloppy for partition 2024-05-01" in str(
        failure.cause
    )
    # The first write creates the table in the same commit as its rows: nothing is left.
    assert not _lake(tmp_path).tables.exists("default.sloppy")


# -- static and multi partitions ----------------------------------------------------------


@dg.asset(partitions_def=REGIONS, metadata={"floe/partition_column": "region"})
def shops(context: dg.AssetExecutionContext) -> pd.DataFrame:
    count = 2 if context.partition_key == "eu" else 3
    return pd.DataFrame({"region": [context.partition_key] * count, "version": RUN["version"]})


def test_static_partition_rerun_replaces_only_its_key(tmp_path: Path) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path))
    RUN["version"] = 1
    for region in ("eu", "us"):
        dg.materialize([shops], partition_key=region, resources={"io_manager": io_manager})
    RUN["version"] = 2
    dg.materialize([shops], partition_key="eu", resources={"io_manager": io_manager})

    rows = _lake(tmp_path).reads.scan("default.shops").to_pylist()

    assert sorted((r["region"], r["version"]) for r in rows) == [
        ("eu", 2),
        ("eu", 2),
        ("us", 1),
        ("us", 1),
        ("us", 1),
    ]


MULTI = dg.MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})


@dg.asset(
    partitions_def=MULTI,
    metadata={"floe/partition_columns": {"date": "day", "region": "region"}},
)
def sales(context: dg.AssetExecutionContext) -> pa.Table:
    key = context.partition_key
    assert isinstance(key, dg.MultiPartitionKey)
    day = dt.date.fromisoformat(key.keys_by_dimension["date"])
    return pa.table(
        {
            "day": [day] * 2,
            "region": [key.keys_by_dimension["region"]] * 2,
            "v": [RUN["version"]] * 2,
        }
    )


@dg.asset(partitions_def=MULTI)
def sales_copy(sales: pa.Table) -> None:
    RUN["seen"] = sales.num_rows
    return


def test_multi_partitions_rerun_one_key_and_read_one_key(tmp_path: Path) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path))
    keys = ["2024-05-01|eu", "2024-05-01|us", "2024-05-02|eu"]
    RUN["version"] = 1
    for key in keys:
        dg.materialize([sales], partition_key=key, resources={"io_manager": io_manager})
    RUN["version"] = 2
    dg.materialize(
        [sales, sales_copy], partition_key="2024-05-01|us", resources={"io_manager": io_manager}
    )

    rows = _lake(tmp_path).reads.scan("default.sales").to_pylist()

    assert sorted((r["day"].isoformat(), r["region"], r["v"]) for r in rows) == [
        ("2024-05-01", "eu", 1),
        ("2024-05-01", "eu", 1),
        ("2024-05-01", "us", 2),
        ("2024-05-01", "us", 2),
        ("2024-05-02", "eu", 1),
        ("2024-05-02", "eu", 1),
    ]
    assert RUN["seen"] == 2  # the downstream partition read only its own key


# -- retry safety -------------------------------------------------------------------------


class FailOnceIOManager(IcebergIOManager):
    """Fails right after its first write (the marker file records that it did)."""

    marker: str

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        super().handle_output(context, obj)
        if not Path(self.marker).exists():
            Path(self.marker).touch()
            raise RuntimeError("crashed after the commit")


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=1))
def ledger() -> pa.Table:
    return pa.table({"entry": [1, 2, 3]})


def test_step_retry_after_a_committed_append_does_not_append_again(tmp_path: Path) -> None:
    io_manager = FailOnceIOManager(
        catalog=_local(tmp_path), marker=str(tmp_path / "failed"), write_mode="append"
    )

    result = dg.materialize([ledger], resources={"io_manager": io_manager})

    lake = _lake(tmp_path)
    assert result.success
    assert (tmp_path / "failed").exists()  # the first attempt did fail after writing
    assert lake.reads.scan("default.ledger").num_rows == 3
    appends = _appends(lake, "default.ledger")
    assert len(appends) == 1
    meta = _materializations(result)["ledger"]
    assert meta["floe/deduplicated"] is True
    assert meta["floe/snapshot_id"] == appends[0].snapshot_id
    assert meta["dagster/row_count"] == 3
    assert meta["floe/rows_written"] == 3


@dg.asset
def journal() -> pa.Table:
    return pa.table({"entry": [1, 2]})


def reexecution_job() -> dg.JobDefinition:
    """A job for ``reconstructable``: catalog and marker come from the environment."""
    io_manager = FailOnceIOManager(
        catalog_env_prefix="FLOE_TEST_CATALOG_",
        marker=os.environ["FLOE_TEST_MARKER"],
        write_mode="append",
    )
    defs = dg.Definitions(
        assets=[journal],
        jobs=[dg.define_asset_job("journal_job", executor_def=dg.in_process_executor)],
        resources={"io_manager": io_manager},
    )
    return defs.resolve_job_def("journal_job")


@pytest.fixture
def dagster_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dg.DagsterInstance]:
    monkeypatch.setenv("FLOE_TEST_CATALOG_TYPE", "local")
    monkeypatch.setenv("FLOE_TEST_CATALOG_WAREHOUSE_PATH", str(tmp_path / "warehouse"))
    monkeypatch.setenv("FLOE_TEST_MARKER", str(tmp_path / "failed"))
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


def test_reexecution_from_failure_skips_the_committed_append_but_all_steps_appends(
    tmp_path: Path, dagster_instance: dg.DagsterInstance
) -> None:
    job = dg.reconstructable(reexecution_job)
    lake = _lake(tmp_path)

    failed = dg.execute_job(job, dagster_instance)
    rows_after_failure = lake.reads.scan("default.journal").num_rows
    resumed = dg.execute_job(
        job,
        dagster_instance,
        reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, dagster_instance),
    )
    rows_after_resume = lake.reads.scan("default.journal").num_rows
    again = dg.execute_job(
        job, dagster_instance, reexecution_options=dg.ReexecutionOptions(resumed.run_id)
    )

    assert (failed.success, resumed.success, again.success) == (False, True, True)
    assert rows_after_failure == 2
    assert rows_after_resume == 2
    assert lake.reads.scan("default.journal").num_rows == 4
    runs = [s.summary["floe.dagster.run_id"] for s in _appends(lake, "default.journal")]
    assert runs == [failed.run_id, again.run_id]
    resumed_meta = resumed.get_asset_materialization_events()[0].materialization.metadata
    assert resumed_meta["floe/deduplicated"].value is True


# -- Dagster's IO manager test utilities ---------------------------------------------------


def test_build_context_round_trip_with_upsert_projection_and_filter() -> None:
    io_manager = IcebergIOManager(catalog={"type": "memory"}, default_namespace="crm")
    upsert = {"floe/write_mode": "upsert", "floe/join_columns": ["id"]}
    first = pd.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"], "score": [1.0, 2.0, 3.0]})
    second = pd.DataFrame({"id": [3, 4], "name": ["C", "d"], "score": [30.0, 40.0]})

    for frame in (first, second):
        with dg.build_output_context(
            asset_key=["customers"], definition_metadata=upsert, run_id="r", step_key="customers"
        ) as context:
            io_manager.handle_output(context, frame)
    logged = {k: v.value for k, v in context.get_logged_metadata().items()}
    with dg.build_input_context(
        asset_key=["customers"],
        dagster_type=dg.DagsterType(lambda _, v: True, name="any", typing_type=pa.Table),
        definition_metadata={"columns": ["id", "name"], "row_filter": "score >= 3"},
    ) as input_context:
        loaded = io_manager.load_input(input_context)
    with dg.build_input_context(
        asset_key=["customers"],
        dagster_type=dg.DagsterType(lambda _, v: True, name="df", typing_type=pd.DataFrame),
    ) as input_context:
        frame = io_manager.load_input(input_context)

    assert isinstance(loaded, pa.Table)
    assert sorted(loaded.to_pylist(), key=lambda r: r["id"]) == [
        {"id": 3, "name": "C"},
        {"id": 4, "name": "d"},
    ]
    assert isinstance(frame, pd.DataFrame)
    assert sorted(frame["id"].tolist()) == [1, 2, 3, 4]
    assert logged["floe/write_mode"] == "upsert"
    assert logged["floe/table"] == "crm.customers"
    assert logged["dagster/row_count"] == 4  # the table's rows after the upsert
    assert logged["floe/rows_written"] == 2
    assert io_manager.lake.snapshots.current("crm.customers") is not None
    assert (
        logged["floe/snapshot_id"] == io_manager.lake.snapshots.current("crm.customers").snapshot_id
    )


def test_build_context_partitioned_round_trip() -> None:
    io_manager = IcebergIOManager(catalog={"type": "memory"}, partition_column="ts")
    for day in DAYS:
        start = dt.datetime.fromisoformat(day)
        data = pa.table({"ts": [start, start + dt.timedelta(hours=1)], "day": [day, day]})
        with dg.build_output_context(
            asset_key=["hits"], partition_key=day, asset_partitions_def=DAILY
        ) as context:
            io_manager.handle_output(context, data)

    with dg.build_input_context(
        asset_key=["hits"],
        asset_partitions_def=DAILY,
        asset_partition_key_range=dg.PartitionKeyRange("2024-05-02", "2024-05-03"),
    ) as input_context:
        loaded = io_manager.load_input(input_context)

    assert sorted(set(loaded["day"].to_pylist())) == ["2024-05-02", "2024-05-03"]
    assert loaded.num_rows == 4
    assert io_manager.lake.reads.scan("default.hits").num_rows == 6


def test_an_input_filter_and_its_partitions_are_one_typed_filter(
    reads: list[tuple[str, dict[str, Any]]],
) -> None:
    pl = pytest.importorskip("polars")
    io_manager = IcebergIOManager(catalog={"type": "memory"}, partition_column="ts")
    for day in DAYS:
        start = dt.datetime.fromisoformat(day)
        data = pa.table({"ts": [start, start + dt.timedelta(hours=1)], "n": [1, 2]})
        with dg.build_output_context(
            asset_key=["hits"], partition_key=day, asset_partitions_def=DAILY
        ) as context:
            io_manager.handle_output(context, data)
    table_type = dg.DagsterType(lambda _, v: True, name="t", typing_type=pa.Table)
    lazy_type = dg.DagsterType(lambda _, v: True, name="lf", typing_type=pl.LazyFrame)

    def load(dagster_type: dg.DagsterType, row_filter: str) -> Any:
        with dg.build_input_context(
            asset_key=["hits"],
            dagster_type=dagster_type,
            asset_partitions_def=DAILY,
            asset_partition_key_range=dg.PartitionKeyRange("2024-05-02", "2024-05-02"),
            definition_metadata={"row_filter": row_filter},
        ) as context:
            return io_manager.load_input(context)

    reads.clear()
    eager = load(table_type, "n = 2")
    lazy = load(lazy_type, "n = 2").filter(pl.col("n") >= 1).collect()
    day = And(
        GreaterThanOrEqual("ts", dt.datetime(2024, 5, 2)), LessThan("ts", dt.datetime(2024, 5, 3))
    )

    assert eager.to_pylist() == [{"ts": dt.datetime(2024, 5, 2, 1), "n": 2}]
    assert lazy.to_dicts() == [{"ts": dt.datetime(2024, 5, 2, 1), "n": 2}]
    assert [options["row_filter"] for _, options in reads] == [
        And(EqualTo("n", 2), day),
        And(EqualTo("n", 2), day, GreaterThanOrEqual("n", 1)),
    ]
    with pytest.raises(floe.InvalidFilterError, match="cannot parse row filter 'n = '"):
        load(table_type, "n = ")
    broken = load(lazy_type, "n = ")  # a LazyFrame reads, and fails, when collected
    with pytest.raises(floe.InvalidFilterError, match="cannot parse row filter 'n = '"):
        broken.collect()


def test_schema_evolution_follows_the_setting() -> None:
    def write(io_manager: IcebergIOManager, data: pa.Table) -> None:
        with dg.build_output_context(asset_key=["wide"]) as context:
            io_manager.handle_output(context, data)

    evolving = IcebergIOManager(catalog={"type": "memory"}, write_mode="append")
    strict = IcebergIOManager(
        catalog={"type": "memory"}, schema_evolution=False, write_mode="append"
    )
    for io_manager in (evolving, strict):
        write(io_manager, pa.table({"a": [1]}))

    write(evolving, pa.table({"a": [2], "b": ["x"]}))
    with pytest.raises(floe.SchemaEvolutionError):
        write(strict, pa.table({"a": [2], "b": ["x"]}))

    assert evolving.lake.reads.scan("default.wide").to_pylist() == [
        {"a": 1, "b": None},
        {"a": 2, "b": "x"},
    ]
    assert strict.lake.reads.scan("default.wide").to_pylist() == [{"a": 1}]


# -- configuration ------------------------------------------------------------------------


def test_create_io_manager_checks_the_catalog_and_env_prefix_picks_the_warehouse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(floe.InvalidConfigError, match="unknown catalog type 'nope'"):
        create_io_manager({"type": "nope"})
    with pytest.raises(floe.InvalidConfigError, match="write mode"):
        dg.materialize(
            [orders],
            resources={"io_manager": create_io_manager({"type": "memory"}, write_mode="merge")},
        )
    monkeypatch.setenv("MY_CATALOG_TYPE", "local")
    monkeypatch.setenv("MY_CATALOG_WAREHOUSE_PATH", str(tmp_path / "warehouse"))

    dg.materialize(
        [orders], resources={"io_manager": create_io_manager(catalog_env_prefix="MY_CATALOG_")}
    )

    assert _lake(tmp_path).reads.scan("shop.orders").num_rows == 5
    assert floe.IcebergIOManager is IcebergIOManager


def test_polars_output_and_input(tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")

    @dg.asset
    def frame() -> pl.DataFrame:
        return pl.DataFrame({"a": [1, 2, 3]})

    @dg.asset
    def total(frame: pl.DataFrame) -> pa.Table:
        return pa.table({"total": [int(frame["a"].sum())]})

    dg.materialize(
        [frame, total], resources={"io_manager": IcebergIOManager(catalog=_local(tmp_path))}
    )

    assert _lake(tmp_path).reads.scan("default.total").to_pylist() == [{"total": 6}]


def test_op_output_without_asset_key_uses_the_table_metadata() -> None:
    io_manager = IcebergIOManager(catalog={"type": "memory"})
    metadata = {"floe/table": "ops.scores"}

    with dg.build_output_context(name="scores", definition_metadata=metadata) as context:
        io_manager.handle_output(context, pa.table({"score": [3, 1, 2]}))
    upstream = dg.build_output_context(name="scores", definition_metadata=metadata)
    with dg.build_input_context(upstream_output=upstream) as input_context:
        loaded = io_manager.load_input(input_context)
    with (
        dg.build_output_context(name="orphan") as context,
        pytest.raises(floe.InvalidConfigError, match="needs the metadata 'floe/table'"),
    ):
        io_manager.handle_output(context, pa.table({"score": [1]}))

    assert sorted(loaded["score"].to_pylist()) == [1, 2, 3]
    assert (
        io_manager.lake.snapshots.current("ops.scores").summary.get("floe.dagster.run_id") is None
    )


ATTEMPTS: dict[str, int] = {}


@dg.asset(retry_policy=dg.RetryPolicy(max_retries=2))
def flaky_after_write(context: dg.AssetExecutionContext) -> Iterator[dg.Output[pd.DataFrame]]:
    yield dg.Output(pd.DataFrame({"entry": [10, 20, 30, 40]}))
    ATTEMPTS[context.run.run_id] = ATTEMPTS.get(context.run.run_id, 0) + 1
    if ATTEMPTS[context.run.run_id] == 1:
        raise RuntimeError("the step fails after its output was written")


def test_asset_failing_after_its_output_is_retried_without_a_second_append(
    tmp_path: Path,
) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path), write_mode="append")

    result = dg.materialize([flaky_after_write], resources={"io_manager": io_manager})

    assert result.success
    assert ATTEMPTS[result.run_id] == 2
    lake = _lake(tmp_path)
    assert lake.reads.scan("default.flaky_after_write").num_rows == 4
    assert len(_appends(lake, "default.flaky_after_write")) == 1


# -- against the real REST catalog, and tables floe did not create ------------------------


@dg.asset(key_prefix=["remote"], metadata={"floe/partition_spec": ["bucket[4](id)"]})
def remote_items() -> pa.Table:
    return pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})


@dg.asset(key_prefix=["remote"], ins={"remote_items": dg.AssetIn(key_prefix=["remote"])})
def remote_names(remote_items: pd.DataFrame) -> pd.DataFrame:
    return remote_items[remote_items["id"] > 1][["name"]]


def test_materialize_against_the_rest_catalog(
    seaweed: SeaweedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = rest_config(seaweed)
    monkeypatch.setenv("FLOE_REST_TYPE", "polaris")
    monkeypatch.setenv("FLOE_REST_URI", config.uri)
    monkeypatch.setenv("FLOE_REST_WAREHOUSE", config.warehouse)
    monkeypatch.setenv("FLOE_REST_CLIENT_ID", seaweed.access_key)
    monkeypatch.setenv("FLOE_REST_CLIENT_SECRET", seaweed.secret_key)
    for key, value in config.properties.items():
        monkeypatch.setenv("FLOE_REST_PROP_" + key.replace(".", "__").upper(), value)
    io_manager = IcebergIOManager(catalog_env_prefix="FLOE_REST_")
    assets = [remote_items, remote_names]

    first = dg.materialize(assets, resources={"io_manager": io_manager})

    assert first.success
    lake = floe.Floe.from_config(config)
    assert sorted(lake.reads.scan("remote.remote_names").column("name").to_pylist()) == ["b", "c"]
    assert [str(t) for t in lake.tables.load("remote.remote_items").partition_spec] == [
        "bucket[4](id)"
    ]
    second = dg.materialize(assets, resources={"io_manager": io_manager})
    assert second.success
    # overwrite is the default: the second run replaces the table
    assert lake.reads.scan("remote.remote_items").num_rows == 3
    assert len(lake.snapshots.list("remote.remote_items")) == 2


@dg.asset(metadata={"floe/write_mode": "upsert", "floe/join_columns": ["id"]})
def customers() -> pa.Table:
    return pa.table({"id": [1, 2], "tier": ["gold", "silver"]})


def test_noop_upsert_and_foreign_properties_and_partition_fields_survive(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    lake.namespaces.create("default")
    lake.tables.create(
        "default.customers",
        pa.schema([("id", pa.int64()), ("tier", pa.string())]),
        ["bucket[8](id)"],
        {"owner": "crm-team"},
    )
    io_manager = IcebergIOManager(catalog=_local(tmp_path))

    first = dg.materialize([customers], resources={"io_manager": io_manager})
    again = dg.materialize([customers], resources={"io_manager": io_manager})

    assert first.success
    assert again.success
    info = lake.tables.load("default.customers")
    assert info.properties.get("owner") == "crm-team"
    assert [str(t) for t in info.partition_spec] == ["bucket[8](id)"]
    assert lake.reads.scan("default.customers").num_rows == 2
    meta = _materializations(again)["customers"]
    assert meta["floe/snapshot_id"] == info.current_snapshot_id
    assert meta["dagster/row_count"] == 2


def _two_days() -> pa.Table:
    return pa.table({"id": [1, 2], "ts": [dt.datetime(2024, 5, 1), dt.datetime(2024, 5, 2)]})


APPEND = {"floe/write_mode": "append"}
unpartitioned_events = dg.asset(key_prefix=["spec"], name="events", metadata=APPEND)(_two_days)
day_partitioned_events = dg.asset(
    key_prefix=["spec"], name="events", metadata={"floe/partition_spec": ["day(ts)"], **APPEND}
)(_two_days)


def test_partition_spec_from_metadata_is_added_to_an_existing_table(tmp_path: Path) -> None:
    io_manager = IcebergIOManager(catalog=_local(tmp_path))
    lake = _lake(tmp_path)

    dg.materialize([unpartitioned_events], resources={"io_manager": io_manager})
    assert lake.tables.load("spec.events").partition_spec == ()
    result = dg.materialize([day_partitioned_events], resources={"io_manager": io_manager})

    assert result.success
    assert [str(t) for t in lake.tables.load("spec.events").partition_spec] == ["day(ts)"]
    assert lake.reads.scan("spec.events").num_rows == 4
    days = {f.partition.get("ts_day") for f in lake.tables.files("spec.events")}
    assert days == {None, "2024-05-01", "2024-05-02"}


# -- a RecordBatchReader output streams -------------------------------------------------


@dg.asset(key_prefix=["shop"], metadata=APPEND)
def streamed_events() -> pa.RecordBatchReader:
    schema = pa.schema([("id", pa.int64()), ("kind", pa.string())])
    batches = (
        pa.RecordBatch.from_pydict({"id": [i, i + 1], "kind": ["a", "b"]}, schema=schema)
        for i in range(0, 6, 2)
    )
    return pa.RecordBatchReader.from_batches(schema, batches)


def test_a_reader_output_is_appended_as_one_snapshot_per_run(tmp_path: Path) -> None:
    manager = IcebergIOManager(catalog=_local(tmp_path))
    first = dg.materialize([streamed_events], resources={"io_manager": manager})
    second = dg.materialize([streamed_events], resources={"io_manager": manager})
    assert first.success
    assert second.success
    assert _materializations(second)["shop/streamed_events"]["floe/rows_written"] == 6
    assert _materializations(second)["shop/streamed_events"]["dagster/row_count"] == 12
    lake = _lake(tmp_path)
    appends = _appends(lake, "shop.streamed_events")
    assert [s.summary["added-records"] for s in appends] == ["6", "6"]
    assert appends[1].summary["floe.dagster.run_id"] == second.run_id
    assert lake.reads.scan("shop.streamed_events").num_rows == 12


# -- polars LazyFrames: streamed outputs, lazy inputs --------------------------------------


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every floe read (method and options), in order, while the test runs."""
    from floe.application.reads import ReadService

    calls: list[tuple[str, dict[str, Any]]] = []
    for method in ("scan", "batches"):
        original = getattr(ReadService, method)

        def spy(self: Any, table: Any, *, _m: str = method, _o: Any = original, **kw: Any) -> Any:
            calls.append((_m, {"table": str(table), **kw}))
            return _o(self, table, **kw)

        monkeypatch.setattr(ReadService, method, spy)
    return calls


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Table and kind of data of each floe write (a reader streams, a table does not)."""
    from floe.application.writes import WriteService

    kinds: list[str] = []
    original = WriteService.write

    def spy(self: Any, table: Any, data: Any, **kw: Any) -> Any:
        kinds.append(f"{table} {type(data).__name__}")
        return original(self, table, data, **kw)

    monkeypatch.setattr(WriteService, "write", spy)
    return kinds


def test_a_lazyframe_output_streams_in_append_mode_and_is_collected_otherwise(
    tmp_path: Path, written: list[str]
) -> None:
    pl = pytest.importorskip("polars")

    @dg.asset(key_prefix=["lazy"], metadata=APPEND)
    def doubled() -> pl.LazyFrame:
        base = pl.LazyFrame({"id": list(range(5)), "kind": ["a", "b", "a", "c", None]})
        return base.with_columns(twice=pl.col("id") * 2).filter(pl.col("id") != 3)

    @dg.asset(key_prefix=["lazy"], metadata={"floe/write_mode": "overwrite"})
    def replaced() -> pl.LazyFrame:
        return pl.LazyFrame({"id": [1, 2]}).select(pl.col("id") + 10)

    manager = IcebergIOManager(catalog=_local(tmp_path))
    for _ in range(2):
        assert dg.materialize([doubled, replaced], resources={"io_manager": manager}).success

    lake = _lake(tmp_path)
    rows = sorted(lake.reads.scan("lazy.doubled").to_pylist(), key=lambda r: r["id"])
    expected = [{"id": i, "kind": k, "twice": 2 * i} for i, k in [(0, "a"), (1, "b"), (2, "a")]]
    assert rows == sorted(
        [*expected, {"id": 4, "kind": None, "twice": 8}] * 2, key=lambda r: r["id"]
    )
    assert [s.summary["added-records"] for s in _appends(lake, "lazy.doubled")] == ["4", "4"]
    assert lake.reads.scan("lazy.replaced").to_pylist() == [{"id": 11}, {"id": 12}]
    # Each append was handed over as a stream; the overwrites were collected first.
    assert written.count("lazy.doubled RecordBatchReader") == 2
    assert [w for w in written if w.startswith("lazy.replaced")] == ["lazy.replaced Table"] * 2


def test_a_failing_lazyframe_output_is_a_write_error_and_writes_nothing(tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")

    @dg.asset(key_prefix=["lazy"])
    def broken() -> pl.LazyFrame:
        return pl.LazyFrame({"s": ["1", "x"]}).select(pl.col("s").cast(pl.Int64, strict=True))

    result = dg.materialize(
        [broken],
        resources={"io_manager": IcebergIOManager(catalog=_local(tmp_path))},
        raise_on_error=False,
    )

    assert not result.success
    failure = result.failure_data_for_node("lazy__broken")
    assert failure is not None
    assert "WriteError" in str(failure.error)
    assert not _lake(tmp_path).tables.exists("lazy.broken")


def test_a_lazyframe_input_reads_nothing_until_collected_and_only_what_it_needs(
    tmp_path: Path, reads: list[tuple[str, dict[str, Any]]]
) -> None:
    pl = pytest.importorskip("polars")
    seen: dict[str, Any] = {}

    @dg.asset(key_prefix=["lazy"])
    def sales() -> pa.Table:
        return pa.table(
            {
                "id": [1, 2, 3, 4, 5],
                "region": ["eu", "us", "eu", "eu", "us"],
                "amount": [10.0, 20.0, 1.0, 5.5, 7.25],
                "note": ["a", "b", "c", "d", "e"],
            }
        )

    @dg.asset(
        key_prefix=["lazy"],
        ins={
            "sales": dg.AssetIn(
                key_prefix=["lazy"],
                metadata={"columns": ["id", "region", "amount"], "row_filter": "region = 'eu'"},
            )
        },
    )
    def big_eu(sales: pl.LazyFrame) -> pa.Table:
        seen["type"] = type(sales).__name__
        seen["before"] = list(reads)
        ids = sales.filter((pl.col("amount") > 2) & (pl.col("id") >= 2)).select("id").collect()
        seen["collect"] = list(reads)
        first = sales.head(1).collect()
        seen["head"] = list(reads)
        seen["first"] = first.to_dicts()
        return pa.table({"id": ids["id"].to_list()})

    manager = IcebergIOManager(catalog=_local(tmp_path))
    assert dg.materialize([sales, big_eu], resources={"io_manager": manager}).success

    assert seen["type"] == "LazyFrame"
    assert seen["before"] == []  # loading the input read no rows
    ((method, options),) = seen["collect"]
    assert method == "batches"
    assert sorted(options["columns"]) == ["amount", "id"]  # not region, not note
    # The input's filter and the part of polars' filter floe can evaluate exactly
    # (not the float comparison: polars orders NaN above every number).
    assert options["row_filter"] == And(EqualTo("region", "eu"), GreaterThanOrEqual("id", 2))
    assert options["limit"] is None
    assert options["snapshot_id"] == _lake(tmp_path).snapshots.current("lazy.sales").snapshot_id
    _, head = seen["head"][-1]
    assert head["limit"] == 1
    assert list(head["columns"]) == ["id", "region", "amount"]  # the input's columns
    assert seen["first"] == [{"id": 1, "region": "eu", "amount": 10.0}]
    assert _lake(tmp_path).reads.scan("lazy.big_eu")["id"].to_pylist() == [4]


def test_a_lazyframe_input_reads_the_snapshot_of_its_load(tmp_path: Path) -> None:
    pl = pytest.importorskip("polars")
    manager = IcebergIOManager(catalog={"type": "memory"}, write_mode="append")
    for run, ids in (("r1", [1, 2]), ("r2", [3])):
        with dg.build_output_context(asset_key=["events"], run_id=run, step_key="s") as context:
            manager.handle_output(context, pa.table({"id": ids}))
    lazy_type = dg.DagsterType(lambda _, v: True, name="lf", typing_type=pl.LazyFrame)
    with dg.build_input_context(asset_key=["events"], dagster_type=lazy_type) as context:
        frame = manager.load_input(context)
    manager.lake.writes.append("default.events", pa.table({"id": [9]}))

    assert sorted(frame.collect()["id"].to_list()) == [1, 2, 3]
    assert manager.lake.reads.scan("default.events").num_rows == 4
    with (
        dg.build_input_context(
            asset_key=["events"], dagster_type=lazy_type, definition_metadata={"columns": ["nope"]}
        ) as context,
        pytest.raises(floe.InvalidScanError),
    ):
        manager.load_input(context)
    with dg.build_input_context(
        asset_key=["events"], dagster_type=lazy_type, definition_metadata={"row_filter": "x = 1"}
    ) as context:
        broken = manager.load_input(context)
    with pytest.raises(floe.InvalidFilterError):
        broken.collect()


def test_a_lazyframe_input_of_a_table_without_rows_stays_empty() -> None:
    pl = pytest.importorskip("polars")
    manager = IcebergIOManager(catalog={"type": "memory"})
    manager.lake.namespaces.create("empty")
    manager.lake.tables.create("empty.t", pa.schema([("id", pa.int64()), ("s", pa.string())]))
    lazy_type = dg.DagsterType(lambda _, v: True, name="lf", typing_type=pl.LazyFrame)
    with dg.build_input_context(asset_key=["empty", "t"], dagster_type=lazy_type) as context:
        frame = manager.load_input(context)
    manager.lake.writes.append("empty.t", pa.table({"id": [1], "s": ["later"]}))

    assert frame.collect().to_dicts() == []
    assert frame.select("s").collect().columns == ["s"]
    assert frame.collect_schema().names() == ["id", "s"]
