"""The policy-driven maintenance run on a catalog applying no policy: the same on every adapter."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

import floe
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
    assert run.expired is not None
    assert run.expired.expired_snapshot_ids == ()  # all younger than 5 days
    assert run.orphans is not None
    assert run.orphans.older_than == dt.timedelta(days=3)
    assert len(lake.snapshots.list(table)) == 3


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

    assert run.expired is not None
    assert len(run.expired.expired_snapshot_ids) == 1
    assert run.orphans is not None
    assert run.orphans.older_than == dt.timedelta(hours=1)
    assert len(maint.floe.snapshots.list(table)) == 2


def test_a_bad_argument_is_refused_before_anything_runs(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    with pytest.raises(floe.InvalidConfigError, match="retain_last"):
        lake.maintenance.maintain(table, older_than=dt.timedelta(0), retain_last=0)

    assert len(lake.snapshots.list(table)) == 3


def test_a_missing_table_is_table_not_found(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.TableNotFoundError):
        lake.maintenance.maintain(floe.TableIdentifier(ns, "absent"))
