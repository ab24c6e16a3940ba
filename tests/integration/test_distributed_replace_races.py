"""A distributed replace racing another writer: a conflict that leaves everything as it was.

``overwrite_distributed`` replaces every row: its conflict predicate is
every row, as ``writes.overwrite`` without a filter. floe does not re-plan
a replace on the fresher table (that would drop rows it never saw): when
another writer commits between the moment the table was read and the
driver's commit, the replace fails with :class:`floe.CommitConflictError`,
the table holds what the other writer left, and no file of the replace
(the workers' data files, the driver's manifests) is left on storage.

The other writer commits at a fixed point every time, no timing: from
inside the dataset's pipeline, on a Ray worker, while the dataset is
executed (before any worker writes a file); or just before the driver's
commit is sent, once the workers' files are written (the ``race`` fixture).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import floe
from tests.contract.test_table_store_contract import SCHEMA, rows
from tests.integration import ray_cluster
from tests.integration.conftest import Race, rest_config, unique
from tests.integration.seaweed import SeaweedServer

ray = pytest.importorskip("ray")

Config = floe.LocalCatalogConfig | floe.PolarisCatalogConfig


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """One small local Ray for the module."""
    yield from ray_cluster.local(ray)


@pytest.fixture(params=["local", "rest"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Config:
    """The config of one catalog, for floe on the driver and the other writer on a worker."""
    if request.param == "local":
        return floe.LocalCatalogConfig(str(tmp_path / "warehouse"))
    seaweed: SeaweedServer = request.getfixturevalue("seaweed")
    return rest_config(seaweed)


@pytest.fixture
def table(config: Config) -> str:
    lake = floe.Floe.from_config(config)
    namespace = unique("ray_races")
    lake.namespaces.create(namespace)
    name = f"{namespace}.events"
    lake.tables.create(name, SCHEMA, ["day(ts)"])
    lake.writes.append(name, rows([1, 2, 3]))
    return name


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


def orphans(lake: floe.Floe, table: str) -> list[str]:
    """Every file under the table's location that no metadata references."""
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    assert found.recent_files == 0
    return list(found.orphan_paths)


class AppendOnce:
    """A ``map_batches`` step: the first block through it makes another client append a row.

    Runs on a Ray worker; a marker file created exclusively makes it happen
    once across workers and blocks.
    """

    def __init__(self, config: Config, table: str, marker: Path) -> None:
        self._config = config
        self._table = table
        self._marker = str(marker)

    def __call__(self, batch: pa.Table) -> pa.Table:
        try:
            fd = os.open(self._marker, os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return batch
        os.close(fd)
        floe.Floe.from_config(self._config).writes.append(self._table, rows([20]))
        return batch


def test_a_commit_while_the_dataset_runs_makes_the_replace_a_conflict(
    config: Config, table: str, tmp_path: Path
) -> None:
    lake = floe.Floe.from_config(config)
    marker = tmp_path / "appended"
    dataset = (
        ray.data.from_arrow(rows([7, 8, 9]))
        .repartition(2)
        .map_batches(AppendOnce(config, table, marker), batch_format="pyarrow")
    )

    with pytest.raises(floe.CommitConflictError, match=table):
        lake.writes.overwrite_distributed(table, dataset)

    assert marker.exists()  # the other writer did commit meanwhile
    assert ids(lake, table) == [1, 2, 3, 20]  # its row kept, none of the replace's
    assert [s.operation for s in lake.snapshots.list(table)] == ["append", "append"]
    assert orphans(lake, table) == []  # the workers' files and the manifests deleted


def test_a_commit_after_the_workers_wrote_makes_the_replace_a_conflict(
    config: Config, table: str, race: list[Race]
) -> None:
    lake, other = floe.Floe.from_config(config), floe.Floe.from_config(config)
    race.append(lambda: other.writes.append(table, rows([20])))

    with pytest.raises(floe.CommitConflictError, match=table):
        lake.writes.overwrite_distributed(table, ray.data.from_arrow(rows([7, 8, 9])))

    assert not race  # the other writer committed just before the replace's commit
    assert ids(lake, table) == [1, 2, 3, 20]
    assert [s.operation for s in lake.snapshots.list(table)] == ["append", "append"]
    assert orphans(lake, table) == []


def test_a_table_left_alone_meanwhile_is_replaced(config: Config, table: str) -> None:
    """The same replace without the other writer commits: the conflicts above are the race."""
    lake = floe.Floe.from_config(config)
    lake.writes.overwrite_distributed(table, ray.data.from_arrow(rows([7, 8, 9])).repartition(2))
    assert ids(lake, table) == [7, 8, 9]
    assert orphans(lake, table) == []


def test_under_snapshot_isolation_the_replace_commits_and_keeps_the_rows_it_never_saw(
    config: Config, race: list[Race]
) -> None:
    """``write.update.isolation-level=snapshot``: no conflict, and nothing of the other writer lost.

    The replace removes the files it saw; PyIceberg re-applies it on the
    fresher table without re-planning, so the row committed meanwhile stays.
    """
    lake, other = floe.Floe.from_config(config), floe.Floe.from_config(config)
    namespace = unique("ray_races")
    lake.namespaces.create(namespace)
    table = f"{namespace}.snapshot_isolated"
    lake.tables.create(table, SCHEMA, (), {"write.update.isolation-level": "snapshot"})
    lake.writes.append(table, rows([1, 2, 3]))
    race.append(lambda: other.writes.append(table, rows([20])))

    result = lake.writes.overwrite_distributed(table, ray.data.from_arrow(rows([7, 8, 9])))

    assert not race
    assert (result.rows_added, result.rows_deleted) == (3, 3)
    assert ids(lake, table) == [7, 8, 9, 20]
    assert orphans(lake, table) == []
