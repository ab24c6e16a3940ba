"""Ray Data hand-offs: datasets with a scan's rows, distributed appends and replaces."""

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


def test_a_dataset_needs_a_column(lake: floe.Floe, sales: floe.TableIdentifier) -> None:
    assert lake.reads.scan(sales, columns=[]).num_rows == 90  # rows without columns

    # Ray Data holds no rows without columns: refused, naming the table.
    with pytest.raises(floe.InvalidScanError, match=str(sales)):
        lake.reads.to_ray(sales, columns=[])


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
    with_new_column = _rows(range(10)).append_column("note", pa.array(["n"] * 10))

    with pytest.raises(floe.WriteError):
        lake.writes.append_distributed(
            table, ray.data.from_arrow(with_new_column), allow_schema_evolution=True
        )

    assert lake.snapshots.list(table) == []
    assert lake.tables.load(table).schema.names == SCHEMA.names  # no schema change alone
    assert _unreferenced_data_files(lake, table) == []


def test_a_replacing_dataset_is_one_overwrite_snapshot_holding_exactly_its_rows(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    snapshots = len(lake.snapshots.list(sales))
    incoming = _rows(range(100, 160))
    dataset = ray.data.from_arrow(incoming).repartition(3)

    result = lake.writes.overwrite_distributed(sales, dataset, snapshot_properties={"job": "ray"})

    history = lake.snapshots.list(sales)
    assert len(history) == snapshots + 1
    assert history[-1].snapshot_id == result.snapshot_id
    assert history[-1].operation == "overwrite"
    assert history[-1].summary["job"] == "ray"
    assert history[-1].summary["deleted-records"] == "90"
    assert history[-1].summary["added-records"] == "60"
    assert result.mode is floe.WriteMode.OVERWRITE
    assert (result.rows_written, result.rows_added, result.rows_deleted) == (60, 60, 90)
    assert _normal(lake.reads.scan(sales)) == _normal(incoming)
    assert sum(f.record_count for f in lake.tables.files(sales)) == 60  # no old file is live
    pruned = lake.reads.scan(sales, row_filter="region = 'us'")
    assert sorted(pruned.column("id").to_pylist()) == [
        i for i in range(100, 160) if i % 3 == 0 and i % 2
    ]
    # The older rows are still there to travel back to.
    assert lake.reads.scan(sales, snapshot_id=history[-2].snapshot_id).num_rows == 90


def test_a_replace_that_fails_for_good_leaves_the_table_and_its_files_as_they_were(
    lake: floe.Floe, flaky: Any, tmp_path: Path
) -> None:
    armed = tmp_path / "armed"
    table = flaky(f"after:{armed}")  # data file writes fail once "armed" exists
    lake.writes.append(table, _rows(range(20)))
    rows, snapshots, files = (
        lake.reads.scan(table),
        lake.snapshots.list(table),
        lake.tables.files(table),
    )
    armed.mkdir()
    with_new_column = _rows(range(50, 80)).append_column("note", pa.array(["n"] * 30))

    with pytest.raises(floe.WriteError, match=str(table)):
        lake.writes.overwrite_distributed(
            table,
            ray.data.from_arrow(with_new_column).repartition(2),
            allow_schema_evolution=True,
        )

    assert lake.snapshots.list(table) == snapshots
    assert lake.tables.load(table).schema.names == SCHEMA.names  # no schema change alone
    assert lake.tables.files(table) == files
    assert _normal(lake.reads.scan(table)) == _normal(rows)
    assert _unreferenced_data_files(lake, table) == []  # the job's files were deleted


@pytest.fixture
def narrow(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    """A table of int and float columns, one of them required, with a row."""
    table = floe.TableIdentifier(ns, "narrow")
    schema = pa.schema(
        [pa.field("id", pa.int32(), nullable=False), ("score", pa.float32()), ("tag", pa.string())]
    )
    lake.tables.create(table, schema, ["identity(tag)"])
    lake.writes.append(table, pa.table({"id": [1], "score": [0.5], "tag": ["a"]}, schema=schema))
    return table


def _blocks(*parts: pa.Table) -> Any:
    """A dataset whose blocks are ``parts``, each with its own schema."""
    return ray.data.from_arrow(list(parts))


def test_a_dataset_evolves_the_schema_as_an_append_does_in_the_same_one_commit(
    lake: floe.Floe, narrow: floe.TableIdentifier
) -> None:
    snapshots = len(lake.snapshots.list(narrow))
    # Columns in another order, one widened (int→long), one new, one block
    # without the optional "score" and with the new column at another place.
    first = pa.table(
        {
            "note": ["x", "y"],
            "tag": ["a", "b"],
            "id": pa.array([2, 3], pa.int64()),
            "score": pa.array([1.5, None], pa.float64()),
        }
    )
    second = pa.table({"id": pa.array([4], pa.int64()), "tag": ["b"], "note": ["z"]})

    result = lake.writes.append_distributed(
        narrow, _blocks(first, second), allow_schema_evolution=True
    )

    history = lake.snapshots.list(narrow)
    assert len(history) == snapshots + 1  # schema change and files: one commit
    assert history[-1].snapshot_id == result.snapshot_id
    assert result.rows_written == 3
    assert "note" in result.schema_change
    schema = lake.tables.load(narrow).schema
    assert schema.names == ["id", "score", "tag", "note"]
    assert schema.field("id").type == pa.int64()
    assert schema.field("score").type == pa.float64()
    rows = sorted(lake.reads.scan(narrow).to_pylist(), key=lambda r: r["id"])
    assert rows == [
        {"id": 1, "score": 0.5, "tag": "a", "note": None},
        {"id": 2, "score": 1.5, "tag": "a", "note": "x"},
        {"id": 3, "score": None, "tag": "b", "note": "y"},
        {"id": 4, "score": None, "tag": "b", "note": "z"},
    ]


def test_a_dataset_is_refused_where_an_append_is_and_nothing_changes(
    lake: floe.Floe, narrow: floe.TableIdentifier
) -> None:
    snapshots = lake.snapshots.list(narrow)
    schema = lake.tables.load(narrow).schema
    evolving = {"allow_schema_evolution": True}
    wider = pa.table({"id": pa.array([2], pa.int64())})
    cases: list[tuple[tuple[pa.Table, ...], dict[str, Any]]] = [
        ((pa.table({"id": pa.array([2], pa.int32()), "note": ["x"]}),), {}),  # new column
        ((wider,), {}),  # a widening without evolution
        ((pa.table({"id": ["2"]}),), evolving),  # string into int
        ((pa.table({"score": [1.0]}),), evolving),  # the required column missing
        ((wider, pa.table({"id": ["x"]})), evolving),  # blocks agree on no type for "id"
        ((wider, pa.table({"score": [1.0]})), evolving),  # a block lacks the required column
    ]
    for parts, options in cases:
        with pytest.raises(floe.SchemaEvolutionError) as raised:
            lake.writes.append_distributed(narrow, _blocks(*parts), **options)
        assert str(narrow) in str(raised.value), parts
        if len(parts) == 1:  # the same rows are refused by a single-process append
            with pytest.raises(floe.SchemaEvolutionError):
                lake.writes.append(narrow, parts[0], **options)

    assert lake.snapshots.list(narrow) == snapshots
    assert lake.tables.load(narrow).schema == schema


def test_a_replacing_dataset_evolves_the_schema_in_its_one_commit_and_an_empty_one_empties(
    lake: floe.Floe, narrow: floe.TableIdentifier
) -> None:
    snapshots = len(lake.snapshots.list(narrow))
    first = pa.table({"tag": ["b"], "id": pa.array([2], pa.int64()), "note": ["x"]})
    second = pa.table({"id": pa.array([3], pa.int64()), "tag": ["c"], "score": [1.5]})

    result = lake.writes.overwrite_distributed(
        narrow, _blocks(first, second), allow_schema_evolution=True
    )

    assert len(lake.snapshots.list(narrow)) == snapshots + 1
    assert "note" in result.schema_change
    assert result.rows_deleted == 1
    schema = lake.tables.load(narrow).schema
    assert schema.names == ["id", "score", "tag", "note"]
    assert schema.field("id").type == pa.int64()
    rows = sorted(lake.reads.scan(narrow).to_pylist(), key=lambda r: r["id"])
    assert rows == [
        {"id": 2, "score": None, "tag": "b", "note": "x"},
        {"id": 3, "score": 1.5, "tag": "c", "note": None},
    ]

    emptied = lake.writes.overwrite_distributed(narrow, ray.data.from_arrow(first.slice(0, 0)))

    history = lake.snapshots.list(narrow)
    assert len(history) == snapshots + 2
    assert history[-1].snapshot_id == emptied.snapshot_id
    assert history[-1].operation == "overwrite"
    assert (emptied.rows_written, emptied.rows_deleted) == (0, 2)
    assert lake.reads.scan(narrow).num_rows == 0
