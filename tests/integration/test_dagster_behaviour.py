"""The IO manager behaves as the Dagster integrations data engineers already use.

Real runs (``dg.materialize``) on an on-disk Dagster instance over the
embedded local catalog: an asset's materialization replaces its table, the
metadata speaks Dagster's keys, the partition column is inferred from the
spec, inputs come per partition or as ``None``, and floe's events land in
the run's event log.
"""

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
import structlog

import floe
from floe.adapters.dagster import IcebergIOManager

README = Path(__file__).resolve().parents[2] / "README.md"
DAILY = dg.DailyPartitionsDefinition(start_date="2024-05-01", end_date="2024-05-04")
REGIONS = dg.StaticPartitionsDefinition(["eu", "us"])


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose runs and event logs are stored on disk."""
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The local catalog, also as the ``FLOE_CATALOG_*`` variables the README reads."""
    path = str(tmp_path / "warehouse")
    monkeypatch.setenv("FLOE_CATALOG_TYPE", "local")
    monkeypatch.setenv("FLOE_CATALOG_WAREHOUSE_PATH", path)
    return {"type": "local", "warehouse_path": path}


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.materialization
        key = materialization.asset_key.to_user_string()
        found[key] = {k: v.value for k, v in materialization.metadata.items()}
    return found


def _readme_snippet() -> dict[str, Any]:
    """The README's Dagster example, executed as a module (not as ``__main__``)."""
    section = README.read_text().split("## Dagster\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    namespace: dict[str, Any] = {"__name__": "readme_snippet"}
    exec(compile(match.group(1), str(README), "exec"), namespace)
    return namespace


# -- 1. an asset is its table: materializing again replaces it ---------------------------


def test_the_readme_snippet_run_twice_keeps_its_tables(
    warehouse: dict[str, str], instance: dg.DagsterInstance
) -> None:
    readme = _readme_snippet()
    unpartitioned = [readme["orders"], readme["order_total"]]
    resources = {"io_manager": readme["io_manager"]}

    runs = [dg.materialize(unpartitioned, instance=instance, resources=resources) for _ in range(2)]
    lake = floe.Floe.from_config(warehouse)
    assert lake.reads.scan("shop.orders").num_rows == 3
    assert lake.reads.scan("shop.order_total").to_pylist() == [{"total": 15.0}]
    day = dg.materialize(
        [readme["orders"], readme["daily_orders"]],
        selection=[readme["daily_orders"]],
        partition_key="2024-05-02",
        instance=instance,
        resources=resources,
    )

    assert all(run.success for run in [*runs, day])
    assert [s.operation for s in lake.snapshots.list("shop.orders")][1:] == ["overwrite"]
    meta = _metadata(runs[1])
    assert meta["shop/orders"]["floe/write_mode"] == "overwrite"
    assert meta["shop/orders"]["dagster/row_count"] == 3
    assert meta["shop/order_total"]["dagster/row_count"] == 1
    assert sorted(lake.reads.scan("shop.daily_orders")["amount"].to_pylist()) == [5.0, 8.0]
    assert [str(t) for t in lake.tables.load("shop.daily_orders").partition_spec] == ["day(day)"]


@dg.asset(metadata={"floe/write_mode": "append"})
def journal() -> pa.Table:
    return pa.table({"entry": [1, 2]})


def test_append_stays_available_per_asset(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    resources = {"io_manager": IcebergIOManager(catalog=catalog)}

    for _ in range(2):
        assert dg.materialize([journal], instance=instance, resources=resources).success

    lake = floe.Floe.from_config(catalog)
    assert lake.reads.scan("default.journal").num_rows == 4
    assert [s.operation for s in lake.snapshots.list("default.journal")] == ["append", "append"]


# -- 2. Dagster's metadata keys ---------------------------------------------------------


@dg.asset(
    key_prefix=["crm"],
    partitions_def=REGIONS,
    metadata={
        "floe/write_mode": "upsert",
        "floe/join_columns": ["id"],
        "floe/partition_spec": ["region"],
        "floe/partition_column": "region",
    },
)
def customers(context: dg.AssetExecutionContext) -> pa.Table:
    region = context.partition_key
    ids = {"eu": [1, 2], "us": [10, 11, 12]}[region]
    if context.run.tags.get("round") == "2":
        ids = [2, 3] if region == "eu" else ids
    return pa.table({"id": ids, "region": [region] * len(ids)})


def test_row_counts_are_the_tables_and_the_partitions_and_the_written_rows(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    resources = {"io_manager": IcebergIOManager(catalog=catalog)}
    for region in ("eu", "us"):
        dg.materialize([customers], partition_key=region, instance=instance, resources=resources)

    again = dg.materialize(
        [customers], partition_key="eu", instance=instance, resources=resources, tags={"round": "2"}
    )

    meta = _metadata(again)["crm/customers"]
    lake = floe.Floe.from_config(catalog)
    info = lake.tables.load("crm.customers")
    assert meta["floe/rows_written"] == 2  # ids 2 and 3
    assert meta["dagster/partition_row_count"] == 3  # eu now holds ids 1, 2, 3
    assert meta["dagster/row_count"] == 6  # and us its 3
    assert meta["floe/partition"] == "eu"
    assert meta["dagster/table_name"] == "crm.customers"
    assert meta["dagster/relation_identifier"] == "floe.crm.customers"  # the catalog's name
    assert meta["dagster/uri"] == info.location
    assert meta["floe/snapshot_id"] == info.current_snapshot_id


# -- 3. the partition column follows from the spec --------------------------------------


@dg.asset(partitions_def=DAILY, metadata={"floe/partition_spec": ["day(ts)", "bucket[4](id)"]})
def visits(context: dg.AssetExecutionContext) -> pa.Table:
    start = context.partition_time_window.start.replace(tzinfo=None)
    return pa.table({"id": [1, 2], "ts": [start, start]})


@dg.asset(partitions_def=REGIONS, metadata={"floe/partition_spec": ["region", "bucket[4](id)"]})
def shops(context: dg.AssetExecutionContext) -> pa.Table:
    return pa.table({"id": [1], "region": [context.partition_key]})


@dg.asset(partitions_def=DAILY, metadata={"floe/partition_spec": ["day(ts)", "month(seen)"]})
def ambiguous(context: dg.AssetExecutionContext) -> pa.Table:
    start = context.partition_time_window.start.replace(tzinfo=None)
    return pa.table({"ts": [start], "seen": [start]})


def test_the_partition_column_is_inferred_from_an_unambiguous_spec(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    resources = {"io_manager": IcebergIOManager(catalog=catalog)}

    for day in ("2024-05-01", "2024-05-02", "2024-05-01"):
        run = dg.materialize([visits], partition_key=day, instance=instance, resources=resources)
        assert run.success
    for region in ("eu", "us", "eu"):
        run = dg.materialize([shops], partition_key=region, instance=instance, resources=resources)
        assert run.success
    failed = dg.materialize(
        [ambiguous],
        partition_key="2024-05-01",
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )

    lake = floe.Floe.from_config(catalog)
    assert lake.reads.scan("default.visits").num_rows == 4  # 2024-05-01 was replaced
    assert sorted(lake.reads.scan("default.shops")["region"].to_pylist()) == ["eu", "us"]
    assert not failed.success
    error = failed.failure_data_for_node("ambiguous")
    assert error is not None
    assert "InvalidConfigError" in str(error.error)
    assert "several columns" in str(error.error)
    assert "ts, seen" in str(error.error)
    assert not lake.tables.exists("default.ambiguous")


# -- 4. inputs per partition, and of a table that does not exist -------------------------


@dg.asset(partitions_def=DAILY, metadata={"floe/partition_spec": ["day(ts)"]})
def readings(context: dg.AssetExecutionContext) -> pa.Table:
    start = context.partition_time_window.start.replace(tzinfo=None)
    count = int(context.partition_key[-1])  # 1, 2, 3 rows on the 1st, 2nd, 3rd
    return pa.table({"ts": [start] * count, "day": [context.partition_key] * count})


SEEN: dict[str, Any] = {}


@dg.asset
def per_day(readings: dict[str, pa.Table]) -> pa.Table:
    SEEN["arrow"] = {key: table.num_rows for key, table in readings.items()}
    SEEN["days"] = {key: set(table["day"].to_pylist()) for key, table in readings.items()}
    return pa.table({"day": list(readings), "rows": [t.num_rows for t in readings.values()]})


@dg.asset(
    partitions_def=DAILY,
    ins={
        "readings": dg.AssetIn(
            partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1, end_offset=0)
        )
    },
)
def two_days(context: dg.AssetExecutionContext, readings: dict[str, pd.DataFrame]) -> pa.Table:
    SEEN[context.partition_key] = {key: len(frame) for key, frame in readings.items()}
    SEEN["pandas"] = all(isinstance(frame, pd.DataFrame) for frame in readings.values())
    return pa.table({"ts": [context.partition_time_window.start.replace(tzinfo=None)]})


never = dg.AssetSpec("never_written")


@dg.asset(ins={"never_written": dg.AssetIn()})
def maybe(never_written: pa.Table | None) -> pa.Table:
    SEEN["maybe"] = never_written
    return pa.table({"missing": [never_written is None]})


@dg.asset(ins={"never_written": dg.AssetIn()})
def surely(never_written: pa.Table) -> pa.Table:
    return never_written


def test_inputs_of_several_partitions_come_as_a_dict_keyed_by_partition(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    resources = {"io_manager": IcebergIOManager(catalog=catalog, partition_column="ts")}
    for day in DAILY.get_partition_keys():
        dg.materialize([readings], partition_key=day, instance=instance, resources=resources)
    SEEN.clear()

    whole = dg.materialize(
        [readings, per_day], selection=[per_day], instance=instance, resources=resources
    )
    window = dg.materialize(
        [readings, two_days],
        selection=[two_days],
        partition_key="2024-05-03",
        instance=instance,
        resources=resources,
    )

    assert (whole.success, window.success) == (True, True)
    assert SEEN["arrow"] == {"2024-05-01": 1, "2024-05-02": 2, "2024-05-03": 3}
    assert SEEN["days"] == {day: {day} for day in DAILY.get_partition_keys()}
    assert SEEN["2024-05-03"] == {"2024-05-02": 2, "2024-05-03": 3}
    assert SEEN["pandas"] is True


def test_a_dict_input_of_an_unpartitioned_table_is_a_config_error() -> None:
    manager = IcebergIOManager(catalog={"type": "memory"})
    with dg.build_output_context(asset_key=["flat"]) as context:
        manager.handle_output(context, pa.table({"id": [1]}))
    by_partition = dg.DagsterType(lambda _, v: True, name="d", typing_type=dict[str, pa.Table])

    with (
        dg.build_input_context(asset_key=["flat"], dagster_type=by_partition) as context,
        pytest.raises(floe.InvalidConfigError, match=r"dict of partitions.*default\.flat"),
    ):
        manager.load_input(context)


def test_an_optional_input_of_a_missing_table_is_none(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    resources = {"io_manager": IcebergIOManager(catalog=catalog)}
    SEEN.clear()

    optional = dg.materialize([never, maybe], instance=instance, resources=resources)
    required = dg.materialize(
        [never, surely], instance=instance, resources=resources, raise_on_error=False
    )

    assert optional.success
    assert SEEN["maybe"] is None
    assert not required.success
    failure = required.failure_data_for_node("surely")
    assert failure is not None
    assert "TableNotFoundError" in str(failure.error)


# -- 5. floe's events go to the run's log, not to stdout --------------------------------


@pytest.fixture
def stdlib_logging() -> Iterator[None]:
    """floe's events on the stdlib logger ``floe``, as when the application has not
    configured structlog (another test may have left structlog configured)."""
    configured, saved = structlog.is_configured(), structlog.get_config()
    structlog.reset_defaults()
    yield
    if configured:
        structlog.configure(**saved)


@dg.asset(key_prefix=["logs"])
def logged() -> pa.Table:
    return pa.table({"id": [1, 2, 3]})


@dg.asset(key_prefix=["logs"])
def logged_downstream(logged: pa.Table) -> pa.Table:
    return logged


@pytest.mark.usefixtures("stdlib_logging")
def test_floe_events_go_to_the_run_log_at_debug_and_not_to_stdout(
    tmp_path: Path, instance: dg.DagsterInstance, capfd: pytest.CaptureFixture[str]
) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    floe_logger = logging.getLogger("floe")
    seen_by_the_application: list[logging.LogRecord] = []
    application_handler = logging.Handler()
    application_handler.emit = seen_by_the_application.append  # type: ignore[method-assign]
    floe_logger.addHandler(application_handler)
    level, filters = floe_logger.level, list(floe_logger.filters)
    try:
        result = dg.materialize(
            [logged, logged_downstream],
            instance=instance,
            resources={"io_manager": IcebergIOManager(catalog=catalog)},
        )
    finally:
        floe_logger.removeHandler(application_handler)

    assert result.success
    records = [
        entry
        for entry in instance.all_logs(result.run_id)
        if entry.user_message.startswith("event=floe.operation")
    ]
    by_step = {(entry.step_key, entry.level) for entry in records}
    assert ("logs__logged", logging.DEBUG) in by_step
    assert ("logs__logged_downstream", logging.DEBUG) in by_step
    messages = [entry.user_message for entry in records]
    assert any('operation="create table with data" subject=logs.logged' in m for m in messages)
    assert any('operation="load table" subject=logs.logged ' in m for m in messages)
    assert "floe.operation" not in capfd.readouterr().out
    # The application's own view of the `floe` logger is as it was: silent below WARNING.
    assert [r for r in seen_by_the_application if r.levelno < logging.WARNING] == []
    assert (floe_logger.level, floe_logger.filters) == (level, filters)


# -- 13. a write is planned from one load of the table -----------------------------------


@pytest.fixture
def service_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every table load and snapshot lookup floe's services do while the test runs."""
    from floe.application.snapshots import SnapshotService
    from floe.application.tables import TableService

    calls: list[str] = []
    methods = ((TableService, "load"), (SnapshotService, "list"), (SnapshotService, "get"))
    for owner, method in methods:
        original = getattr(owner, method)

        def spy(self: Any, *args: Any, _o: Any = original, _n: str = method, **kw: Any) -> Any:
            calls.append(_n)
            return _o(self, *args, **kw)

        monkeypatch.setattr(owner, method, spy)
    return calls


@dg.asset(key_prefix=["plan"], metadata={"floe/write_mode": "append"})
def appended() -> pa.Table:
    return pa.table({"id": [1, 2]})


@dg.asset(key_prefix=["plan"])
def replaced() -> pa.Table:
    return pa.table({"id": [1, 2]})


def test_a_write_to_an_existing_table_loads_it_once(
    tmp_path: Path, instance: dg.DagsterInstance, service_calls: list[str]
) -> None:
    catalog = {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    resources = {"io_manager": IcebergIOManager(catalog=catalog)}
    assets = [appended, replaced]
    dg.materialize(assets, instance=instance, resources=resources)
    counts, reported = [], {}

    for asset in assets:
        service_calls.clear()
        result = dg.materialize([asset], instance=instance, resources=resources)
        counts.append(sorted(service_calls))
        assert result.success
        reported.update(_metadata(result))

    # The append also reads the snapshots once, to find an earlier attempt of its step;
    # the row counts reported come from what the write and that read already know.
    assert counts == [["list", "load"], ["load"]]
    assert reported["plan/appended"]["dagster/row_count"] == 4
    assert reported["plan/appended"]["floe/rows_written"] == 2
    assert reported["plan/replaced"]["dagster/row_count"] == 2
    lake = floe.Floe.from_config(catalog)
    assert lake.reads.scan("plan.appended").num_rows == 4
    assert lake.reads.scan("plan.replaced").num_rows == 2
