"""The policy-driven maintenance run: the same on every adapter.

The embedded and the plain REST catalog apply no policy; to run the policy
path over their real storage the tests attach policies through the
container's ``policies`` provider (the in-memory policy port), as Polaris
would serve them (tests/integration/test_policies_rest.py does that over HTTP).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
from dependency_injector import providers

import floe
from floe.adapters.memory.policies import MemoryPolicies
from floe.domain.policies import AppliedPolicy
from tests.contract.conftest import ADAPTERS
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake


@pytest.fixture(params=ADAPTERS)
def maint(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake(request.param, request, tmp_path)


@pytest.fixture
def lake(maint: MaintLake) -> floe.Floe:
    return maint.floe


@pytest.fixture
def ns(lake: floe.Floe) -> tuple[str, ...]:
    return fresh_namespace(lake)


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "runs")
    for i in range(3):
        lake.writes.append(ident, pa.table({"id": [i]}), create_if_missing=floe.NewTable())
    return ident


def test_without_policies_the_run_takes_icebergs_defaults(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    run = lake.maintenance.maintain(table)

    assert run.table == table
    assert run.policies == floe.TablePolicies()
    assert run.skipped == ()
    assert run.compacted is not None  # the table's 512 MiB target: three tiny files -> one
    assert run.compacted.target_file_size == 512 * 1024 * 1024
    assert (run.compacted.files_rewritten, run.compacted.files_added) == (3, 1)
    assert run.expired is not None
    assert run.expired.expired_snapshot_ids == ()  # all younger than 5 days
    assert run.orphans is not None
    assert run.orphans.older_than == dt.timedelta(days=3)
    snapshots = lake.snapshots.list(table)
    assert [s.operation for s in snapshots] == ["append", "append", "append", "replace"]
    assert len(lake.tables.files(table)) == 1


def test_the_callers_arguments_are_the_settings(
    maint: MaintLake, table: floe.TableIdentifier
) -> None:
    # An hour from now every snapshot is older than any age below an hour.
    run = maint.maintenance_at(dt.timedelta(hours=1)).maintain(
        table,
        older_than=dt.timedelta(0),
        retain_last=2,
        orphan_older_than=dt.timedelta(hours=1),
        allow_short_window=True,
    )

    assert run.compacted is not None
    assert run.expired is not None
    assert len(run.expired.expired_snapshot_ids) == 2  # 3 appends + the compaction, keep 2
    assert run.orphans is not None
    assert run.orphans.older_than == dt.timedelta(hours=1)
    assert len(maint.floe.snapshots.list(table)) == 2


def test_a_bad_argument_is_refused_before_anything_runs(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    with pytest.raises(floe.InvalidConfigError, match="retain_last"):
        lake.maintenance.maintain(table, older_than=dt.timedelta(0), retain_last=0)
    with pytest.raises(floe.InvalidConfigError, match="older_than"):
        lake.maintenance.maintain(table, orphan_older_than=dt.timedelta(hours=1))
    with pytest.raises(floe.InvalidConfigError, match="target_file_size"):
        lake.maintenance.maintain(table, target_file_size=0)

    assert len(lake.snapshots.list(table)) == 3  # not even compacted


def test_a_missing_table_is_table_not_found(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.TableNotFoundError):
        lake.maintenance.maintain(floe.TableIdentifier(ns, "absent"))


# -- compaction by policy ---------------------------------------------------------------------

COMPACTION = "system.data-compaction"


def _policies(maint: MaintLake) -> MemoryPolicies:
    """Policies served to the maintenance service by the container, whatever the catalog."""
    served = MemoryPolicies()
    maint.container.policies.override(providers.Object(served))
    return served


def _compaction(name: str, enable: bool, **config: int) -> AppliedPolicy:
    content = {"version": "2025-02-03", "enable": enable, "config": config}
    return AppliedPolicy(name=name, policy_type=COMPACTION, content=json.dumps(content))


def _sizes(lake: floe.Floe, table: floe.TableIdentifier) -> list[int]:
    return sorted(f.size_bytes for f in lake.tables.files(table))


def test_an_enabled_compaction_policy_gives_the_target_and_an_argument_wins(
    maint: MaintLake, table: floe.TableIdentifier
) -> None:
    smallest = _sizes(maint.floe, table)[0]
    _policies(maint).attach(table, _compaction("tiny-files", True, target_file_size_bytes=1))

    by_policy = maint.maintenance_at(dt.timedelta(0)).maintain(table)

    # A 1-byte target makes no file small: nothing is rewritten.
    assert by_policy.policies.data_compaction is not None
    assert by_policy.policies.data_compaction.name == "tiny-files"
    assert by_policy.compacted is not None
    assert by_policy.compacted.target_file_size == 1
    assert by_policy.compacted.snapshot_id is None
    assert len(maint.floe.tables.files(table)) == 3

    given = maint.maintenance_at(dt.timedelta(0)).maintain(table, target_file_size=100 * smallest)

    assert given.compacted is not None
    assert given.compacted.target_file_size == 100 * smallest
    assert (given.compacted.files_rewritten, given.compacted.files_added) == (3, 1)
    assert len(maint.floe.tables.files(table)) == 1
    assert sorted(maint.floe.reads.scan(table).column("id").to_pylist()) == [0, 1, 2]


def test_a_disabled_compaction_policy_skips_compaction_only(
    maint: MaintLake, table: floe.TableIdentifier
) -> None:
    _policies(maint).attach(table, _compaction("no-rewrites", False))
    files_before = {f.path for f in maint.floe.tables.files(table)}

    run = maint.maintenance_at(dt.timedelta(0)).maintain(table, target_file_size=10**9)

    assert run.compacted is None
    assert run.skipped == ("compact: policy 'no-rewrites' is disabled",)
    assert run.expired is not None
    assert run.orphans is not None
    assert {f.path for f in maint.floe.tables.files(table)} == files_before
    assert [s.operation for s in maint.floe.snapshots.list(table)] == ["append"] * 3


def test_one_run_compacts_before_it_expires_so_the_small_files_leave_storage(
    maint: MaintLake, table: floe.TableIdentifier
) -> None:
    small = {f.path for f in maint.floe.tables.files(table)}
    assert all(p in maint.stored(table) for p in small)

    # An hour ahead: every snapshot is older than age 0 and no orphan is younger than an hour.
    run = maint.maintenance_at(dt.timedelta(hours=1)).maintain(
        table,
        older_than=dt.timedelta(0),
        retain_last=1,
        orphan_older_than=dt.timedelta(hours=1),
        allow_short_window=True,
    )

    assert run.compacted is not None
    assert run.compacted.snapshot_id is not None
    assert run.expired is not None
    assert len(run.expired.expired_snapshot_ids) == 3  # the appends; the compaction stays
    assert run.expired.deleted_files.of(floe.FileKind.DATA).files == 3
    [current] = maint.floe.snapshots.list(table)
    assert current.snapshot_id == run.compacted.snapshot_id
    stored = maint.stored(table)
    assert not small & set(stored)
    assert {f.path for f in maint.floe.tables.files(table)} <= set(stored)
