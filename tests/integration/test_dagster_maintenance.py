"""maintenance_job in real Dagster runs: files really deleted, figures observed on the assets."""

import datetime as dt
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

import floe
from floe.adapters.dagster import (
    ByPolicy,
    Compact,
    ExpireSnapshots,
    Health,
    IcebergIOManager,
    RemoveOrphanFiles,
    maintenance_job,
)
from tests.integration.conftest import PolarisFactory, polaris_config
from tests.integration.seaweed import SeaweedServer

EVERYTHING_OLD = (
    ExpireSnapshots(older_than=None, retain_last=1),
    RemoveOrphanFiles(older_than=dt.timedelta(days=1)),
    Health(),
)


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        yield instance


def _io_manager(tmp_path: Path) -> IcebergIOManager:
    return IcebergIOManager(catalog={"type": "local", "warehouse_path": str(tmp_path / "wh")})


@dg.asset(key_prefix=["shop"])
def orders(context: dg.AssetExecutionContext) -> pa.Table:
    run = context.run.run_id
    return pa.table({"id": [1, 2, 3], "run": [run] * 3})


@dg.asset(metadata={"floe/table": "archive.old_orders"})
def legacy() -> pa.Table:
    return pa.table({"id": [7]})


def _parquet(location: str) -> dict[str, int]:
    """The data files under a table's location, with their sizes."""
    root = Path(location.removeprefix("file://"))
    return {str(p): p.stat().st_size for p in root.rglob("*.parquet")}


def _observations(instance: dg.DagsterInstance, key: dg.AssetKey) -> list[dict[str, Any]]:
    records = instance.fetch_observations(key, limit=10).records
    return [
        {k: v.value for k, v in record.asset_observation.metadata.items()}
        for record in records
        if record.asset_observation is not None
    ]


def _old_orphan(location: str, name: str) -> Path:
    """A file no metadata references, last modified two days ago."""
    orphan = Path(location.removeprefix("file://")) / "data" / name
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"x" * 123)
    two_days_ago = time.time() - 2 * 86400
    os.utime(orphan, (two_days_ago, two_days_ago))
    return orphan


def test_the_job_expires_removes_orphans_and_observes_each_asset(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    io_manager = _io_manager(tmp_path)
    for _ in range(3):  # three overwrites: three snapshots, three data files
        assert dg.materialize(
            [orders, legacy], instance=instance, resources={"io_manager": io_manager}
        ).success
    lake = floe.Floe.from_config(io_manager.catalog)
    location = lake.tables.load("shop.orders").location
    before = _parquet(location)
    orphan = _old_orphan(location, "crashed-write.parquet")
    assert len(lake.snapshots.list("shop.orders")) == 3

    job = maintenance_job([orders, legacy], operations=EVERYTHING_OLD, io_manager=io_manager)
    result = job.execute_in_process(instance=instance)

    assert result.success
    after = _parquet(location)
    assert len(after) == 1
    assert after.items() < before.items()
    assert not orphan.exists()
    assert len(lake.snapshots.list("shop.orders")) == 1
    assert len(lake.snapshots.list("archive.old_orders")) == 1  # floe/table honoured

    seen = _observations(instance, dg.AssetKey(["shop", "orders"]))
    assert len(seen) == 1
    figures = seen[0]
    assert figures["floe/table"] == "shop.orders"
    assert figures["floe/snapshots_expired"] == 2
    assert figures["floe/orphan_files"] == 1
    assert figures["floe/orphan_bytes"] == 123
    assert figures["floe/orphan_files_deleted"] == 1
    assert figures["floe/expired_files_deleted"] >= 4  # 2 data files, 2 manifest lists...
    assert figures["floe/files_deleted"] == figures["floe/expired_files_deleted"] + 1
    assert (
        figures["floe/bytes_freed"]
        == figures["floe/expired_bytes_freed"] + figures["floe/orphan_bytes_freed"]
    )
    assert figures["floe/expired_bytes_freed"] > sum(
        size for path, size in before.items() if path not in after
    )
    assert figures["floe/snapshots"] == 1
    assert figures["floe/data_files"] == 1
    legacy_seen = _observations(instance, dg.AssetKey(["legacy"]))
    assert [o["floe/table"] for o in legacy_seen] == ["archive.old_orders"]
    assert legacy_seen[0]["floe/snapshots_expired"] == 2


def test_a_failing_table_does_not_stop_the_others_and_the_op_names_it(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    io_manager = _io_manager(tmp_path)
    for _ in range(2):
        assert dg.materialize([orders], instance=instance, resources={"io_manager": io_manager})
    job = maintenance_job(
        ["shop/ghost", orders], operations=EVERYTHING_OLD, name="nightly_maintenance"
    )
    # Bound by Definitions, as a project declares its IO manager once.
    defs = dg.Definitions(assets=[orders], jobs=[job], resources={"io_manager": io_manager})

    result = defs.resolve_job_def("nightly_maintenance").execute_in_process(
        instance=instance, raise_on_error=False
    )

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    message = failure.step_failure_data.user_failure_data.description
    assert "1 of 2 tables" in message
    assert "shop/ghost" in message
    assert "TableNotFoundError" in message
    assert "shop.orders" not in message
    lake = floe.Floe.from_config(io_manager.catalog)
    assert len(lake.snapshots.list("shop.orders")) == 1  # maintained after the failure
    (ghost,) = _observations(instance, dg.AssetKey(["shop", "ghost"]))
    assert "TableNotFoundError" in ghost["floe/error"]
    (maintained,) = _observations(instance, dg.AssetKey(["shop", "orders"]))
    assert maintained["floe/snapshots_expired"] == 1
    assert "floe/error" not in maintained


def test_a_dry_run_finds_orphans_and_deletes_nothing(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    io_manager = _io_manager(tmp_path)
    assert dg.materialize([orders], instance=instance, resources={"io_manager": io_manager})
    location = floe.Floe.from_config(io_manager.catalog).tables.load("shop.orders").location
    orphan = _old_orphan(location, "left-behind.parquet")
    job = maintenance_job(
        [dg.AssetKey(["shop", "orders"])],
        operations=[RemoveOrphanFiles(older_than=dt.timedelta(days=1), dry_run=True)],
        io_manager=io_manager,
    )

    assert job.execute_in_process(instance=instance).success

    assert orphan.exists()
    (figures,) = _observations(instance, dg.AssetKey(["shop", "orders"]))
    assert figures["floe/orphan_files"] == 1
    assert figures["floe/orphan_files_deleted"] == 0
    assert figures["floe/bytes_freed"] == 0


@pytest.mark.parametrize(
    ("make", "subject"),
    [
        (lambda: ExpireSnapshots(retain_last=0), "retain_last"),
        (lambda: ExpireSnapshots(older_than=dt.timedelta(days=-1)), "older_than"),
        (lambda: RemoveOrphanFiles(older_than=dt.timedelta(hours=1)), "older_than"),
        (lambda: Health(small_file_bytes=0), "small_file_bytes"),
        (lambda: Compact(target_file_size=0), "target_file_size"),
        (lambda: Compact(min_input_files=1), "min_input_files"),
        (lambda: ByPolicy(target_file_size=-1), "target_file_size"),
        (lambda: maintenance_job([]), "tables"),
        (lambda: maintenance_job([42]), "tables"),  # type: ignore[list-item]
        (lambda: maintenance_job(["a/b"], operations=[]), "operations"),
        (lambda: maintenance_job(["a/b"], operations=["expire"]), "operations"),  # type: ignore[list-item]
    ],
)
def test_bad_definitions_fail_when_the_job_is_defined(make: Any, subject: str) -> None:
    with pytest.raises(floe.InvalidConfigError) as raised:
        make()
    assert raised.value.subject == subject


# -- compaction --------------------------------------------------------------------------------


@dg.asset(key_prefix=["web"], metadata={"floe/write_mode": "append"})
def clicks(context: dg.AssetExecutionContext) -> pa.Table:
    return pa.table({"id": [len(context.run.run_id)], "run": [context.run.run_id]})


def _appended_three_times(tmp_path: Path, instance: dg.DagsterInstance) -> IcebergIOManager:
    io_manager = _io_manager(tmp_path)
    for _ in range(3):  # three appends: three small data files
        assert dg.materialize([clicks], instance=instance, resources={"io_manager": io_manager})
    return io_manager


def test_the_default_job_compacts_small_files_and_observes_what_it_rewrote(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    io_manager = _appended_three_times(tmp_path, instance)
    lake = floe.Floe.from_config(io_manager.catalog)
    small = {f.path.removeprefix("file://"): f.size_bytes for f in lake.tables.files("web.clicks")}
    rows = lake.reads.scan("web.clicks").sort_by("run")
    assert len(small) == 3

    assert maintenance_job([clicks], io_manager=io_manager).execute_in_process(instance=instance)

    (figures,) = _observations(instance, dg.AssetKey(["web", "clicks"]))
    assert figures["floe/files_compacted"] == 3
    assert figures["floe/bytes_rewritten"] == sum(small.values())
    assert figures["floe/compacted_files_written"] == 1
    assert figures["floe/compacted_bytes_written"] > 0
    assert figures["floe/snapshots_expired"] == 0  # the default keeps 5 days
    assert figures["floe/data_files"] == 1  # Health runs after the compaction
    assert [s.operation for s in lake.snapshots.list("web.clicks")] == ["append"] * 3 + ["replace"]
    assert lake.reads.scan("web.clicks").sort_by("run").equals(rows)
    assert small.keys() < _parquet(lake.tables.load("web.clicks").location).keys()


def test_compaction_then_expiry_frees_the_small_files_and_reports_the_bytes(
    tmp_path: Path, instance: dg.DagsterInstance
) -> None:
    io_manager = _appended_three_times(tmp_path, instance)
    lake = floe.Floe.from_config(io_manager.catalog)
    location = lake.tables.load("web.clicks").location
    small = {f.path.removeprefix("file://"): f.size_bytes for f in lake.tables.files("web.clicks")}
    job = maintenance_job(
        [clicks],
        operations=[Compact(), ExpireSnapshots(older_than=None, retain_last=1)],
        io_manager=io_manager,
    )

    assert job.execute_in_process(instance=instance).success

    (figures,) = _observations(instance, dg.AssetKey(["web", "clicks"]))
    assert figures["floe/files_compacted"] == 3
    assert figures["floe/snapshots_expired"] == 3
    assert figures["floe/files_deleted"] == figures["floe/expired_files_deleted"] >= 3
    assert figures["floe/bytes_freed"] >= sum(small.values())
    on_disk = _parquet(location)
    assert len(on_disk) == 1
    assert not small.keys() & on_disk.keys()


# -- over a REST catalog serving Polaris' policies ------------------------------------------


@dg.asset(key_prefix=["remote"])
def events() -> pa.Table:
    return pa.table({"id": [1, 2]})


def test_by_policy_over_polaris_honours_the_tables_policy(
    instance: dg.DagsterInstance, seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0)
    config = polaris_config(seaweed, proxy)
    io_manager = IcebergIOManager(
        catalog={
            "type": "polaris",
            "uri": config.uri,
            "warehouse": config.warehouse,
            "client_id": proxy.client_id,
            "client_secret": proxy.client_secret,
            "properties": dict(config.properties),
        }
    )
    for _ in range(4):
        assert dg.materialize([events], instance=instance, resources={"io_manager": io_manager})
    proxy.attach_policy(
        "remote.events",
        name="keep-two",
        policy_type="system.snapshot-expiry",
        content={"enable": True, "config": {"min_snapshot_to_keep": 2, "max_snapshot_age_days": 0}},
    )
    proxy.attach_policy(
        "remote.events",
        name="as-written",
        policy_type="system.data-compaction",
        content={"enable": False},
        inherited=True,
    )
    job = maintenance_job([events], operations=[ByPolicy(), Health()], io_manager=io_manager)

    assert job.execute_in_process(instance=instance).success

    (figures,) = _observations(instance, dg.AssetKey(["remote", "events"]))
    assert figures["floe/policies"] == "as-written, keep-two"
    assert figures["floe/skipped"] == "compact: policy 'as-written' is disabled"
    assert "floe/files_compacted" not in figures
    assert figures["floe/snapshots_expired"] == 2
    assert figures["floe/snapshots"] == 2
    assert figures["floe/files_deleted"] == figures["floe/expired_files_deleted"] > 0
    assert len(floe.Floe.from_config(config).snapshots.list("remote.events")) == 2
