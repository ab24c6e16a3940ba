"""Publishing a branch onto main: fast-forward, refusal, replay; one commit or none, everywhere."""

from __future__ import annotations

import uuid
from pathlib import Path

import attrs
import pytest
from pyiceberg.exceptions import CommitFailedException

import floe
from floe.api import build_container
from floe.application.refs import RefService
from floe.container import FloeContainer
from floe.domain.identifiers import TableIdentifier
from floe.ports.table_store import TableStorePort
from tests.conftest import rest_config
from tests.contract.conftest import ADAPTERS
from tests.contract.test_table_store_contract import DAY2, SCHEMA, ids_of, rows


@attrs.frozen
class Wired:
    kind: str
    lake: floe.Floe
    container: FloeContainer


@pytest.fixture(params=ADAPTERS)
def wired(request: pytest.FixtureRequest, tmp_path: Path) -> Wired:
    config: floe.CatalogConfig
    if request.param == "memory":
        config = floe.MemoryCatalogConfig()
    elif request.param == "local":
        config = floe.LocalCatalogConfig(str(tmp_path / "warehouse"))
    else:
        config = rest_config(request.getfixturevalue("seaweed"))
    container = build_container(config)
    return Wired(request.param, floe.Floe.from_container(container), container)


@pytest.fixture
def lake(wired: Wired) -> floe.Floe:
    return wired.lake


@pytest.fixture
def table(lake: floe.Floe) -> floe.TableIdentifier:
    namespace = ("p" + uuid.uuid4().hex[:10],)
    lake.namespaces.create(namespace)
    ident = floe.TableIdentifier(namespace, "events")
    lake.tables.create(ident, SCHEMA, ["day(ts)"])
    lake.writes.append(ident, rows([1, 2]))
    lake.writes.append(ident, rows([3], DAY2))
    lake.refs.create_branch(ident, "audit")
    return ident


def _main(lake: floe.Floe, table: floe.TableIdentifier) -> int | None:
    current = lake.snapshots.current(table)
    return None if current is None else current.snapshot_id


def _branch(lake: floe.Floe, table: floe.TableIdentifier) -> int:
    return lake.refs.get(table, "audit").snapshot_id


def test_publish_fast_forwards_main_to_the_audited_branch(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    main_before = _main(lake, table)
    lake.writes.append(table, rows([10]), branch="audit")
    lake.writes.delete(table, "id = 1", branch="audit")  # any write: main did not move
    audited = lake.reads.scan(table, ref="audit")
    count = len(lake.snapshots.list(table))

    result = lake.refs.publish(table, "audit")

    assert result.kind is floe.PublishKind.FAST_FORWARD
    assert (result.previous_main_id, result.snapshot_id) == (main_before, _branch(lake, table))
    assert _main(lake, table) == _branch(lake, table)
    assert lake.reads.scan(table).sort_by("id").equals(audited.sort_by("id"))
    assert len(lake.snapshots.list(table)) == count  # a ref moved: no new snapshot
    assert [r.name for r in lake.refs.list(table)] == ["main", "audit"]


def test_publish_when_main_moved_is_refused_naming_both_heads_and_changes_nothing(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([10]), branch="audit")
    moved = lake.writes.append(table, rows([20])).snapshot_id
    branch_head = _branch(lake, table)

    with pytest.raises(floe.BranchDivergedError, match=f"main is at snapshot {moved}") as error:
        lake.refs.publish(table, "audit")

    assert (error.value.main_head, error.value.branch_head) == (moved, branch_head)
    assert str(branch_head) in str(error.value)
    assert _main(lake, table) == moved
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 20]
    assert _branch(lake, table) == branch_head


def test_replay_commits_the_branch_appends_onto_moved_main_in_one_snapshot(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    first = lake.writes.append(table, rows([10]), branch="audit").snapshot_id
    second = lake.writes.append(table, rows([11, 12], DAY2), branch="audit").snapshot_id
    moved = lake.writes.append(table, rows([20])).snapshot_id
    files_before = len(lake.tables.files(table))

    result = lake.refs.publish(
        table, "audit", replay_appends=True, snapshot_properties={"audit.run": "r-7"}
    )

    assert result.kind is floe.PublishKind.REPLAY
    assert result.replayed_snapshot_ids == (first, second)
    assert result.previous_main_id == moved
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 10, 11, 12, 20]
    head = lake.snapshots.current(table)
    assert head is not None
    assert head.snapshot_id == result.snapshot_id
    assert head.parent_id == moved  # exactly one commit on top of main
    assert head.operation == "append"
    assert head.summary["added-records"] == "3"
    assert head.summary["audit.run"] == "r-7"
    assert head.summary["floe.published-branch"] == "audit"
    # The branch's files are referenced, not copied.
    assert len(lake.tables.files(table)) == files_before + 2
    assert ids_of(lake.reads.scan(table, ref="audit")) == [1, 2, 3, 10, 11, 12]


def test_replay_is_refused_when_the_branch_did_more_than_append(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.writes.append(table, rows([10]), branch="audit")
    rewrite = lake.writes.overwrite(
        table, rows([11]), row_filter="id = 10", branch="audit"
    ).snapshot_id
    moved = lake.writes.append(table, rows([20])).snapshot_id

    with pytest.raises(floe.BranchDivergedError, match=f"{rewrite} \\(overwrite\\)"):
        lake.refs.publish(table, "audit", replay_appends=True)

    assert _main(lake, table) == moved
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 20]


def test_replay_is_refused_for_files_written_under_an_older_partition_spec(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    # The spec is the table's: evolving it on main after the branch wrote leaves
    # the branch's files under the old one, which a replay cannot list as new.
    lake.writes.append(table, rows([10]), branch="audit")
    moved = lake.writes.append(table, rows([20]), partition_fields=["region"]).snapshot_id

    with pytest.raises(floe.WriteError, match="older partition spec"):
        lake.refs.publish(table, "audit", replay_appends=True)

    assert _main(lake, table) == moved
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 20]


def test_publishing_what_main_holds_commits_nothing_and_can_drop_the_branch(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    main_before = _main(lake, table)
    count = len(lake.snapshots.list(table))

    result = lake.refs.publish(table, "audit", drop_branch=True)

    assert result.kind is floe.PublishKind.UP_TO_DATE
    assert result.snapshot_id == main_before
    assert result.branch_dropped
    assert [r.name for r in lake.refs.list(table)] == ["main"]
    assert len(lake.snapshots.list(table)) == count


def test_publish_then_drop_the_branch(lake: floe.Floe, table: floe.TableIdentifier) -> None:
    lake.writes.append(table, rows([10]), branch="audit")

    result = lake.refs.publish(table, "audit", drop_branch=True)

    assert result.kind is floe.PublishKind.FAST_FORWARD
    assert result.branch_dropped
    assert [r.name for r in lake.refs.list(table)] == ["main"]
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 10]


def test_only_a_branch_other_than_main_is_published(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    lake.refs.create_tag(table, "v1")
    main_before = _main(lake, table)

    with pytest.raises(floe.InvalidRefError, match="'v1' is a tag"):
        lake.refs.publish(table, "v1")
    with pytest.raises(floe.InvalidRefError, match="main is published"):
        lake.refs.publish(table, "main")
    with pytest.raises(floe.RefNotFoundError, match="'nope'"):
        lake.refs.publish(table, "nope")
    assert _main(lake, table) == main_before


def writer_between(
    store: TableStorePort, lake: floe.Floe, landed: list[int | None]
) -> TableStorePort:
    """The real store, with another writer committing to main just before each ref move.

    A subclass of the adapter's own store sharing its state: only ``set_branch``
    lets a real commit land first, then moves the ref as the adapter does.
    """

    class Racing(type(store)):  # type: ignore[misc]
        def set_branch(
            self,
            identifier: TableIdentifier,
            branch: str,
            snapshot_id: int,
            *,
            expected_id: int | None,
        ) -> None:
            landed.append(lake.writes.append(identifier, rows([90 + len(landed)])).snapshot_id)
            super().set_branch(identifier, branch, snapshot_id, expected_id=expected_id)

    racing: TableStorePort = object.__new__(Racing)
    racing.__dict__.update(store.__dict__)
    return racing


def test_a_writer_landing_during_a_publish_leaves_main_as_that_writer_left_it(
    wired: Wired, table: floe.TableIdentifier
) -> None:
    lake = wired.lake
    lake.writes.append(table, rows([10]), branch="audit")
    landed: list[int | None] = []
    refs = RefService(writer_between(wired.container.store(), lake, landed))

    with pytest.raises(floe.BranchDivergedError) as error:
        refs.publish(table, "audit")

    # The fast-forward met main moved (a refused compare-and-swap), planned again
    # on main as it now is, and refused: main holds the other writer's commit only.
    assert len(landed) == 1
    assert error.value.main_head == landed[0]
    assert _main(lake, table) == landed[0]
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 90]


def test_a_writer_landing_during_a_replay_keeps_both(
    wired: Wired, table: floe.TableIdentifier
) -> None:
    lake = wired.lake
    lake.writes.append(table, rows([10]), branch="audit")
    landed: list[int | None] = []
    racing = writer_between(wired.container.store(), lake, landed)

    result = RefService(racing).publish(table, "audit", replay_appends=True)

    assert result.kind is floe.PublishKind.REPLAY
    assert ids_of(lake.reads.scan(table)) == [1, 2, 3, 10, 90]


@pytest.mark.parametrize("wired", ["local", "rest"], indirect=True)
def test_the_catalog_refuses_a_ref_move_from_a_head_that_moved(
    wired: Wired, table: floe.TableIdentifier
) -> None:
    # The commit carries the head it read (assert-ref-snapshot-id): a writer landing
    # after the adapter's own check still cannot be overwritten.
    from floe.adapters.iceberg import refs as iceberg_refs

    lake = wired.lake
    backend = wired.container.iceberg_backend()
    branch_head = lake.writes.append(table, rows([10]), branch="audit").snapshot_id
    assert branch_head is not None
    stale = backend.catalog.load_table(table.parts)
    main_before = _main(lake, table)
    landed = lake.writes.append(table, rows([20])).snapshot_id

    with pytest.raises(CommitFailedException):
        iceberg_refs.set_branch(stale, str(table), "main", branch_head, main_before)

    assert _main(lake, table) == landed
