"""Expiry and refs: a snapshot a branch or tag points at is kept, the rest expire.

The refs are made through floe's own API (``lake.refs``) on every adapter.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

import floe
from floe.api import build_container
from floe.container import FloeContainer
from floe.ports.table_store import TableStorePort
from tests.conftest import rest_config
from tests.contract.conftest import ADAPTERS
from tests.contract.test_table_store_contract import SCHEMA, ids_of, rows


@attrs.frozen
class RefLake:
    """floe over one adapter, its table store, and a way to point a ref at a snapshot."""

    floe: floe.Floe
    store: TableStorePort
    point_ref: Callable[[floe.TableIdentifier, str, int, str], None]


def _point_ref_in(container: FloeContainer) -> RefLake:
    lake = floe.Floe.from_container(container)

    def point(table: floe.TableIdentifier, name: str, snapshot_id: int, ref: str) -> None:
        if ref == "tag":
            lake.refs.create_tag(table, name, snapshot_id=snapshot_id)
        else:
            lake.refs.create_branch(table, name, snapshot_id=snapshot_id)

    return RefLake(lake, container.store(), point)


@pytest.fixture(params=ADAPTERS)
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> RefLake:
    config: floe.CatalogConfig
    if request.param == "memory":
        config = floe.MemoryCatalogConfig()
    elif request.param == "local":
        config = floe.LocalCatalogConfig(str(tmp_path / "warehouse"))
    else:
        config = rest_config(request.getfixturevalue("seaweed"))
    return _point_ref_in(build_container(config))


@pytest.fixture
def table(lake: RefLake) -> floe.TableIdentifier:
    namespace = ("r" + uuid.uuid4().hex[:10],)
    lake.floe.namespaces.create(namespace)
    ident = floe.TableIdentifier(namespace, "events")
    lake.floe.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def _four_commits(lake: RefLake, table: floe.TableIdentifier) -> list[int]:
    written = [lake.floe.writes.append(table, rows([i])).snapshot_id for i in range(4)]
    assert None not in written
    return [i for i in written if i is not None]


@pytest.mark.parametrize("ref", ["tag", "branch"])
def test_expiry_keeps_a_snapshot_a_ref_points_at_and_reports_it(
    lake: RefLake, table: floe.TableIdentifier, ref: str
) -> None:
    written = _four_commits(lake, table)
    lake.point_ref(table, "audit", written[1], ref)

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert result.expired_snapshot_ids == (written[0], written[2])
    assert result.protected_snapshot_ids == (written[1],)
    assert set(result.retained_snapshot_ids) == {written[1], written[3]}
    left = lake.floe.snapshots.list(table)
    assert [(s.snapshot_id, s.refs) for s in left] == [
        (written[1], ("audit",)),
        (written[3], ("main",)),
    ]
    assert ids_of(lake.floe.reads.scan(table, snapshot_id=written[1])) == [0, 1]
    assert ids_of(lake.floe.reads.scan(table)) == [0, 1, 2, 3]


def test_expiry_with_every_candidate_protected_expires_nothing(
    lake: RefLake, table: floe.TableIdentifier
) -> None:
    written = _four_commits(lake, table)
    lake.point_ref(table, "v1", written[0], "tag")
    lake.point_ref(table, "v2", written[1], "tag")
    lake.point_ref(table, "dev", written[2], "branch")

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    assert result.expired_snapshot_ids == ()
    assert result.protected_snapshot_ids == tuple(written[:3])
    assert [s.snapshot_id for s in lake.floe.snapshots.list(table)] == written


def test_the_store_refuses_to_expire_a_ref_head_and_expires_nothing(
    lake: RefLake, table: floe.TableIdentifier
) -> None:
    # What a branch or tag made between choosing and committing meets.
    written = _four_commits(lake, table)
    lake.point_ref(table, "v1", written[1], "tag")

    with pytest.raises(floe.WriteError, match="v1"):
        lake.store.expire_snapshots(table, written[:2])

    assert [s.snapshot_id for s in lake.floe.snapshots.list(table)] == written


def test_a_branch_keeps_the_snapshots_its_retention_asks_for(
    lake: RefLake, table: floe.TableIdentifier
) -> None:
    written = _four_commits(lake, table)
    lake.floe.refs.create_branch(table, "audit", snapshot_id=written[0], min_snapshots_to_keep=3)
    on_branch = [
        lake.floe.writes.append(table, rows([10 + i]), branch="audit").snapshot_id for i in range(3)
    ]

    result = lake.floe.maintenance.expire_snapshots(table, retain_last=1)

    # The branch keeps its three newest (its head and two ancestors), not the
    # snapshot it was cut at; main keeps its head.
    assert result.expired_snapshot_ids == (written[0], written[1], written[2])
    # The branch head is the newest snapshot: kept by retain_last, not listed.
    assert result.protected_snapshot_ids == (on_branch[0], on_branch[1])
    left = {s.snapshot_id for s in lake.floe.snapshots.list(table)}
    assert left == {written[3], *on_branch}
    assert ids_of(lake.floe.reads.scan(table, ref="audit")) == [0, 10, 11, 12]
