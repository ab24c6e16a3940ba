"""Deleting files after an expiry commit: a file storage refuses to delete is reported, not raised.

On the PyIceberg adapters (embedded and REST): the expiry has committed, so a
refused deletion leaves an orphan (for ``remove_orphan_files``), never a
broken table, and is logged to the ``floe`` logger.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest
from pyiceberg.io.pyarrow import PyArrowFileIO

import floe
from floe.domain.table_files import FileKind
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake
from tests.contract.test_table_store_contract import SCHEMA, ids_of, rows


@pytest.fixture(params=["local", "rest"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


def test_a_file_that_cannot_be_deleted_is_reported_and_left_as_an_orphan(
    lake: MaintLake, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    lake.floe.tables.create(table, SCHEMA)
    lake.floe.writes.append(table, rows([1]))
    stuck = next(iter(lake.floe.tables.files(table))).path
    for i in range(2):
        lake.floe.writes.overwrite(table, rows([10 + i]))
    delete = PyArrowFileIO.delete

    def refuse_one(io: PyArrowFileIO, location: object) -> None:
        if location == stuck:
            raise PermissionError(f"Cannot delete file, access denied: {location}")
        delete(io, location)  # type: ignore[arg-type]

    monkeypatch.setattr(PyArrowFileIO, "delete", refuse_one)
    caplog.set_level(logging.INFO, logger="floe")

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert len(result.expired_snapshot_ids) == 2
    assert result.deleted_files.failed_paths == (stuck,)
    assert result.deleted_files.of(FileKind.DATA).files == 1
    assert stuck in lake.stored(table)
    assert ids_of(lake.floe.reads.scan(table)) == [11]
    logged = [r.getMessage() for r in caplog.records if "floe.file_not_deleted" in r.getMessage()]
    assert len(logged) == 1
    assert "PermissionError" in logged[0]

    monkeypatch.setattr(PyArrowFileIO, "delete", delete)
    cleaned = lake.floe.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), allow_short_window=True
    )
    assert stuck in cleaned.orphan_paths
    assert stuck not in lake.stored(table)
