"""Compaction and manifest rewrite: fewer files, same rows, one replace snapshot, everywhere."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import floe
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake
from tests.contract.test_table_store_contract import DAY1, DAY2, SCHEMA, ids_of, rows


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


@pytest.fixture
def table(lake: MaintLake) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def _small_files(lake: MaintLake, table: floe.TableIdentifier, day1: int, day2: int) -> None:
    """``day1`` one-row appends to the first day, ``day2`` to the second."""
    for i in range(day1):
        lake.floe.writes.append(table, rows([i], DAY1))
    for i in range(day2):
        lake.floe.writes.append(table, rows([100 + i], DAY2))


def _by_partition(lake: MaintLake, table: floe.TableIdentifier) -> dict[str, set[str]]:
    files: dict[str, set[str]] = {}
    for f in lake.floe.tables.files(table):
        label = "/".join(f"{k}={v}" for k, v in f.partition.items())
        files.setdefault(label, set()).add(f.path)
    return files


def _data_stored(lake: MaintLake, table: floe.TableIdentifier) -> set[str]:
    return {p for p in lake.stored(table) if "/data/" in p}


def _sorted(data: pa.Table) -> pa.Table:
    return data.sort_by("id")


D1, D2 = "ts_day=2024-05-01", "ts_day=2024-05-02"


def test_compaction_rewrites_small_files_into_one_replace_snapshot_with_the_same_rows(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _small_files(lake, table, day1=4, day2=3)
    before_rows = lake.floe.reads.scan(table)
    before_snapshot = lake.floe.snapshots.list(table)[-1]

    result = lake.floe.maintenance.compact(table)

    assert result.snapshot_id is not None
    assert not result.dry_run
    assert {p.partition: (p.files_rewritten, p.files_added) for p in result.partitions} == {
        D1: (4, 1),
        D2: (3, 1),
    }
    assert (result.files_rewritten, result.files_added) == (7, 2)
    assert result.bytes_in > 0
    assert result.bytes_out > 0
    assert {k: len(v) for k, v in _by_partition(lake, table).items()} == {D1: 1, D2: 1}
    snapshots = lake.floe.snapshots.list(table)
    replace = snapshots[-1]
    assert (replace.snapshot_id, replace.operation) == (result.snapshot_id, "replace")
    assert replace.parent_id == before_snapshot.snapshot_id
    assert replace.summary["total-records"] == before_snapshot.summary["total-records"] == "7"
    assert replace.summary["added-records"] == replace.summary["deleted-records"] == "7"
    assert replace.summary["deleted-data-files"] == "7"
    assert replace.summary["added-data-files"] == "2"
    assert _sorted(lake.floe.reads.scan(table)).equals(_sorted(before_rows))
    old = lake.floe.reads.scan(table, snapshot_id=before_snapshot.snapshot_id)
    assert _sorted(old).equals(_sorted(before_rows))  # time travel untouched
    health = lake.floe.maintenance.health(table)
    assert health.data_files == 2


def test_partitions_already_compact_are_skipped(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _small_files(lake, table, day1=3, day2=1)
    day2_files = _by_partition(lake, table)[D2]

    result = lake.floe.maintenance.compact(table)

    assert [p.partition for p in result.partitions] == [D1]
    assert result.skipped_compact == (D2,)
    assert _by_partition(lake, table)[D2] == day2_files
    again = lake.floe.maintenance.compact(table)
    assert (again.snapshot_id, again.partitions) == (None, ())
    assert again.skipped_compact == (D1, D2)
    assert lake.floe.snapshots.list(table)[-1].snapshot_id == result.snapshot_id


def test_min_input_files_decides_which_partitions_are_worth_it(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _small_files(lake, table, day1=3, day2=2)

    result = lake.floe.maintenance.compact(table, min_input_files=3)

    assert [p.partition for p in result.partitions] == [D1]
    assert result.skipped_compact == (D2,)


def test_bins_respect_the_target_size(lake: MaintLake, table: floe.TableIdentifier) -> None:
    _small_files(lake, table, day1=4, day2=0)
    sizes = sorted(f.size_bytes for f in lake.floe.tables.files(table))
    # Two files fit a bin, three do not: four small files make two bins.
    target = sizes[-1] + sizes[-2] + sizes[0] - 1
    assert target * 3 // 4 > sizes[-1]  # every file is still small

    result = lake.floe.maintenance.compact(table, target_file_size=target)

    assert result.target_file_size == target
    assert [(p.files_rewritten, p.files_added) for p in result.partitions] == [(4, 2)]
    assert len(lake.floe.tables.files(table)) == 2
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 3]


def test_where_limits_the_partitions_touched(lake: MaintLake, table: floe.TableIdentifier) -> None:
    _small_files(lake, table, day1=3, day2=3)
    day1_files = _by_partition(lake, table)[D1]

    result = lake.floe.maintenance.compact(table, where="ts >= '2024-05-02T00:00:00'")

    assert [p.partition for p in result.partitions] == [D2]
    assert _by_partition(lake, table)[D1] == day1_files
    assert len(_by_partition(lake, table)[D2]) == 1
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 100, 101, 102]


def test_a_dry_run_reports_the_plan_and_changes_nothing(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _small_files(lake, table, day1=3, day2=2)
    snapshots = lake.floe.snapshots.list(table)
    stored = lake.stored(table)

    result = lake.floe.maintenance.compact(table, dry_run=True)

    assert result.dry_run
    assert result.snapshot_id is None
    assert {p.partition: (p.files_rewritten, p.files_added) for p in result.partitions} == {
        D1: (3, 1),
        D2: (2, 1),
    }
    assert result.bytes_in == sum(f.size_bytes for f in lake.floe.tables.files(table))
    assert result.bytes_out == 0
    assert lake.floe.snapshots.list(table) == snapshots
    assert lake.stored(table) == stored


def test_a_table_without_data_compacts_to_nothing(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    result = lake.floe.maintenance.compact(table)
    assert (result.snapshot_id, result.partitions, result.skipped_compact) == (None, (), ())
    assert lake.floe.snapshots.list(table) == []


ALL_TYPES = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("i32", pa.int32()),
        pa.field("f32", pa.float32()),
        pa.field("f64", pa.float64()),
        pa.field("flag", pa.bool_()),
        pa.field("text", pa.string()),
        pa.field("blob", pa.binary()),
        pa.field("day", pa.date32()),
        pa.field("at", pa.timestamp("us")),
        pa.field("at_utc", pa.timestamp("us", tz="UTC")),
        pa.field("price", pa.decimal128(10, 2)),
        pa.field("tags", pa.list_(pa.int64())),
        pa.field("kind", pa.string()),
    ]
)


def _typed_rows(ids: list[int], kind: str) -> pa.Table:
    def val(i: int, v: Any) -> Any:
        return None if i % 3 == 0 else v

    return pa.table(
        {
            "id": ids,
            "i32": [val(i, i) for i in ids],
            "f32": [val(i, i / 4) for i in ids],
            "f64": [val(i, -i * 1.25) for i in ids],
            "flag": [val(i, i % 2 == 0) for i in ids],
            "text": [val(i, f"t{i}é") for i in ids],
            "blob": [val(i, bytes([i % 256, 0])) for i in ids],
            "day": [val(i, dt.date(2024, 1, 1 + i % 28)) for i in ids],
            "at": [val(i, dt.datetime(2024, 1, 1, i % 24)) for i in ids],
            "at_utc": [val(i, dt.datetime(2024, 1, 1, i % 24, tzinfo=dt.UTC)) for i in ids],
            "price": [val(i, decimal.Decimal(f"{i}.25")) for i in ids],
            "tags": [val(i, [i, i + 1]) for i in ids],
            "kind": [kind] * len(ids),
        },
        schema=ALL_TYPES,
    )


def test_rows_of_every_type_and_nulls_survive_compaction(lake: MaintLake) -> None:
    ident = floe.TableIdentifier(fresh_namespace(lake.floe), "typed")
    lake.floe.tables.create(ident, ALL_TYPES, ["kind"])
    for n in range(4):
        lake.floe.writes.append(ident, _typed_rows([n * 3, n * 3 + 1, n * 3 + 2], "a"))
    lake.floe.writes.append(ident, _typed_rows([50, 51], "b"))
    lake.floe.writes.append(ident, _typed_rows([52], "b"))
    before = lake.floe.reads.scan(ident)

    result = lake.floe.maintenance.compact(ident)

    assert (result.files_rewritten, result.files_added) == (6, 2)
    assert _sorted(lake.floe.reads.scan(ident)).equals(_sorted(before))


def test_compaction_keeps_the_rows_a_concurrent_append_commits(
    lake: MaintLake, table: floe.TableIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_files(lake, table, day1=3, day2=0)
    appended: list[int | None] = []

    def append_first() -> None:
        appended.append(lake.floe.writes.append(table, rows([7, 8], DAY1)).snapshot_id)

    _before_commit(lake, monkeypatch, append_first)

    result = lake.floe.maintenance.compact(table)

    assert len(appended) == 1
    assert appended[0] is not None
    assert result.snapshot_id is not None
    snapshots = lake.floe.snapshots.list(table)
    assert [s.operation for s in snapshots[-2:]] == ["append", "replace"]
    assert snapshots[-1].parent_id == appended[0]  # committed on top of the append
    assert snapshots[-1].summary["total-records"] == "5"
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 7, 8]
    # The three compacted files became one; the appended file is still live.
    assert len(lake.floe.tables.files(table)) == 2


def test_a_concurrent_overwrite_of_a_compacted_file_aborts_the_compaction(
    lake: MaintLake, table: floe.TableIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_files(lake, table, day1=3, day2=0)
    stored_before = _data_stored(lake, table)
    overwritten: list[int | None] = []

    def overwrite_first() -> None:
        overwritten.append(
            lake.floe.writes.overwrite(table, rows([9], DAY1), row_filter="id = 1").snapshot_id
        )

    _before_commit(lake, monkeypatch, overwrite_first)

    with pytest.raises(floe.CommitConflictError, match="compaction of table"):
        lake.floe.maintenance.compact(table)

    snapshots = lake.floe.snapshots.list(table)
    assert snapshots[-1].snapshot_id == overwritten[0]  # nothing committed after it
    assert ids_of(lake.floe.reads.scan(table)) == [0, 2, 9]
    live = {f.path for f in lake.floe.tables.files(table)}
    # The compaction's own files are gone: storage holds what it held, plus
    # what the overwrite wrote.
    assert _data_stored(lake, table) == stored_before | live


def _before_commit(
    lake: MaintLake,
    monkeypatch: pytest.MonkeyPatch,
    act: Callable[[], None],
    step: str = "commit_replace",
) -> None:
    """Run ``act`` once, after a rewrite wrote its files and before it commits (at ``step``)."""
    if lake.kind == "memory":
        from floe.adapters.memory import store as module
    else:
        from floe.adapters.iceberg import compaction as module  # type: ignore[no-redef]
    original = getattr(module, step)
    done: list[bool] = []

    def commit(*args: Any, **kwargs: Any) -> Any:
        if not done:
            done.append(True)
            act()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, step, commit)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("target_file_size", 0),
        ("target_file_size", True),
        ("target_file_size", "1 MiB"),
        ("min_input_files", 1),
        ("min_input_files", 2.5),
        ("dry_run", "yes"),
    ],
)
def test_bad_options_are_refused_before_anything_is_read(
    lake: MaintLake, table: floe.TableIdentifier, option: str, value: object
) -> None:
    with pytest.raises(floe.InvalidConfigError, match=option):
        lake.floe.maintenance.compact(table, **{option: value})  # type: ignore[arg-type]


def test_a_bad_filter_is_refused(lake: MaintLake, table: floe.TableIdentifier) -> None:
    _small_files(lake, table, day1=2, day2=0)
    with pytest.raises(floe.InvalidFilterError):
        lake.floe.maintenance.compact(table, where="nope = 1")
    assert len(lake.floe.snapshots.list(table)) == 2


def test_compacting_a_missing_table_raises(lake: MaintLake) -> None:
    missing = floe.TableIdentifier(fresh_namespace(lake.floe), "missing")
    with pytest.raises(floe.TableNotFoundError):
        lake.floe.maintenance.compact(missing)
    with pytest.raises(floe.TableNotFoundError):
        lake.floe.maintenance.rewrite_manifests(missing)


def test_manifest_rewrite_merges_the_manifests_of_many_appends(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _small_files(lake, table, day1=3, day2=2)
    before_rows = lake.floe.reads.scan(table)
    before = lake.floe.snapshots.list(table)[-1]
    assert lake.floe.maintenance.health(table).manifests == 5

    result = lake.floe.maintenance.rewrite_manifests(table)

    assert (result.manifests_before, result.manifests_after) == (5, 1)
    assert lake.floe.maintenance.health(table).manifests == 1
    replace = lake.floe.snapshots.list(table)[-1]
    assert (replace.snapshot_id, replace.operation) == (result.snapshot_id, "replace")
    assert replace.summary["total-records"] == before.summary["total-records"]
    assert _sorted(lake.floe.reads.scan(table)).equals(_sorted(before_rows))
    assert len(lake.floe.tables.files(table)) == 5
    # Planning with a filter still prunes by partition after the rewrite.
    assert ids_of(lake.floe.reads.scan(table, row_filter="ts >= '2024-05-02T00:00:00'")) == [
        100,
        101,
    ]


def test_manifest_rewrite_drops_manifests_that_only_mark_files_deleted(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    for i in range(3):
        lake.floe.writes.overwrite(table, rows([i]))
    assert lake.floe.maintenance.health(table).manifests == 3

    result = lake.floe.maintenance.rewrite_manifests(table)

    assert (result.manifests_before, result.manifests_after) == (3, 1)
    assert ids_of(lake.floe.reads.scan(table)) == [2]


def test_manifest_rewrite_with_nothing_to_merge_commits_nothing(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    empty = lake.floe.maintenance.rewrite_manifests(table)
    assert (empty.snapshot_id, empty.manifests_before, empty.manifests_after) == (None, 0, 0)
    lake.floe.writes.append(table, rows([1]))
    one = lake.floe.maintenance.rewrite_manifests(table)
    assert (one.snapshot_id, one.manifests_before, one.manifests_after) == (None, 1, 1)
    assert len(lake.floe.snapshots.list(table)) == 1


def test_compaction_then_manifest_rewrite_leave_a_healthy_table(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _small_files(lake, table, day1=5, day2=4)
    sick = lake.floe.maintenance.health(table)

    lake.floe.maintenance.compact(table)
    lake.floe.maintenance.rewrite_manifests(table)

    healthy = lake.floe.maintenance.health(table)
    assert (sick.data_files, sick.manifests) == (9, 9)
    assert (healthy.data_files, healthy.manifests) == (2, 1)
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 3, 4, 100, 101, 102, 103]


def test_files_of_an_older_spec_are_rewritten_under_the_current_spec(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    # Iceberg's rewrite writes its output under the table's current spec
    # (``output-spec-id`` defaults to it); files are grouped by the spec and
    # partition they were written with.
    for i, region in enumerate(["eu", "eu", "us"]):
        lake.floe.writes.append(table, rows([i], DAY1, region))
    lake.floe.writes.append(table, rows([10], DAY1, "eu"), partition_fields=["region"])
    before = lake.floe.reads.scan(table)

    result = lake.floe.maintenance.compact(table)

    assert [(p.partition, p.files_rewritten, p.files_added) for p in result.partitions] == [
        (D1, 3, 2)
    ]
    assert result.skipped_compact == (f"{D1}/region=eu",)
    partitions = sorted(tuple(sorted(f.partition.items())) for f in lake.floe.tables.files(table))
    day = "2024-05-01"
    assert partitions == [
        (("region", "eu"), ("ts_day", day)),
        (("region", "eu"), ("ts_day", day)),
        (("region", "us"), ("ts_day", day)),
    ]
    assert _sorted(lake.floe.reads.scan(table)).equals(_sorted(before))


def test_a_manifest_rewrite_keeps_a_concurrent_append(
    lake: MaintLake, table: floe.TableIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_files(lake, table, day1=3, day2=0)
    appended: list[int | None] = []

    def append_first() -> None:
        appended.append(lake.floe.writes.append(table, rows([7], DAY2)).snapshot_id)

    _before_commit(lake, monkeypatch, append_first, step="commit_manifests")

    result = lake.floe.maintenance.rewrite_manifests(table)

    snapshots = lake.floe.snapshots.list(table)
    assert [s.operation for s in snapshots[-2:]] == ["append", "replace"]
    assert snapshots[-1].parent_id == appended[0]
    assert result.snapshot_id == snapshots[-1].snapshot_id
    assert lake.floe.maintenance.health(table).manifests == 1
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 7]
    assert len(lake.floe.tables.files(table)) == 4
