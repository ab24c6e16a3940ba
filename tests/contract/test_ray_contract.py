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
from tests.contract.test_write_result_contract import assert_reports_the_commit
from tests.integration import ray_cluster
from tests.integration.counting_io import FLAKY_IO, UNPICKLE_COUNTING_IO

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
    """One small local Ray for the module."""
    yield from ray_cluster.local(ray)


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

    def make(mode: str, files: str = "parquet") -> floe.TableIdentifier:
        table = floe.TableIdentifier(ns, "t" + uuid.uuid4().hex[:6])
        properties = {"py-io-impl": FLAKY_IO, "floe-test.fail": mode, "floe-test.fail-files": files}
        lake.tables.create(table, SCHEMA, ["identity(region)"], properties=properties)
        return table

    return make


def _unreferenced_data_files(lake: floe.Floe, table: floe.TableIdentifier) -> list[str]:
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    assert found.recent_files == 0
    return [p for p in found.orphan_paths if p.endswith(".parquet")]


def _unreferenced_files(lake: floe.Floe, table: floe.TableIdentifier) -> list[str]:
    """Every file under the table's location no metadata references (data, manifests, lists)."""
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    assert found.recent_files == 0
    return list(found.orphan_paths)


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


def _writes_files(lake: floe.Floe) -> bool:
    return not isinstance(
        lake.catalog, type(floe.Floe.from_config(floe.MemoryCatalogConfig()).catalog)
    )


def _twins(lake: floe.Floe, ns: tuple[str, ...], name: str) -> list[floe.TableIdentifier]:
    """Two tables holding the same rows in the same files (three appends of 30 rows)."""
    tables = [floe.TableIdentifier(ns, name + suffix) for suffix in ("_ray", "_one")]
    for table in tables:
        lake.tables.create(table, SCHEMA, ["identity(region)", "day(ts)"])
        for start in (0, 30, 60):
            lake.writes.append(table, _rows(range(start, start + 30)))
    return tables


def test_a_filtered_replace_by_a_dataset_replaces_the_rows_an_overwrite_replaces(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    distributed, single = _twins(lake, ns, "filtered")
    # Whole files of region eu (dropped) and files holding ids on both sides
    # of 40 (rewritten keeping their other rows); nulls and NaNs kept.
    where = "region = 'eu' or (id >= 40 and amount > 50)"
    incoming = _rows(range(200, 230)).filter(
        pa.compute.equal(_rows(range(200, 230))["region"], "eu")
    )
    snapshots = len(lake.snapshots.list(distributed))

    result = lake.writes.overwrite_distributed(
        distributed,
        ray.data.from_arrow(incoming).repartition(2),
        row_filter=where,
        snapshot_properties={"job": "ray"},
    )
    expected = lake.writes.overwrite(single, incoming, row_filter=where)

    assert _normal(lake.reads.scan(distributed)) == _normal(lake.reads.scan(single))
    assert 0 < result.rows_deleted == expected.rows_deleted < 90
    assert (result.rows_written, result.rows_added) == (incoming.num_rows, incoming.num_rows)
    history = lake.snapshots.list(distributed)
    assert len(history) == snapshots + 1
    assert history[-1].snapshot_id == result.snapshot_id
    assert history[-1].operation == "overwrite"
    assert history[-1].summary["job"] == "ray"
    # The same files removed and rewritten as by the single-process overwrite.
    assert (
        history[-1].summary["deleted-records"]
        == (lake.snapshots.list(single)[-1].summary["deleted-records"])
    )
    # The rows the filter does not select are all there, written once.
    kept = lake.reads.scan(distributed, row_filter=f"not ({where})")
    assert _normal(kept) == _normal(lake.reads.scan(single, row_filter=f"not ({where})"))
    assert sum(f.record_count for f in lake.tables.files(distributed)) == (
        90 - expected.rows_deleted + incoming.num_rows
    )
    if _writes_files(lake):  # the catalogs with files: none orphaned
        assert _unreferenced_data_files(lake, distributed) == []


def test_a_filtered_replace_with_a_bad_filter_writes_nothing(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    snapshots = lake.snapshots.list(sales)
    dataset = ray.data.from_arrow(_rows(range(100, 110)))
    for bad in ("nope = 1", "region = ", 42):
        with pytest.raises(floe.InvalidFilterError, match=str(sales)):
            lake.writes.overwrite_distributed(sales, dataset, row_filter=bad)
        with pytest.raises(floe.InvalidFilterError):
            lake.writes.overwrite(sales, _rows(range(100, 110)), row_filter=bad)

    assert lake.snapshots.list(sales) == snapshots
    if _writes_files(lake):
        assert _unreferenced_data_files(lake, sales) == []


def test_datasets_written_to_a_branch_move_only_that_branch_and_keep_its_retention(
    lake: floe.Floe, sales: floe.TableIdentifier
) -> None:
    main = lake.reads.scan(sales)
    main_head = lake.refs.get(sales, "main").snapshot_id
    lake.refs.create_branch(sales, "audit", min_snapshots_to_keep=3, max_ref_age_ms=86_400_000)
    lake.refs.create_tag(sales, "v1")
    appended = _rows(range(100, 130))

    added = lake.writes.append_distributed(
        sales, ray.data.from_arrow(appended).repartition(2), branch="audit"
    )
    replaced = lake.writes.overwrite_distributed(
        sales,
        ray.data.from_arrow(_rows(range(300, 303))),
        row_filter="id >= 100 and id < 115",
        branch="audit",
    )

    audit = lake.refs.get(sales, "audit")
    assert audit.snapshot_id == replaced.snapshot_id != added.snapshot_id
    assert (audit.retention.min_snapshots_to_keep, audit.retention.max_ref_age_ms) == (
        3,
        86_400_000,
    )
    assert replaced.rows_deleted == 15
    expected = pa.concat_tables([main, appended.slice(15), _rows(range(300, 303))])
    assert _normal(lake.reads.scan(sales, ref="audit")) == _normal(expected)
    assert lake.refs.get(sales, "main").snapshot_id == main_head  # main untouched
    assert _normal(lake.reads.scan(sales)) == _normal(main)
    snapshots = lake.snapshots.list(sales)
    for branch, error in (("nope", floe.RefNotFoundError), ("v1", floe.InvalidRefError)):
        with pytest.raises(error):
            lake.writes.append_distributed(sales, ray.data.from_arrow(appended), branch=branch)
        with pytest.raises(error):
            lake.writes.overwrite_distributed(sales, ray.data.from_arrow(appended), branch=branch)
        with pytest.raises(error):
            lake.writes.append(sales, appended, branch=branch)
    assert lake.snapshots.list(sales) == snapshots


def test_a_first_write_of_a_dataset_creates_the_table_in_the_same_one_commit(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    new = floe.NewTable(["identity(region)"], {"owner": "etl"})
    first = _rows(range(0, 20))
    # Blocks with different (unifiable) schemas: the table gets the unified one.
    narrower = _rows(range(20, 25)).drop_columns(["amount"])
    appended = floe.TableIdentifier(ns, "born_appended")
    replaced = floe.TableIdentifier(ns, "born_replaced")

    results = [
        lake.writes.append_distributed(appended, _blocks(first, narrower), create_if_missing=new),
        lake.writes.overwrite_distributed(
            replaced, _blocks(first, narrower), row_filter="id < 3", create_if_missing=new
        ),
    ]

    for table, result in zip((appended, replaced), results, strict=True):
        info = lake.tables.load(table)
        assert info.schema.names == SCHEMA.names
        assert [f.source_column for f in info.partition_spec] == ["region"]
        assert info.properties.get("owner") == "etl"
        assert [s.snapshot_id for s in lake.snapshots.list(table)] == [result.snapshot_id]
        assert result.rows_written == 25
        expected = pa.concat_tables([first, narrower], promote_options="default")
        assert _normal(lake.reads.scan(table)) == _normal(expected)
    assert results[1].mode is floe.WriteMode.OVERWRITE
    # A missing table is not created without create_if_missing, nor for a branch.
    for options in ({}, {"create_if_missing": new, "branch": "audit"}):
        with pytest.raises(floe.TableNotFoundError, match="does not exist"):
            lake.writes.append_distributed(
                floe.TableIdentifier(ns, "unborn"), ray.data.from_arrow(first), **options
            )
    assert not lake.tables.exists(floe.TableIdentifier(ns, "unborn"))


def test_a_first_write_of_a_dataset_that_fails_leaves_no_table(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = floe.TableIdentifier(ns, "never_born")

    def broken(batch: pa.Table) -> pa.Table:
        raise ValueError("the pipeline broke")

    failing = ray.data.from_arrow(_rows(range(10))).map_batches(broken, batch_format="pyarrow")
    cases: list[tuple[Any, floe.NewTable, type[Exception]]] = [
        (failing, floe.NewTable(), floe.WriteError),
        (
            ray.data.from_arrow(_rows(range(10))),
            floe.NewTable(["day(region)"]),
            floe.InvalidPartitionSpecError,
        ),
        (
            _blocks(_rows(range(3)), pa.table({"id": ["x"]})),
            floe.NewTable(),
            floe.SchemaEvolutionError,
        ),
    ]
    for dataset, new, error in cases:
        with pytest.raises(error, match=str(table)):
            lake.writes.append_distributed(table, dataset, create_if_missing=new)
        assert not lake.tables.exists(table)
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.writes.overwrite_distributed(
            floe.TableIdentifier((*ns, "nowhere"), "t"),
            ray.data.from_arrow(_rows(range(3))),
            create_if_missing=floe.NewTable(),
        )


def test_a_first_write_whose_job_fails_on_a_worker_leaves_no_table_and_no_files(
    lake: floe.Floe, ns: tuple[str, ...], tmp_path: Path
) -> None:
    table = floe.TableIdentifier(ns, "never_written")
    nanos = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("ns"))])
    # The table takes microseconds; the second block's cast loses nanoseconds
    # and fails on its worker (every retry), after the first block's files.
    whole = pa.table({"id": [1, 2], "ts": pa.array([1000, 2000], pa.timestamp("ns"))})
    lossy = pa.table({"id": [3], "ts": pa.array([3001], pa.timestamp("ns"))}, schema=nanos)

    with pytest.raises(floe.SchemaEvolutionError, match=str(table)):
        lake.writes.append_distributed(
            table, _blocks(whole.cast(nanos), lossy), create_if_missing=floe.NewTable()
        )

    assert not lake.tables.exists(table)
    if _writes_files(lake):
        # The job's files were deleted (the embedded catalog's are on this disk).
        assert list(tmp_path.rglob("never_written*/**/*.parquet")) == []


class _CreatedMeanwhile:
    """A dataset during whose execution another writer creates its table with a row."""

    def __init__(self, lake: floe.Floe, table: floe.TableIdentifier, rows: pa.Table) -> None:
        self._lake, self._table = lake, table
        self._dataset = ray.data.from_arrow(rows).repartition(2)

    def to_arrow_refs(self) -> Any:
        self._lake.writes.append(
            self._table, _rows(range(1000, 1001)), create_if_missing=floe.NewTable()
        )
        return self._dataset.to_arrow_refs()


def test_a_first_write_meeting_a_table_created_meanwhile_appends_to_it(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    table = floe.TableIdentifier(ns, "raced")
    incoming = _rows(range(20))

    result = lake.writes.append_distributed(
        table,
        _CreatedMeanwhile(lake, table, incoming),
        create_if_missing=floe.NewTable(["identity(region)"]),
    )

    # The other writer's table (its spec: none) holds both writes' rows.
    assert lake.tables.load(table).partition_spec == ()
    assert _normal(lake.reads.scan(table)) == _normal(
        pa.concat_tables([_rows(range(1000, 1001)), incoming])
    )
    history = lake.snapshots.list(table)
    assert [s.snapshot_id for s in history][1:] == [result.snapshot_id]
    if _writes_files(lake):
        assert _unreferenced_data_files(lake, table) == []  # the refused creation's files


def test_a_block_refused_for_its_data_is_written_once_and_the_error_names_the_column(
    lake: floe.Floe, ns: tuple[str, ...], tmp_path: Path
) -> None:
    """A data refusal fails the same way on every attempt: Ray does not retry it.

    The table's FileIO leaves a marker each time a worker's write task
    unpickles it, i.e. once per attempt of the task (the in-memory adapter
    writes on no worker: only its error is checked).
    """
    on_workers = not isinstance(
        lake.catalog, type(floe.Floe.from_config(floe.MemoryCatalogConfig()).catalog)
    )
    attempts = tmp_path / "attempts"
    table = floe.TableIdentifier(ns, "required")
    schema = pa.schema([pa.field("id", pa.int64(), nullable=False), ("tag", pa.string())])
    properties = {"py-io-impl": UNPICKLE_COUNTING_IO, "floe-test.unpickled": str(attempts)}
    lake.tables.create(table, schema, properties=properties)
    lake.writes.append(table, pa.table({"id": [1], "tag": ["a"]}, schema=schema))
    snapshots = lake.snapshots.list(table)
    attempts.mkdir()
    # The schema fits (a nullable long for the required long); a value does not.
    holed = pa.table({"id": pa.array([2, None], pa.int64()), "tag": ["b", "c"]})

    with pytest.raises(floe.SchemaEvolutionError) as refused:
        lake.writes.append_distributed(table, ray.data.from_arrow(holed))

    assert str(table) in str(refused.value)
    assert "id" in str(refused.value)
    assert lake.snapshots.list(table) == snapshots
    if on_workers:
        assert len(list(attempts.iterdir())) == 1  # one attempt of the one write task
        assert _unreferenced_data_files(lake, table) == []


@pytest.mark.parametrize("replace", [False, True], ids=["append", "replace"])
def test_a_job_whose_staging_fails_after_the_workers_wrote_leaves_no_file(
    lake: floe.Floe, flaky: Any, tmp_path: Path, replace: bool
) -> None:
    """The driver's manifest cannot be written: the workers' files and the manifest go."""
    armed = tmp_path / "armed"
    table = flaky(f"after:{armed}", files="avro")  # manifests fail once "armed" exists
    lake.writes.append(table, _rows(range(20)))
    rows, snapshots, files = (
        lake.reads.scan(table),
        lake.snapshots.list(table),
        lake.tables.files(table),
    )
    assert _unreferenced_files(lake, table) == []
    armed.mkdir()
    write = lake.writes.overwrite_distributed if replace else lake.writes.append_distributed

    with pytest.raises(floe.WriteError, match=str(table)) as failed:
        write(table, ray.data.from_arrow(_rows(range(50, 80))).repartition(2))

    assert "injected failure" in repr(failed.value.__cause__)
    assert lake.snapshots.list(table) == snapshots
    assert lake.tables.files(table) == files
    assert _normal(lake.reads.scan(table)) == _normal(rows)
    assert _unreferenced_files(lake, table) == []  # no data file, no manifest left


def test_a_distributed_write_reports_the_table_and_snapshot_it_committed(
    lake: floe.Floe, narrow: floe.TableIdentifier
) -> None:
    wider = pa.table({"id": pa.array([5], pa.int32()), "tag": ["b"], "note": ["n"]})

    appended = lake.writes.append_distributed(
        narrow, ray.data.from_arrow(wider), allow_schema_evolution=True
    )

    assert_reports_the_commit(lake, str(narrow), appended)
    assert appended.table_info is not None
    assert "note" in appended.table_info.schema.names
    assert appended.snapshot is not None
    assert appended.snapshot.summary["total-records"] == "2"

    replaced = lake.writes.overwrite_distributed(narrow, ray.data.from_arrow(wider))

    assert_reports_the_commit(lake, str(narrow), replaced)
    assert replaced.snapshot is not None
    assert replaced.snapshot.summary["total-records"] == "1"
    nothing = lake.writes.append_distributed(narrow, ray.data.from_arrow(wider.slice(0, 0)))
    assert (nothing.snapshot_id, nothing.snapshot, nothing.table_info) == (None, None, None)
