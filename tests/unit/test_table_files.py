"""Which files maintenance may delete: pure rules over file lists, and the use case around them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pyarrow as pa
import pytest

import floe
from floe.adapters.memory.catalog import MemoryCatalog
from floe.adapters.memory.state import MemoryWarehouse
from floe.adapters.memory.store import MemoryTableStore
from floe.adapters.memory.table_files import MemoryTableFiles
from floe.application.maintenance import MaintenanceService
from floe.domain.health import small_file_threshold
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import ScanOptions
from floe.domain.table_files import (
    MIN_ORPHAN_AGE,
    FileCount,
    FileKind,
    FilesDeleted,
    StoredFile,
    TableFile,
    find_orphans,
    orphan_age,
    unreferenced,
)


def _file(path: str, kind: FileKind = FileKind.DATA, size: int | None = 10) -> TableFile:
    return TableFile(path, kind, size)


def test_unreferenced_keeps_what_is_still_referenced_and_names_each_path_once() -> None:
    candidates = [_file("b"), _file("a"), _file("c", FileKind.MANIFEST), _file("a")]
    assert unreferenced(candidates, [_file("c", FileKind.MANIFEST)]) == (_file("a"), _file("b"))
    assert unreferenced(candidates, candidates) == ()


def test_orphans_are_unreferenced_and_old_enough() -> None:
    stored = [
        StoredFile("old-orphan", 5, 100),
        StoredFile("at-cutoff", 6, 200),
        StoredFile("young", 7, 201),
        StoredFile("no-time", 8, None),
        StoredFile("referenced", 9, 1),
    ]
    search = find_orphans(stored, [_file("referenced")], cutoff_ms=200)
    assert [f.path for f in search.orphans] == ["at-cutoff", "old-orphan"]
    assert search.recent == 2


def test_a_deleting_run_needs_a_window_of_a_day_unless_told_it_is_safe() -> None:
    short = MIN_ORPHAN_AGE - dt.timedelta(seconds=1)
    with pytest.raises(floe.InvalidConfigError, match="allow_short_window"):
        orphan_age(short, dry_run=False, allow_short_window=False)
    assert orphan_age(short, dry_run=True, allow_short_window=False) == short
    assert orphan_age(short, dry_run=False, allow_short_window=True) == short
    assert orphan_age(MIN_ORPHAN_AGE, dry_run=False, allow_short_window=False) == MIN_ORPHAN_AGE


def test_files_deleted_sums_up_by_kind() -> None:
    deleted = FilesDeleted(
        {FileKind.DATA: FileCount(2, 30), FileKind.MANIFEST: FileCount(1, 5)},
        failed_paths=["z", "a"],
    )
    assert (deleted.files, deleted.size_bytes) == (3, 35)
    assert deleted.of(FileKind.DATA) == FileCount(2, 30)
    assert deleted.of(FileKind.STATISTICS) == FileCount()
    assert deleted.failed_paths == ("a", "z")
    assert FilesDeleted({FileKind.DATA: FileCount()}) == FilesDeleted()


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({}, 128 * 2**20),
        ({"write.target-file-size-bytes": "4096"}, 1024),
        ({"write.target-file-size-bytes": "lots"}, 128 * 2**20),
        ({"write.target-file-size-bytes": "0"}, 128 * 2**20),
    ],
)
def test_the_small_file_threshold_is_a_quarter_of_the_target(
    properties: dict[str, str], expected: int
) -> None:
    assert small_file_threshold(properties, None) == expected
    assert small_file_threshold(properties, 7) == 7


class _Unreadable(MemoryTableFiles):
    """Table files whose table cannot be read again once the expiry committed."""

    def referenced_files(
        self, identifier: TableIdentifier, *, without: Sequence[int] = ()
    ) -> list[TableFile]:
        raise floe.CatalogConnectionError("catalog unavailable", subject=str(identifier))


class _Undeletable(MemoryTableFiles):
    def delete_files(self, identifier: TableIdentifier, files: Sequence[TableFile]) -> FilesDeleted:
        raise floe.CatalogConnectionError("catalog unavailable", subject=str(identifier))


@pytest.mark.parametrize("files_port", [_Unreadable, _Undeletable])
def test_a_failure_after_the_commit_is_reported_and_only_leaves_orphans(
    files_port: type[MemoryTableFiles],
) -> None:
    warehouse = MemoryWarehouse()
    catalog, store = MemoryCatalog(warehouse), MemoryTableStore(warehouse)
    catalog.create_namespace(("n",))
    table = TableIdentifier(("n",), "t")
    catalog.create_table(table, pa.schema([pa.field("id", pa.int64())]))
    for i in range(3):
        store.overwrite(table, pa.table({"id": pa.array([i], pa.int64())}))
    before = dict(warehouse.storage.objects)
    service = MaintenanceService(catalog, store, files_port(warehouse))

    result = service.expire_snapshots(table, retain_last=1)

    assert len(result.expired_snapshot_ids) == 2  # the expiry happened
    assert "catalog unavailable" in result.deleted_files.skipped
    assert result.deleted_files.files == 0
    assert warehouse.storage.objects == before  # nothing deleted: orphans, not a broken table
    assert store.scan(table, ScanOptions()).column("id").to_pylist() == [2]
    healthy = MaintenanceService(catalog, store, MemoryTableFiles(warehouse))
    cleaned = healthy.remove_orphan_files(
        table, older_than=dt.timedelta(0), allow_short_window=True
    )
    assert sum(1 for p in cleaned.orphan_paths if p.endswith(".parquet")) == 2
