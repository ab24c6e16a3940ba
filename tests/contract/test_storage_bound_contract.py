"""After maintenance a table's storage holds what its current snapshot reads, and little more.

The invariant of issue 12: many small appends and several overwrites leave a
trail of replaced data files, manifests, manifest lists and metadata files;
``expire_snapshots(retain_last=1)`` then ``remove_orphan_files`` bring
storage back to the current snapshot's files plus the metadata files the
table keeps.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import floe
from floe.application.tables import CREATED_TABLE_DEFAULTS
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake

SCHEMA = pa.schema([("id", pa.int64()), ("payload", pa.int64())])
KEPT = int(CREATED_TABLE_DEFAULTS["write.metadata.previous-versions-max"])
#: Rows of one overwrite: random 64-bit payloads do not compress, ~3 MiB a file.
BIG = 400_000


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


def _rows(start: int, count: int, seed: int) -> pa.Table:
    payload = np.random.default_rng(seed).integers(0, 2**62, count)
    return pa.table({"id": pa.array(range(start, start + count), pa.int64()), "payload": payload})


def test_storage_comes_back_to_the_current_snapshot(lake: MaintLake) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "trail")
    lake.floe.tables.create(table, SCHEMA)
    for i in range(10):
        lake.floe.writes.append(table, _rows(i * 10, 10, i))
    lake.floe.writes.overwrite(table, _rows(0, BIG, 100))
    for i in range(5):
        lake.floe.writes.append(table, _rows(BIG + i * 10, 10, 200 + i))
    lake.floe.writes.overwrite(table, _rows(0, BIG, 300))
    lake.floe.writes.overwrite(table, _rows(0, BIG, 400))
    before = lake.stored(table)

    lake.floe.maintenance.expire_snapshots(table, retain_last=1)
    lake.floe.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), allow_short_window=True
    )

    stored = lake.stored(table)
    metadata = {p for p in stored if p.endswith(".metadata.json")}
    current = {f.path for f in lake.container.table_files().current_files(table)}
    assert set(stored) - metadata == current - metadata
    assert len(metadata) <= KEPT + 1  # the current metadata file and the kept versions
    live = sum(f.size_bytes for f in lake.floe.tables.files(table))
    assert sum(stored.values()) <= 1.1 * live < 0.5 * sum(before.values())
    assert lake.floe.reads.scan(table).num_rows == BIG
