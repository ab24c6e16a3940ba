"""Compaction leaves alone a partition to which row-level delete files apply, and says so.

floe never writes delete files, but other engines do (merge-on-read). Here
one is committed below floe, as such an engine would: a position delete
file removing the first row of one data file, listed in a delete manifest.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestContent,
    ManifestEntry,
    ManifestEntryStatus,
    ManifestFile,
    ManifestWriterV2,
)
from pyiceberg.table import Table
from pyiceberg.table.update.snapshot import _FastAppendFiles

import floe
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake
from tests.contract.test_table_store_contract import DAY1, DAY2, SCHEMA, ids_of, rows


class _DeleteManifestWriter(ManifestWriterV2):
    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


class _AddDeletes(_FastAppendFiles):
    """A snapshot that keeps every manifest and adds one listing ``deletes``."""

    deletes: list[DataFile]

    def _existing_manifests(self) -> list[ManifestFile]:
        spec = self._transaction.table_metadata.spec()
        writer = _DeleteManifestWriter(
            spec, self.schema(), self.new_manifest_output(), self.snapshot_id, "null"
        )
        with writer:
            for delete in self.deletes:
                writer.add(
                    ManifestEntry.from_args(
                        status=ManifestEntryStatus.ADDED,
                        snapshot_id=self.snapshot_id,
                        data_file=delete,
                    )
                )
        return [*super()._existing_manifests(), writer.to_manifest_file()]


def _delete_first_row(table: Table, target: DataFile) -> None:
    path = f"{table.location()}/data/{uuid.uuid4()}-deletes.parquet"
    with table.io.new_output(path).create() as out:
        pq.write_table(
            pa.table({"file_path": [target.file_path], "pos": pa.array([0], pa.int64())}), out
        )
    delete = DataFile.from_args(
        content=DataFileContent.POSITION_DELETES,
        file_path=path,
        file_format=FileFormat.PARQUET,
        partition=target.partition,
        record_count=1,
        file_size_in_bytes=len(table.io.new_input(path)),
        spec_id=target.spec_id,
    )
    tx = table.transaction()
    producer = _AddDeletes(
        operation=tx.update_snapshot().fast_append()._operation, transaction=tx, io=table.io
    )
    producer.deletes = [delete]
    producer.commit()
    tx.commit_transaction()


@pytest.fixture
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake("local", request, tmp_path)


def test_a_partition_with_delete_files_is_skipped_and_named(lake: MaintLake) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(table, SCHEMA, ["day(ts)"])
    for i in range(3):
        lake.floe.writes.append(table, rows([i], DAY1))
        lake.floe.writes.append(table, rows([100 + i], DAY2))
    ice = lake.container.iceberg_backend().catalog.load_table(table.parts)
    first: Any = next(
        t.file for t in ice.scan(row_filter="id = 0").plan_files() if t.file.record_count == 1
    )
    _delete_first_row(ice, first)
    assert ids_of(lake.floe.reads.scan(table)) == [1, 2, 100, 101, 102]  # the delete applies
    day1_files = {
        f.path for f in lake.floe.tables.files(table) if f.partition["ts_day"] == "2024-05-01"
    }

    result = lake.floe.maintenance.compact(table)

    assert result.skipped_with_deletes == ("ts_day=2024-05-01",)
    assert [(p.partition, p.files_rewritten) for p in result.partitions] == [
        ("ts_day=2024-05-02", 3)
    ]
    assert {
        f.path for f in lake.floe.tables.files(table) if f.partition["ts_day"] == "2024-05-01"
    } == day1_files
    assert ids_of(lake.floe.reads.scan(table)) == [1, 2, 100, 101, 102]
    health = lake.floe.maintenance.health(table)
    assert health.delete_files == 1


def test_an_upsert_reads_the_rows_a_delete_file_leaves(lake: MaintLake) -> None:
    # The upsert reads every candidate file in one scan when no delete file
    # applies; here one does, so a file yields fewer rows than its record
    # count and each file is read alone: the matches stay in their files.
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(table, SCHEMA, ["day(ts)"])
    lake.floe.writes.append(table, rows([0, 1, 2], DAY1))
    lake.floe.writes.append(table, rows([100, 101, 102], DAY2))
    ice = lake.container.iceberg_backend().catalog.load_table(table.parts)
    second: Any = next(t.file for t in ice.scan(row_filter="id = 100").plan_files())
    _delete_first_row(ice, second)  # id 100 is gone
    change = pa.concat_tables([rows([1], DAY1), rows([100, 102], DAY2)])
    change = change.set_column(3, "amount", pa.array([7.0, 8.0, 9.0]))

    result = lake.floe.writes.upsert(table, change, join_columns=["id"])

    assert (result.rows_added, result.rows_deleted) == (3, 2)
    # Each day read through its partition: a row written to another day's file is missed.
    day1 = lake.floe.reads.scan(table, row_filter="ts < '2024-05-02T00:00:00'").sort_by("id")
    day2 = lake.floe.reads.scan(table, row_filter="ts >= '2024-05-02T00:00:00'").sort_by("id")
    assert day1.column("id").to_pylist() == [0, 1, 2]
    assert day1.column("amount").to_pylist() == [0.0, 7.0, 3.0]
    assert day2.column("id").to_pylist() == [100, 101, 102]
    assert day2.column("amount").to_pylist() == [8.0, 151.5, 9.0]
