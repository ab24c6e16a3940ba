"""Ray Data hand-offs: datasets with a scan's rows, distributed appends in one commit."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import floe
from tests.integration.counting_io import FLAKY_IO

ray = pytest.importorskip("ray")

UTC = dt.UTC
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("region", pa.string()),
        ("amount", pa.float64()),
        ("ts", pa.timestamp("us", tz="UTC")),
    ]
)


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One small local Ray for the module (2 CPUs, no dashboard)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def _rows(ids: range) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "region": ["eu" if i % 3 else ("us" if i % 2 else None) for i in ids],
            "amount": [None if i % 7 == 0 else math.nan if i % 5 == 0 else i * 1.5 for i in ids],
            "ts": [dt.datetime(2024, 1, 1 + i % 3, tzinfo=UTC) for i in ids],
        },
        schema=SCHEMA,
    )


def _normal(rows: pa.Table) -> list[str]:
    return sorted(repr(r).replace("nan", "NaN") for r in rows.to_pylist())


@pytest.fixture
def sales(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    table = floe.TableIdentifier(ns, "sales")
    lake.tables.create(table, SCHEMA, ["identity(region)", "day(ts)"])
    for start in (0, 30, 60):
        lake.writes.append(table, _rows(range(start, start + 30)))
    return table


def test_a_dataset_holds_the_rows_of_a_scan(lake: floe.Floe, sales: floe.TableIdentifier) -> None:
    first = lake.snapshots.list(sales)[0].snapshot_id
    lake.refs.create_tag(sales, "first", snapshot_id=first)
    lake.refs.create_branch(sales, "audit")
    lake.writes.append(sales, _rows(range(90, 95)), branch="audit")
    cases: list[dict[str, Any]] = [
        {},
        {"ref": "first"},
        {"ref": "audit", "columns": ["id"]},
        {"row_filter": "region = 'eu' and amount > 20"},
        {"row_filter": "amount != 6.0", "columns": ["amount", "id"]},
        {"columns": ["ts", "region"], "snapshot_id": first},
    ]
    for options in cases:
        dataset = lake.reads.to_ray(sales, **options)
        scanned = lake.reads.scan(sales, **options)
        rows = pa.concat_tables([scanned.schema.empty_table(), *ray.get(dataset.to_arrow_refs())])

        assert rows.schema == scanned.schema, options
        assert _normal(rows) == _normal(scanned), options


def test_an_append_of_a_dataset_is_one_snapshot_of_partitioned_files_with_statistics(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    before = lake.reads.scan(sales)
    snapshots = len(lake.snapshots.list(sales))
    incoming = _rows(range(100, 160))
    dataset = ray.data.from_arrow(incoming).repartition(3)

    result = lake.writes.append_distributed(sales, dataset, snapshot_properties={"job": "ray"})

    history = lake.snapshots.list(sales)
    assert len(history) == snapshots + 1
    assert history[-1].snapshot_id == result.snapshot_id
    assert history[-1].summary["added-records"] == "60"
    assert history[-1].summary["job"] == "ray"
    assert result.rows_written == 60
    after = lake.reads.scan(sales)
    assert _normal(after) == _normal(pa.concat_tables([before, incoming]))
    new = [f for f in lake.tables.files(sales) if f.record_count and f.partition]
    assert sum(f.record_count for f in new) == 150
    assert all(
        f.partition["region"] in ("eu", "us", None) for f in lake.tables.files(sales)
    )  # split by partition, as a single-process append would
    pruned = lake.reads.scan(sales, row_filter="region = 'us' and id >= 100")
    assert sorted(pruned.column("id").to_pylist()) == [
        i for i in range(100, 160) if i % 3 == 0 and i % 2
    ]


def test_a_dataset_that_does_not_fit_commits_nothing(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    snapshots = lake.snapshots.list(sales)
    wrong = ray.data.from_arrow(pa.table({"id": ["not a number"]}))

    with pytest.raises(floe.SchemaEvolutionError):
        lake.writes.append_distributed(sales, wrong)

    assert lake.snapshots.list(sales) == snapshots


@pytest.fixture
def flaky(lake: floe.Floe, ns: tuple[str, ...], tmp_path: Path) -> Any:
    if isinstance(lake.catalog, type(floe.Floe.from_config(floe.MemoryCatalogConfig()).catalog)):
        pytest.skip("the in-memory catalog writes no files")

    def make(mode: str) -> floe.TableIdentifier:
        table = floe.TableIdentifier(ns, "t" + uuid.uuid4().hex[:6])
        properties = {"py-io-impl": FLAKY_IO, "floe-test.fail": mode}
        lake.tables.create(table, SCHEMA, ["identity(region)"], properties=properties)
        return table

    return make


def _unreferenced_data_files(lake: floe.Floe, table: floe.TableIdentifier) -> list[str]:
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    assert found.recent_files == 0
    return [p for p in found.orphan_paths if p.endswith(".parquet")]


def test_a_retried_write_task_is_committed_once(
    lake: floe.Floe, flaky: Any, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    marker.mkdir()
    table = flaky(f"once:{marker}")
    incoming = _rows(range(0, 40))

    lake.writes.append_distributed(table, ray.data.from_arrow(incoming).repartition(2))

    assert (marker / "failed").exists()  # a task did fail after writing, and was retried
    assert _normal(lake.reads.scan(table)) == _normal(incoming)
    assert len(lake.snapshots.list(table)) == 1
    assert _unreferenced_data_files(lake, table) == []  # no file of a failed attempt left


def test_a_job_that_fails_for_good_commits_nothing_and_leaves_no_files(
    lake: floe.Floe, flaky: Any
) -> None:
    table = flaky("always")

    with pytest.raises(floe.WriteError):
        lake.writes.append_distributed(table, ray.data.from_arrow(_rows(range(10))))

    assert lake.snapshots.list(table) == []
    assert _unreferenced_data_files(lake, table) == []
