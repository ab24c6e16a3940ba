"""Write-audit-publish in real Dagster runs: branch writes, checks on the branch, publish_job."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import floe
from floe.adapters.dagster import IcebergIOManager, publish_job

#: What the ``orders`` asset returns on its next materialization.
SOURCE: dict[str, pa.Table] = {}


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


@dg.asset(
    key_prefix=["shop"],
    check_specs=[dg.AssetCheckSpec("amounts_positive", asset=["shop", "orders"], blocking=True)],
)
def orders() -> Iterator[Any]:
    yield dg.Output(SOURCE["orders"])
    # The check reads what was written, through the IO manager: the branch.
    yield dg.AssetCheckResult(check_name="amounts_positive", passed=True)


@dg.asset(key_prefix=["shop"])
def order_totals(orders: pa.Table) -> pa.Table:
    return pa.table({"total": [pc.sum(orders.column("amount")).as_py()]})


@dg.asset_check(asset=orders, blocking=True)
def no_negative_amounts(orders: pa.Table) -> dg.AssetCheckResult:
    negative = pc.sum(pc.less(orders.column("amount"), 0)).as_py() or 0
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative": negative})


@dg.asset_check(asset=orders)
def not_empty(orders: pa.Table) -> dg.AssetCheckResult:  # not blocking: a warning only
    return dg.AssetCheckResult(passed=orders.num_rows > 0)


def _rows(amounts: list[float]) -> pa.Table:
    return pa.table(
        {
            "id": pa.array(range(1, len(amounts) + 1), pa.int64()),
            "amount": pa.array(amounts, pa.float64()),
        }
    )


def _materialize(
    manager: IcebergIOManager, instance: dg.DagsterInstance, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [orders, order_totals, no_negative_amounts, not_empty],
        resources={"io_manager": manager},
        instance=instance,
        tags=tags,
        raise_on_error=False,
    )


def _publish(
    manager: IcebergIOManager, instance: dg.DagsterInstance, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    job = publish_job([orders, order_totals, no_negative_amounts, not_empty], io_manager=manager)
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def _amounts(lake: floe.Floe, table: str, ref: str | None = None) -> list[float]:
    return sorted(lake.reads.scan(table, ref=ref).column("amount").to_pylist())


def _observed(instance: dg.DagsterInstance, key: list[str]) -> dict[str, Any]:
    records = instance.fetch_observations(dg.AssetKey(key), limit=1).records
    observation = records[0].asset_observation
    assert observation is not None
    return {k: v.value for k, v in observation.metadata.items()}


@pytest.fixture
def manager(tmp_path: Path) -> IcebergIOManager:
    # The core publish semantics run on every adapter in tests/contract; here the
    # Dagster side, over the embedded catalog (a fresh warehouse per test).
    return IcebergIOManager(catalog={"type": "local", "warehouse_path": str(tmp_path / "wh")})


def test_a_failing_blocking_check_blocks_publish_and_a_passing_one_publishes(
    manager: IcebergIOManager, instance: dg.DagsterInstance
) -> None:
    lake = manager.lake
    table = "shop.orders"
    on_dev = {"floe/branch": "dev"}

    # Production: main holds checked data.
    SOURCE["orders"] = _rows([10.0, 20.0])
    assert _materialize(manager, instance).success
    main_before = lake.snapshots.current(table)
    assert main_before is not None

    # A branch run with bad data: written to the branch only; the blocking check,
    # reading the branch, fails; its downstream is not materialized.
    SOURCE["orders"] = _rows([30.0, -5.0])
    bad = _materialize(manager, instance, on_dev)
    assert not bad.success
    evaluations = {e.check_name: e.passed for e in bad.get_asset_check_evaluations()}
    assert evaluations["no_negative_amounts"] is False
    assert _amounts(lake, table, ref="dev") == [-5.0, 30.0]
    assert _amounts(lake, table) == [10.0, 20.0]  # main readers never saw it
    written = bad.asset_materializations_for_node("shop__orders")[0].metadata
    assert written["floe/branch"].value == "dev"

    refused = _publish(manager, instance, on_dev)
    assert not refused.success
    assert "no_negative_amounts" in str(_observed(instance, ["shop", "orders"])["floe/refused"])
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == main_before.snapshot_id
    assert _amounts(lake, table) == [10.0, 20.0]

    # Fixed on the branch: every blocking check passes, publish moves main.
    SOURCE["orders"] = _rows([30.0, 40.0])
    good = _materialize(manager, instance, on_dev)
    assert good.success
    assert _amounts(lake, table) == [10.0, 20.0]  # still unpublished
    totals_on_dev = lake.reads.scan("shop.order_totals", ref="dev").column("total").to_pylist()
    assert totals_on_dev == [70.0]  # the downstream read its upstream from the branch

    published = _publish(manager, instance, on_dev)
    assert published.success, published.all_events
    assert _amounts(lake, table) == [30.0, 40.0]
    assert _observed(instance, ["shop", "orders"])["floe/publish"] == "fast-forward"
    assert lake.reads.scan("shop.order_totals").column("total").to_pylist() == [70.0]


def test_an_input_without_the_branch_is_read_from_main(
    manager: IcebergIOManager, instance: dg.DagsterInstance
) -> None:
    lake = manager.lake
    SOURCE["orders"] = _rows([1.0, 2.0])
    assert _materialize(manager, instance).success

    # Only the downstream runs on the branch: its upstream has no branch yet.
    result = dg.materialize(
        [orders, order_totals],
        selection=[order_totals],
        resources={"io_manager": manager},
        instance=instance,
        tags={"floe/branch": "only-totals"},
    )

    assert result.success
    assert lake.reads.scan("shop.order_totals", ref="only-totals").column("total").to_pylist() == [
        3.0
    ]
    assert [r.name for r in lake.refs.list("shop.orders")] == ["main"]


def test_a_branch_run_of_a_table_without_data_on_main_is_refused(
    manager: IcebergIOManager, instance: dg.DagsterInstance
) -> None:
    SOURCE["orders"] = _rows([1.0])

    result = _materialize(manager, instance, {"floe/branch": "dev"})

    assert not result.success
    assert not manager.lake.tables.exists("shop.orders")
