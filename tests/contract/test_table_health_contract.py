"""Table health: the storage of the current snapshot summed up, the same on every adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

import floe
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake
from tests.contract.test_table_store_contract import DAY1, DAY2, SCHEMA, rows

MiB = 2**20


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


@pytest.fixture
def table(lake: MaintLake) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def test_health_sums_up_the_files_of_the_current_snapshot(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    lake.floe.writes.append(table, rows([1, 2], DAY1))
    lake.floe.writes.append(table, rows([3], DAY2))
    lake.floe.writes.append(table, rows([4], DAY2))
    files = lake.floe.tables.files(table)

    health = lake.floe.maintenance.health(table)

    assert health.table == table
    assert health.snapshots == 3
    assert health.data_files == 3
    assert health.data_bytes == sum(f.size_bytes for f in files)
    assert health.average_file_bytes == health.data_bytes / 3
    assert health.small_file_threshold_bytes == 128 * MiB  # a quarter of Iceberg's 512 MiB
    assert (health.small_files, health.small_file_ratio) == (3, 1.0)
    assert (health.delete_files, health.delete_bytes) == (0, 0)
    assert health.manifests == 3  # one per append, reused by the next
    assert health.manifest_bytes > 0
    assert (health.metadata_bytes > 0) == (lake.kind != "memory")  # the fake keeps none
    biggest = max(f.size_bytes for f in files)
    none_small = lake.floe.maintenance.health(table, small_file_bytes=1)
    assert (none_small.small_files, none_small.small_file_ratio) == (0, 0.0)
    some_small = lake.floe.maintenance.health(table, small_file_bytes=biggest)
    assert some_small.small_files == sum(1 for f in files if f.size_bytes < biggest)


def test_health_after_expiry_counts_what_is_left(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    for i in range(3):
        lake.floe.writes.overwrite(table, rows([i]))
    lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    health = lake.floe.maintenance.health(table)

    # PyIceberg carries a manifest that only marks files deleted into every
    # later snapshot: each overwrite leaves one (the fake does the same).
    assert (health.snapshots, health.data_files, health.manifests) == (1, 1, 3)


def test_the_small_file_threshold_follows_the_target_file_size(lake: MaintLake) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "targeted")
    lake.floe.tables.create(table, SCHEMA, properties={"write.target-file-size-bytes": "4000"})
    health = lake.floe.maintenance.health(table)
    assert health.small_file_threshold_bytes == 1000


def test_a_table_without_snapshots_is_all_zeros(
    lake: MaintLake, table: floe.TableIdentifier
) -> None:
    health = lake.floe.maintenance.health(table)
    assert (health.snapshots, health.data_files, health.data_bytes, health.manifests) == (
        0,
        0,
        0,
        0,
    )
    assert (health.small_file_ratio, health.average_file_bytes) == (0.0, 0.0)


@pytest.mark.parametrize("small", [0, -1, True, "1 MiB", 1.5])
def test_a_bad_threshold_is_refused(
    lake: MaintLake, table: floe.TableIdentifier, small: object
) -> None:
    with pytest.raises(floe.InvalidConfigError, match="small_file_bytes"):
        lake.floe.maintenance.health(table, small_file_bytes=small)  # type: ignore[arg-type]
