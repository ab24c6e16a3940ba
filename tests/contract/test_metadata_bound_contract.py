"""Tables floe creates keep a bounded number of metadata files, however often they commit."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import floe
from floe.application.tables import CREATED_TABLE_DEFAULTS
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake

KEPT = int(CREATED_TABLE_DEFAULTS["write.metadata.previous-versions-max"])


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


def _metadata_files(lake: MaintLake, table: floe.TableIdentifier) -> list[str]:
    return [p for p in lake.stored(table) if p.endswith(".metadata.json")]


def test_old_metadata_files_are_deleted_past_the_kept_versions(lake: MaintLake) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "busy")
    info = lake.floe.tables.create(table, pa.schema([("id", pa.int64())]))
    assert info.properties["write.metadata.delete-after-commit.enabled"] == "true"

    for i in range(KEPT + 4):  # every commit writes one more metadata file
        lake.floe.writes.append(table, pa.table({"id": [i]}))

    # The current one and the KEPT previous ones (none in memory: the fake keeps none).
    assert len(_metadata_files(lake, table)) <= KEPT + 1
    assert lake.floe.reads.scan(table).num_rows == KEPT + 4


def test_a_table_can_keep_fewer_versions(lake: MaintLake) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "few")
    lake.floe.tables.create(
        table,
        pa.schema([("id", pa.int64())]),
        properties={"write.metadata.previous-versions-max": "2"},
    )
    for i in range(6):
        lake.floe.writes.append(table, pa.table({"id": [i]}))
    lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert len(_metadata_files(lake, table)) <= 3
    assert lake.floe.reads.scan(table).num_rows == 6
