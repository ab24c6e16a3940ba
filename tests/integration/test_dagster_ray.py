"""Ray Datasets through the IO manager: inputs planned not read, outputs written by Ray."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from dagster import AssetExecutionContext

from floe.adapters.dagster import IcebergIOManager
from floe.adapters.dagster._lineage import RUN_ID
from tests.integration import ray_cluster
from tests.integration.test_dagster_io_manager import (  # fixtures, imported to be used here
    APPEND,
    DAILY,
    DAYS,
    _appends,
    _lake,
    _local,
    _materializations,
    reads,
)

ray = pytest.importorskip("ray")

__all__ = ["reads"]


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One small local Ray for the module."""
    yield from ray_cluster.local(ray)


@pytest.fixture
def distributed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The distributed writes of WriteService (method, table), in order."""
    from floe.application.writes import WriteService

    calls: list[tuple[str, str]] = []
    for method in ("append_distributed", "overwrite_distributed"):
        original = getattr(WriteService, method)

        def spy(
            self: Any, table: Any, dataset: Any, *, _m: str = method, _o: Any = original, **kw: Any
        ) -> Any:
            calls.append((_m, str(table)))
            return _o(self, table, dataset, **kw)

        monkeypatch.setattr(WriteService, method, spy)
    return calls


def test_a_dataset_input_is_not_read_by_the_io_manager_and_appends_are_distributed(
    tmp_path: Path, reads: list[tuple[str, dict[str, Any]]], distributed: list[tuple[str, str]]
) -> None:
    seen: dict[str, Any] = {}

    @dg.asset(key_prefix=["rayed"])
    def sales() -> pa.Table:
        return pa.table({"id": [1, 2, 3, 4], "amount": [10.0, 20.0, 1.0, 5.5]})

    @dg.asset(
        key_prefix=["rayed"],
        metadata=APPEND,
        ins={"sales": dg.AssetIn(key_prefix=["rayed"], metadata={"row_filter": "amount > 2"})},
    )
    def doubled(sales: ray.data.Dataset) -> ray.data.Dataset:
        seen["reads"] = list(reads)
        seen["runs"] = run = seen.get("runs", 0) + 1
        dataset = sales.map_batches(
            lambda b: b.set_column(1, "amount", pa.compute.multiply(b["amount"], 2)),
            batch_format="pyarrow",
        )
        if run == 1:
            return dataset
        # the second run's rows have a new column: the table evolves (IO manager's default)
        return dataset.map_batches(
            lambda b: b.append_column("run", pa.array([run] * b.num_rows, pa.int64())),
            batch_format="pyarrow",
        )

    manager = IcebergIOManager(catalog=_local(tmp_path))
    for _ in range(2):
        assert dg.materialize([sales, doubled], resources={"io_manager": manager}).success

    assert seen["reads"] == []  # planned by floe, read by Ray
    assert reads == []
    lake = _lake(tmp_path)
    rows = sorted(
        (r["amount"], r["run"] or 0) for r in lake.reads.scan("rayed.doubled").to_pylist()
    )
    assert rows == [(11.0, 0), (11.0, 2), (20.0, 0), (20.0, 2), (40.0, 0), (40.0, 2)]
    # Both runs went through Ray: the first created the table with its rows.
    assert distributed == [("append_distributed", "rayed.doubled")] * 2
    assert [s.summary["added-records"] for s in _appends(lake, "rayed.doubled")] == ["3", "3"]


def test_a_dataset_output_replacing_its_table_is_written_by_the_workers(
    tmp_path: Path, distributed: list[tuple[str, str]]
) -> None:
    runs: list[int] = []

    @dg.asset(key_prefix=["rayed"])  # the IO manager's default: each run replaces the table
    def totals() -> ray.data.Dataset:
        runs.append(run := len(runs) + 1)
        rows = pa.table({"id": list(range(run * 10)), "run": [run] * (run * 10)})
        return ray.data.from_arrow(rows).repartition(2)

    manager = IcebergIOManager(catalog=_local(tmp_path))
    results = [dg.materialize([totals], resources={"io_manager": manager}) for _ in range(3)]

    assert all(r.success for r in results)
    lake = _lake(tmp_path)
    rows = lake.reads.scan("rayed.totals")
    assert sorted(rows.column("id").to_pylist()) == list(range(30))  # the last run's rows only
    assert set(rows.column("run").to_pylist()) == {3}
    # The first run created the table, the others replaced it: all through Ray.
    assert distributed == [("overwrite_distributed", "rayed.totals")] * 3
    history = lake.snapshots.list("rayed.totals")
    assert [s.operation for s in history] == ["append", "overwrite", "overwrite"]
    # Each replacing snapshot carries its run's identity, as a single-process overwrite's does.
    assert [s.summary[RUN_ID] for s in history] == [r.run_id for r in results]
    assert [s.summary["deleted-records"] for s in history[1:]] == ["10", "20"]
    for run, result in enumerate(results, start=1):
        materialized = _materializations(result)["rayed/totals"]
        assert materialized["dagster/row_count"] == run * 10
        assert materialized["floe/snapshot_id"] == history[run - 1].snapshot_id


def test_a_dataset_output_adding_a_partition_field_is_written_by_the_single_process_write(
    tmp_path: Path, distributed: list[tuple[str, str]]
) -> None:
    lake = _lake(tmp_path)
    lake.namespaces.create(("rayed",))
    schema = pa.schema([("id", pa.int64()), ("run", pa.int64())])
    lake.tables.create("rayed.parted", schema)  # unpartitioned
    lake.writes.append("rayed.parted", pa.table({"id": [0], "run": [0]}, schema=schema))
    runs: list[int] = []

    @dg.asset(key_prefix=["rayed"], metadata={"floe/partition_spec": ["identity(run)"]})
    def parted() -> ray.data.Dataset:
        runs.append(run := len(runs) + 1)
        return ray.data.from_arrow(pa.table({"id": [1, 2], "run": [run, run]}, schema=schema))

    manager = IcebergIOManager(catalog=_local(tmp_path))
    assert dg.materialize([parted], resources={"io_manager": manager}).success

    # Ray workers add no partition field: the write that adds it reads the dataset.
    assert distributed == []
    assert [f.source_column for f in lake.tables.load("rayed.parted").partition_spec] == ["run"]
    assert lake.reads.scan("rayed.parted").to_pylist() == [
        {"id": 1, "run": 1},
        {"id": 2, "run": 1},
    ]

    assert dg.materialize([parted], resources={"io_manager": manager}).success

    assert distributed == [("overwrite_distributed", "rayed.parted")]  # the field is there now
    assert sorted(lake.reads.scan("rayed.parted").column("run").to_pylist()) == [2, 2]


VERSION = {"clicks": 1}


@dg.asset(
    key_prefix=["rayed"],
    partitions_def=DAILY,
    metadata={"floe/partition_spec": ["day(ts)"], "floe/partition_column": "ts"},
)
def clicks(context) -> ray.data.Dataset:  # type: ignore[no-untyped-def]  # dagster: no string
    assert isinstance(context, AssetExecutionContext)
    start = context.partition_time_window.start.replace(tzinfo=None)
    hours = [start + dt.timedelta(hours=h) for h in (0, 6, 12, 23)]
    rows = pa.table({"ts": hours, "version": [VERSION["clicks"]] * 4})
    if VERSION["clicks"] < 0:  # a sloppy run: one row of the next day
        rows = pa.table({"ts": [*hours[:3], start + dt.timedelta(days=1)], "version": [0] * 4})
    return ray.data.from_arrow(rows).repartition(2)


def test_a_partitioned_dataset_asset_replaces_only_its_partition_through_the_workers(
    tmp_path: Path, distributed: list[tuple[str, str]]
) -> None:
    manager = IcebergIOManager(catalog=_local(tmp_path))
    VERSION["clicks"] = 1
    for day in DAYS:
        assert dg.materialize(
            [clicks], partition_key=day, resources={"io_manager": manager}
        ).success
    VERSION["clicks"] = 2

    rerun = dg.materialize([clicks], partition_key="2024-05-02", resources={"io_manager": manager})

    assert rerun.success
    lake = _lake(tmp_path)
    rows = lake.reads.scan("rayed.clicks")
    by_day: dict[str, list[int]] = {}
    for ts, version in zip(rows["ts"].to_pylist(), rows["version"].to_pylist(), strict=True):
        by_day.setdefault(ts.date().isoformat(), []).append(version)
    assert by_day == {"2024-05-01": [1] * 4, "2024-05-02": [2] * 4, "2024-05-03": [1] * 4}
    # Every run went through Ray (the first one created the table), one snapshot each.
    assert distributed == [("overwrite_distributed", "rayed.clicks")] * 4
    history = lake.snapshots.list("rayed.clicks")
    assert [s.summary["floe.dagster.partition"] for s in history] == [*DAYS, "2024-05-02"]
    assert history[-1].summary["deleted-records"] == "4"
    assert [str(f) for f in lake.tables.load("rayed.clicks").partition_spec] == ["day(ts)"]
    meta = _materializations(rerun)["rayed/clicks"]
    assert (meta["floe/write_mode"], meta["floe/partition"]) == ("overwrite", "2024-05-02")
    assert (meta["dagster/row_count"], meta["dagster/partition_row_count"]) == (12, 4)

    # Rows outside the partition are refused (checked on the workers) and nothing changes.
    VERSION["clicks"] = -1
    sloppy = dg.materialize(
        [clicks],
        partition_key="2024-05-01",
        resources={"io_manager": manager},
        raise_on_error=False,
    )

    assert not sloppy.success
    failure = sloppy.get_step_failure_events()[0].event_specific_data.error
    assert "of 2 rows written to table rayed.clicks for partition 2024-05-01 lie outside" in str(
        failure.cause
    )
    assert "one block of the Ray dataset" in str(failure.cause)
    assert lake.snapshots.list("rayed.clicks") == history
    # A first write refused so creates no table.
    fresh = IcebergIOManager(catalog=_local(tmp_path / "fresh"))
    first = dg.materialize(
        [clicks], partition_key="2024-05-01", resources={"io_manager": fresh}, raise_on_error=False
    )
    assert not first.success
    refused = first.get_step_failure_events()[0].event_specific_data.error
    assert "lie outside it" in str(refused.cause)
    assert not _lake(tmp_path / "fresh").tables.exists("rayed.clicks")


def test_a_first_materialization_of_a_dataset_creates_its_table_through_the_workers(
    tmp_path: Path, distributed: list[tuple[str, str]]
) -> None:
    rows = pa.table({"id": list(range(10)), "kind": ["a", "b"] * 5})

    @dg.asset(key_prefix=["rayed"], metadata={"floe/partition_spec": ["identity(kind)"]})
    def born() -> ray.data.Dataset:
        return ray.data.from_arrow(rows).repartition(2)

    manager = IcebergIOManager(catalog=_local(tmp_path), table_properties={"owner": "etl"})
    result = dg.materialize([born], resources={"io_manager": manager})

    assert result.success
    assert distributed == [("overwrite_distributed", "rayed.born")]
    lake = _lake(tmp_path)
    info = lake.tables.load("rayed.born")
    assert [f.source_column for f in info.partition_spec] == ["kind"]
    assert info.properties["owner"] == "etl"
    assert sorted(lake.reads.scan("rayed.born").to_pylist(), key=lambda r: r["id"]) == sorted(
        rows.to_pylist(), key=lambda r: r["id"]
    )
    history = lake.snapshots.list("rayed.born")
    assert len(history) == 1
    assert history[0].summary[RUN_ID] == result.run_id
    assert _materializations(result)["rayed/born"]["dagster/row_count"] == 10


def test_a_branch_run_of_a_dataset_asset_writes_the_branch_through_the_workers(
    tmp_path: Path, distributed: list[tuple[str, str]]
) -> None:
    runs: list[int] = []

    @dg.asset(key_prefix=["rayed"])
    def audited() -> ray.data.Dataset:
        runs.append(run := len(runs) + 1)
        return ray.data.from_arrow(pa.table({"id": [run, run + 10], "run": [run, run]}))

    manager = IcebergIOManager(catalog=_local(tmp_path))
    assert dg.materialize([audited], resources={"io_manager": manager}).success
    lake = _lake(tmp_path)
    main_head = lake.refs.get("rayed.audited", "main").snapshot_id

    on_dev = dg.materialize(
        [audited], resources={"io_manager": manager}, tags={"floe/branch": "dev"}
    )

    assert on_dev.success
    assert distributed == [("overwrite_distributed", "rayed.audited")] * 2
    dev = lake.refs.get("rayed.audited", "dev")
    assert dev.snapshot_id != main_head
    assert sorted(lake.reads.scan("rayed.audited", ref="dev").column("run").to_pylist()) == [2, 2]
    assert lake.refs.get("rayed.audited", "main").snapshot_id == main_head  # main untouched
    assert sorted(lake.reads.scan("rayed.audited").column("run").to_pylist()) == [1, 1]
    assert _materializations(on_dev)["rayed/audited"]["floe/branch"] == "dev"
