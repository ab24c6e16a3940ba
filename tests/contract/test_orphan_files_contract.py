"""Orphan-file removal deletes old unreferenced files in a table's location, nothing else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import floe
from floe.domain.table_files import FileCount, FileKind, OrphanFilesResult
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake
from tests.contract.test_table_store_contract import SCHEMA, ids_of, rows

NO_WINDOW = dt.timedelta(0)
#: Past Iceberg's 3-day window: files written during the test count as old.
LATER = dt.timedelta(days=4)


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


@pytest.fixture
def table(lake: MaintLake) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def _crashed_writer_files(lake: MaintLake, table: floe.TableIdentifier) -> set[str]:
    return {
        lake.plant(table, "data/ts_day=2024-05-01/00000-0-crashed.parquet", 300),
        lake.plant(table, "metadata/crashed-m0.avro", 100),
        lake.plant(table, "metadata/snap-1-0-crashed.avro", 50),
    }


def test_old_orphans_are_found_by_a_dry_run_and_deleted_by_a_real_one(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    lake.floe.writes.append(table, rows([1, 2]))
    lake.floe.writes.append(table, rows([3]))
    orphans = _crashed_writer_files(lake, table)
    before = lake.stored(table)
    later = lake.maintenance_at(LATER)

    found = later.remove_orphan_files(table, dry_run=True)

    assert set(found.orphan_paths) == orphans
    assert found.orphan_bytes == 450
    assert found.deleted.files == 0
    assert lake.stored(table) == before

    removed = later.remove_orphan_files(table)

    assert set(removed.orphan_paths) == orphans
    assert removed.deleted.of(FileKind.ORPHAN) == FileCount(3, 450)
    assert removed.deleted.failed_paths == ()
    assert lake.stored(table) == {p: s for p, s in before.items() if p not in orphans}
    assert ids_of(lake.floe.reads.scan(table)) == [1, 2, 3]
    again = later.remove_orphan_files(table)
    assert (again.orphan_paths, again.deleted.files) == ((), 0)


def test_young_unreferenced_files_are_left_alone(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    lake.floe.writes.append(table, rows([1]))
    planted = _crashed_writer_files(lake, table)

    result = lake.floe.maintenance.remove_orphan_files(table)  # Iceberg's 3 days

    assert result.older_than == dt.timedelta(days=3)
    assert result.orphan_paths == ()
    assert result.recent_files == 3
    assert planted <= set(lake.stored(table))


def test_expiry_leftovers_are_orphans(lake: MaintLake, table: floe.TableIdentifier) -> None:
    lake.floe.writes.append(table, rows([1]))
    for i in range(3):
        lake.floe.writes.overwrite(table, rows([10 + i]))
    lake.floe.maintenance.expire_snapshots(table, retain_last=1, delete_files=False)

    result = lake.floe.maintenance.remove_orphan_files(
        table, older_than=NO_WINDOW, allow_short_window=True
    )

    assert sum(1 for p in result.orphan_paths if p.endswith(".parquet")) == 3
    data = {p for p in lake.stored(table) if "/data/" in p}
    assert data == {f.path for f in lake.floe.tables.files(table)}
    assert ids_of(lake.floe.reads.scan(table)) == [12]


def test_another_table_whose_name_extends_this_one_is_untouched(lake: MaintLake) -> None:
    namespace = fresh_namespace(lake.floe)
    short, longer = (floe.TableIdentifier(namespace, n) for n in ("events", "events2"))
    for ident in (short, longer):
        lake.floe.tables.create(ident, SCHEMA)
        lake.floe.writes.append(ident, rows([1]))
    lake.floe.writes.overwrite(longer, rows([2]))
    theirs = lake.stored(longer)

    result = lake.floe.maintenance.remove_orphan_files(
        short, older_than=NO_WINDOW, allow_short_window=True
    )

    assert result.orphan_paths == ()
    assert lake.stored(longer) == theirs
    assert ids_of(lake.floe.reads.scan(longer)) == [2]


def test_a_stream_being_written_keeps_its_files(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    # A streamed append writes data files chunk by chunk and commits once at
    # the end: until then its files are on storage and in no metadata.
    seen: list[OrphanFilesResult] = []

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(4):
            if i == 3:
                seen.append(lake.floe.maintenance.remove_orphan_files(table))
            yield from rows([i]).to_batches()

    lake.floe.writes.append(
        table, pa.RecordBatchReader.from_batches(SCHEMA, batches()), chunk_bytes=1
    )

    assert seen[0].orphan_paths == ()
    if lake.kind != "memory":  # the fake reads a stream whole before writing it
        assert seen[0].recent_files >= 1
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 3]


@pytest.mark.parametrize("older_than", [dt.timedelta(hours=23), NO_WINDOW])
def test_a_short_window_is_refused_unless_no_write_can_be_running(
    lake: MaintLake, table: floe.TableIdentifier, older_than: dt.timedelta
) -> None:
    lake.floe.writes.append(table, rows([1]))
    planted = lake.plant(table, "data/stray.parquet")
    with pytest.raises(floe.InvalidConfigError, match="allow_short_window"):
        lake.floe.maintenance.remove_orphan_files(table, older_than=older_than)
    assert planted in lake.stored(table)

    dry = lake.floe.maintenance.remove_orphan_files(table, older_than=older_than, dry_run=True)
    allowed = lake.floe.maintenance.remove_orphan_files(
        table, older_than=older_than, allow_short_window=True
    )

    expected = (planted,) if older_than == NO_WINDOW else ()
    assert dry.orphan_paths == allowed.orphan_paths == expected
    assert (planted in lake.stored(table)) == (older_than != NO_WINDOW)


@pytest.mark.parametrize("older_than", [dt.timedelta(days=-1), 3, "3 days"])
def test_a_bad_window_is_refused(
    lake: MaintLake, table: floe.TableIdentifier, older_than: object
) -> None:
    with pytest.raises(floe.InvalidConfigError, match="older_than"):
        lake.floe.maintenance.remove_orphan_files(table, older_than=older_than)  # type: ignore[arg-type]


def test_a_missing_table_is_not_found(lake: MaintLake) -> None:
    ghost = floe.TableIdentifier(fresh_namespace(lake.floe), "ghost")
    with pytest.raises(floe.TableNotFoundError):
        lake.floe.maintenance.remove_orphan_files(ghost, dry_run=True)
