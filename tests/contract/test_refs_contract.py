"""Branches and tags through ``lake.refs``, and reads at a ref, on every adapter."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

import floe
from floe.api import build_container
from floe.container import FloeContainer
from floe.domain.refs import RefKind, RefRetention
from tests.conftest import rest_config
from tests.contract.conftest import ADAPTERS
from tests.contract.test_table_store_contract import DAY2, SCHEMA, ids_of, rows


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "events")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    return ident


def _two_commits(lake: floe.Floe, table: floe.TableIdentifier) -> tuple[int, int]:
    first = lake.writes.append(table, rows([1, 2])).snapshot_id
    second = lake.writes.append(table, rows([3], DAY2)).snapshot_id
    assert first is not None
    assert second is not None
    return first, second


def test_a_branch_and_a_tag_are_created_at_main_or_at_a_snapshot_and_listed(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, second = _two_commits(lake, table)

    branch = lake.refs.create_branch(
        table,
        "audit",
        max_ref_age_ms=86_400_000,
        max_snapshot_age_ms=3_600_000,
        min_snapshots_to_keep=2,
    )
    tag = lake.refs.create_tag(table, "v1", snapshot_id=first, max_ref_age_ms=60_000)

    assert branch == floe.Ref(
        "audit", RefKind.BRANCH, second, RefRetention(86_400_000, 2, 3_600_000)
    )
    assert tag == floe.Ref("v1", RefKind.TAG, first, RefRetention(max_ref_age_ms=60_000))
    assert lake.refs.list(table) == [floe.Ref("main", RefKind.BRANCH, second), branch, tag]
    assert lake.refs.get(table, "v1") == tag
    heads = {s.snapshot_id: s.refs for s in lake.snapshots.list(table)}
    assert heads == {first: ("v1",), second: ("audit", "main")}


def test_refs_are_refused_clearly_and_nothing_is_made(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    with pytest.raises(floe.SnapshotNotFoundError, match="no snapshot yet"):
        lake.refs.create_branch(table, "audit")
    first, _ = _two_commits(lake, table)
    lake.refs.create_tag(table, "v1", snapshot_id=first)

    with pytest.raises(floe.RefExistsError, match="'v1'"):
        lake.refs.create_branch(table, "v1")
    with pytest.raises(floe.RefExistsError, match="'main'"):
        lake.refs.create_branch(table, "main")
    with pytest.raises(floe.SnapshotNotFoundError, match="12345"):
        lake.refs.create_tag(table, "v2", snapshot_id=12345)
    with pytest.raises(floe.InvalidRefError, match="branches only"):
        floe.Ref("v3", RefKind.TAG, first, RefRetention(min_snapshots_to_keep=2))
    with pytest.raises(floe.InvalidRefError, match="positive"):
        lake.refs.create_branch(table, "b", min_snapshots_to_keep=0)
    with pytest.raises(floe.InvalidRefError, match="empty"):
        lake.refs.create_branch(table, " ")
    with pytest.raises(floe.RefNotFoundError, match="'nope'"):
        lake.refs.get(table, "nope")
    with pytest.raises(floe.TableNotFoundError):
        lake.refs.create_branch(floe.TableIdentifier(table.namespace, "missing"), "audit")

    assert [r.name for r in lake.refs.list(table)] == ["main", "v1"]


def test_dropping_a_ref_keeps_its_snapshots_and_asks_for_the_right_kind(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, second = _two_commits(lake, table)
    lake.refs.create_branch(table, "audit", snapshot_id=first)
    lake.refs.create_tag(table, "v1", snapshot_id=first)

    with pytest.raises(floe.RefNotFoundError, match="no branch 'v1'"):
        lake.refs.drop_branch(table, "v1")
    with pytest.raises(floe.RefNotFoundError, match="no tag 'audit'"):
        lake.refs.drop_tag(table, "audit")
    with pytest.raises(floe.InvalidRefError, match="main cannot be dropped"):
        lake.refs.drop_branch(table, "main")

    lake.refs.drop_branch(table, "audit")
    lake.refs.drop_tag(table, "v1")

    assert [r.name for r in lake.refs.list(table)] == ["main"]
    assert [s.snapshot_id for s in lake.snapshots.list(table)] == [first, second]
    with pytest.raises(floe.RefNotFoundError):
        lake.refs.drop_tag(table, "v1")


def test_reads_at_a_branch_or_tag_see_its_head(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, _ = _two_commits(lake, table)
    lake.refs.create_tag(table, "v1", snapshot_id=first)
    lake.refs.create_branch(table, "audit", snapshot_id=first)
    lake.writes.append(table, rows([10]), branch="audit")

    assert ids_of(lake.reads.scan(table, ref="v1")) == [1, 2]
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 2, 10]
    assert ids_of(lake.reads.scan(table, ref="main")) == [1, 2, 3]
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3]
    assert ids_of(lake.reads.batches(table, ref="audit").read_all()) == [1, 2, 10]
    assert sorted(lake.reads.to_pandas(table, ref="audit")["id"]) == [1, 2, 10]
    filtered = lake.reads.scan(table, ref="audit", row_filter="id > 1", columns=["id"], limit=5)
    assert ids_of(filtered) == [2, 10]
    assert filtered.column_names == ["id"]


def test_a_read_at_an_unknown_ref_or_with_a_snapshot_too_is_refused(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, _ = _two_commits(lake, table)

    with pytest.raises(floe.RefNotFoundError, match="'nope'"):
        lake.reads.scan(table, ref="nope")
    with pytest.raises(floe.RefNotFoundError, match="'nope'"):
        lake.reads.batches(table, ref="nope")
    with pytest.raises(floe.InvalidScanError, match="snapshot_id or ref"):
        lake.reads.scan(table, ref="main", snapshot_id=first)
    with pytest.raises(floe.InvalidRefError):
        lake.reads.scan(table, ref="")


def test_as_of_on_a_branch_walks_the_branch_history(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, _ = _two_commits(lake, table)
    lake.refs.create_branch(table, "audit", snapshot_id=first)
    on_branch = lake.writes.append(table, rows([10]), branch="audit").snapshot
    assert on_branch is not None
    at = on_branch.committed_at

    # At that moment main's head was ``second``; the branch's was its own commit,
    # which a read of the table (main) as of then must not see.
    assert ids_of(lake.reads.scan(table, as_of=at)) == [1, 2, 3]
    assert ids_of(lake.reads.scan(table, as_of=at, ref="main")) == [1, 2, 3]
    assert ids_of(lake.reads.scan(table, as_of=at, ref="audit")) == [1, 2, 10]
    before_branch_commit = at - dt.timedelta(milliseconds=1)
    assert ids_of(lake.reads.scan(table, as_of=before_branch_commit, ref="audit")) == [1, 2]
    with pytest.raises(floe.RefNotFoundError):
        lake.reads.scan(table, as_of=at, ref="nope")


def test_rollback_moves_main_back_to_a_snapshot_or_tag_of_its_history(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, second = _two_commits(lake, table)
    lake.refs.create_tag(table, "v1", snapshot_id=first)

    assert lake.refs.rollback(table, tag="v1").snapshot_id == first
    assert ids_of(lake.reads.scan(table)) == [1, 2]
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == first
    # The later snapshot is still there: not an ancestor of main's head any more.
    with pytest.raises(floe.InvalidRefError, match="not in main's history"):
        lake.refs.rollback(table, snapshot_id=second)
    assert [s.snapshot_id for s in lake.snapshots.list(table)] == [first, second]

    third = lake.writes.append(table, rows([4])).snapshot_id
    assert lake.refs.rollback(table, snapshot_id=first).snapshot_id == first
    assert ids_of(lake.reads.scan(table)) == [1, 2]
    assert third is not None


def test_rollback_refuses_what_is_not_main_history(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first, second = _two_commits(lake, table)
    lake.refs.create_branch(table, "audit", snapshot_id=first)
    on_branch = lake.writes.append(table, rows([10]), branch="audit").snapshot_id

    with pytest.raises(floe.InvalidRefError, match="not in main's history"):
        lake.refs.rollback(table, snapshot_id=on_branch)
    with pytest.raises(floe.InvalidRefError, match="is a branch"):
        lake.refs.rollback(table, tag="audit")
    with pytest.raises(floe.InvalidRefError, match="either"):
        lake.refs.rollback(table)
    with pytest.raises(floe.RefNotFoundError):
        lake.refs.rollback(table, tag="nope")
    with pytest.raises(floe.SnapshotNotFoundError, match="no such snapshot"):
        lake.refs.rollback(table, snapshot_id=12345)
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == second


@pytest.fixture
def wired(request: pytest.FixtureRequest, tmp_path: Path) -> FloeContainer:
    """A container over a fresh catalog of each kind, for calls of the port itself."""
    config: floe.CatalogConfig
    if request.param == "memory":
        config = floe.MemoryCatalogConfig()
    elif request.param == "local":
        config = floe.LocalCatalogConfig(str(tmp_path / "warehouse"))
    else:
        config = rest_config(request.getfixturevalue("seaweed"))
    return build_container(config)


@pytest.mark.parametrize("wired", ADAPTERS, indirect=True)
def test_the_store_moves_a_branch_only_from_the_head_it_expects(wired: FloeContainer) -> None:
    # What a publish meets when main moved between planning and committing.
    lake, store = floe.Floe.from_container(wired), wired.store()
    namespace = ("c" + uuid.uuid4().hex[:10],)
    lake.namespaces.create(namespace)
    table = floe.TableIdentifier(namespace, "events")
    lake.tables.create(table, SCHEMA, ["day(ts)"])
    first, second = _two_commits(lake, table)

    with pytest.raises(floe.CommitConflictError, match="moved"):
        store.set_branch(table, "main", first, expected_id=first)
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == second

    store.set_branch(table, "main", first, expected_id=second)
    current = lake.snapshots.current(table)
    assert current is not None
    assert current.snapshot_id == first
