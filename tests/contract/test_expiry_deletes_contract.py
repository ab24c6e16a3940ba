"""Snapshot expiry deletes the files only the expired snapshots referenced, on every adapter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import floe
from floe.application.maintenance import MaintenanceService
from floe.domain.table_files import FileKind
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake, tagger
from tests.contract.test_table_store_contract import SCHEMA, ids_of, rows


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


@pytest.fixture
def table(lake: MaintLake) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def _data_files(lake: MaintLake, table: floe.TableIdentifier) -> set[str]:
    return {p for p in lake.stored(table) if "/data/" in p}


def _live_files(lake: MaintLake, table: floe.TableIdentifier) -> set[str]:
    return {f.path for f in lake.floe.tables.files(table)}


def _an_append_and_three_overwrites(lake: MaintLake, table: floe.TableIdentifier) -> list[int]:
    # Each overwrite replaces every row: its predecessor's data file is no longer live.
    written = [lake.floe.writes.append(table, rows([1, 2])).snapshot_id]
    written += [lake.floe.writes.overwrite(table, rows([10 + i])).snapshot_id for i in range(3)]
    assert None not in written
    return [i for i in written if i is not None]


def test_expiry_deletes_the_data_files_and_manifest_lists_no_snapshot_references(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _an_append_and_three_overwrites(lake, table)
    assert len(_data_files(lake, table)) == 4
    before = lake.stored(table)

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert len(result.expired_snapshot_ids) == 3
    deleted = result.deleted_files
    assert deleted.of(FileKind.DATA).files == 3
    assert deleted.of(FileKind.MANIFEST_LIST).files == 3
    assert deleted.failed_paths == ()
    assert deleted.skipped == ""
    after = lake.stored(table)
    gone = set(before) - set(after)
    assert deleted.files == len(gone)
    assert deleted.size_bytes == sum(before[p] for p in gone)
    assert _data_files(lake, table) == _live_files(lake, table)
    assert ids_of(lake.floe.reads.scan(table)) == [12]


def test_expiry_of_appends_deletes_manifest_lists_but_no_data(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    for i in range(4):
        lake.floe.writes.append(table, rows([i]))

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    # Every data file is still live; the manifests are shared with the current snapshot.
    assert result.deleted_files.of(FileKind.DATA).files == 0
    assert result.deleted_files.of(FileKind.MANIFEST).files == 0
    assert result.deleted_files.of(FileKind.MANIFEST_LIST).files == 3
    assert len(_data_files(lake, table)) == 4
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 3]


def test_expiry_without_deleting_files_only_edits_metadata(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _an_append_and_three_overwrites(lake, table)
    before = lake.stored(table)

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1, delete_files=False)

    assert len(result.expired_snapshot_ids) == 3
    assert result.deleted_files.files == 0
    assert set(before) <= set(lake.stored(table))
    assert len(_data_files(lake, table)) == 4


def test_a_file_a_tagged_snapshot_still_reads_is_kept(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    written = _an_append_and_three_overwrites(lake, table)
    tagger(lake)(table, "audit", written[1])

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert result.expired_snapshot_ids == (written[0], written[2])
    assert result.deleted_files.of(FileKind.DATA).files == 2
    # The tagged snapshot still reads its rows from storage.
    assert ids_of(lake.floe.reads.scan(table, snapshot_id=written[1])) == [10]
    assert ids_of(lake.floe.reads.scan(table)) == [12]
    assert len(_data_files(lake, table)) == 2


def test_a_partial_overwrite_keeps_the_rewritten_rows_readable(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    lake.floe.writes.append(table, rows([1, 2, 3]))
    lake.floe.writes.append(table, rows([4], dt.datetime(2024, 5, 2)))
    lake.floe.writes.overwrite(table, rows([9]), row_filter="id = 2")

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    # The day-1 file lost a row and was rewritten; the day-2 file is still live.
    assert result.deleted_files.of(FileKind.DATA).files == 1
    assert ids_of(lake.floe.reads.scan(table)) == [1, 3, 4, 9]
    assert _data_files(lake, table) == _live_files(lake, table)


def test_nothing_to_expire_deletes_nothing(lake: MaintLake, table: floe.TableIdentifier) -> None:
    lake.floe.writes.append(table, rows([1]))
    lake.floe.writes.overwrite(table, rows([2]))
    before = lake.stored(table)

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=2)

    assert result.expired_snapshot_ids == ()
    assert result.deleted_files == floe.ExpireResult(table, (), ()).deleted_files
    assert lake.stored(table) == before


def test_delete_files_must_be_a_flag(lake: MaintLake, table: floe.TableIdentifier) -> None:
    lake.floe.writes.append(table, rows([1]))
    lake.floe.writes.append(table, rows([2]))
    with pytest.raises(floe.InvalidConfigError, match="delete_files"):
        lake.floe.maintenance.expire_snapshots(table, delete_files="no")  # type: ignore[arg-type]
    assert len(lake.floe.snapshots.list(table)) == 2


def _plain_parquet(lake: MaintLake, path: str, ids: list[int]) -> None:
    """A Parquet file without Iceberg field ids, as another tool writes one."""
    sink = pa.BufferOutputStream()
    pq.write_table(rows(ids), sink)
    lake.storage.plant(path, sink.getvalue().to_pybytes())


def test_a_file_a_concurrent_commit_references_again_is_kept(
    lake: MaintLake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What is still referenced is read after the expiry commit: a commit landing
    # in between (here one adding an expired snapshot's file back) keeps it.
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "plain")
    lake.floe.tables.create(table, SCHEMA)
    if lake.kind == "memory":
        lake.floe.writes.append(table, rows([1, 2]))
        memory = lake.container.memory_warehouse().tables[table]
        first = memory.snapshots[0].rows
        readded = memory.files[first.files.to_pylist()[0]].path

        def add_back() -> None:
            with lake.container.memory_warehouse().lock:
                memory.add_snapshot("append", memory.current_rows().concat(first), {})

    else:
        readded = lake.plant(table, "data/imported.parquet")
        _plain_parquet(lake, readded, [1, 2])
        backend = lake.container.iceberg_backend()
        backend.catalog.load_table(table.parts).add_files([readded])

        def add_back() -> None:
            backend.catalog.load_table(table.parts).add_files([readded])

    lake.floe.writes.overwrite(table, rows([5]))
    store = lake.container.store()
    expire = store.expire_snapshots

    def expire_then_a_concurrent_commit(
        identifier: floe.TableIdentifier, snapshot_ids: Sequence[int]
    ) -> tuple[int, ...]:
        expired = expire(identifier, snapshot_ids)
        add_back()
        return expired

    monkeypatch.setattr(store, "expire_snapshots", expire_then_a_concurrent_commit)

    result = MaintenanceService(
        lake.container.catalog(), store, lake.container.table_files()
    ).expire_snapshots(table, retain_last=1)

    assert len(result.expired_snapshot_ids) == 1
    assert readded in lake.stored(table)
    assert result.deleted_files.of(FileKind.DATA).files == 0
    assert ids_of(lake.floe.reads.scan(table)) == [1, 2, 5]


# -- dry run ------------------------------------------------------------------------------------


def _no_metadata(paths: set[str]) -> set[str]:
    """Without ``*.metadata.json`` files: a real expiry commits one, a dry run none."""
    return {p for p in paths if not p.endswith(".metadata.json")}


@pytest.mark.parametrize("tag", [False, True])
def test_a_dry_run_changes_nothing_and_names_what_the_expiry_then_deletes(
    lake: MaintLake, table: floe.TableIdentifier, tag: bool
) -> None:
    written = _an_append_and_three_overwrites(lake, table)
    if tag:  # a tagged snapshot keeps its data file and manifest list
        tagger(lake)(table, "audit", written[1])
    before = lake.stored(table)
    snapshots = lake.floe.snapshots.list(table)

    planned = lake.floe.maintenance.expire_snapshots(table, retain_last=1, dry_run=True)

    assert planned.dry_run
    assert lake.stored(table) == before
    assert lake.floe.snapshots.list(table) == snapshots
    assert planned.deleted_files == floe.FilesDeleted()

    done = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert not done.dry_run
    assert planned.expired_snapshot_ids == done.expired_snapshot_ids
    assert planned.retained_snapshot_ids == done.retained_snapshot_ids
    assert planned.protected_snapshot_ids == done.protected_snapshot_ids
    gone = _no_metadata(set(before) - set(lake.stored(table)))
    assert {f.path for f in planned.unreferenced_files} == gone
    assert planned.unreferenced_files == done.unreferenced_files
    assert done.deleted_files.files == len(done.unreferenced_files)
    data = [f for f in planned.unreferenced_files if f.kind is FileKind.DATA]
    assert len(data) == (2 if tag else 3)
    assert planned.unreferenced_bytes >= sum(before[f.path] for f in data)


def test_a_dry_run_without_deleting_files_names_no_file(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    _an_append_and_three_overwrites(lake, table)

    planned = lake.floe.maintenance.expire_snapshots(
        table, retain_last=1, delete_files=False, dry_run=True
    )

    assert len(planned.expired_snapshot_ids) == 3
    assert planned.unreferenced_files == ()
    assert len(lake.floe.snapshots.list(table)) == 4
    with pytest.raises(floe.InvalidConfigError, match="dry_run"):
        lake.floe.maintenance.expire_snapshots(table, dry_run="yes")  # type: ignore[arg-type]
