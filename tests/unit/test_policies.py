"""Polaris maintenance policies: parsed from their content, applied as a run's defaults."""

import datetime as dt
import json
import time
from typing import Any

import pyarrow as pa
import pytest

import floe
from floe.api import build_container
from floe.application import MaintenanceService
from floe.domain.policies import (
    AppliedPolicy,
    CompactionSettings,
    DataCompactionPolicy,
    OrphanFileRemovalPolicy,
    SnapshotExpiryPolicy,
    compaction_settings,
    expiry_settings,
    orphan_settings,
    table_policies,
)

EXPIRY = "system.snapshot-expiry"
ORPHANS = "system.orphan-file-removal"
COMPACTION = "system.data-compaction"


def _policy(kind: str, content: Any, name: str = "p", *, inherited: bool = False) -> AppliedPolicy:
    text = content if isinstance(content, str) else json.dumps(content)
    return AppliedPolicy(name=name, policy_type=kind, content=text, inherited=inherited)


def test_the_three_maintenance_types_are_read_and_others_ignored() -> None:
    found = table_policies(
        [
            _policy(
                EXPIRY,
                {
                    "version": "2025-02-03",
                    "enable": True,
                    "config": {
                        "min_snapshot_to_keep": 3,
                        "max_snapshot_age_days": 2,
                        "max_ref_age_days": 3,
                    },
                },
                "keep-three",
            ),
            _policy(
                ORPHANS,
                {"enable": True, "max_orphan_file_age_in_days": 1.5, "locations": ["s3://b/t"]},
                "orphans",
            ),
            _policy(COMPACTION, {"enable": False, "config": {"target_file_size_bytes": 1024}}),
            _policy("custom.acme.masking", "not json at all"),
        ]
    )

    assert found.snapshot_expiry == SnapshotExpiryPolicy(
        "keep-three", True, retain_last=3, older_than=dt.timedelta(days=2)
    )
    assert found.orphan_file_removal == OrphanFileRemovalPolicy(
        "orphans", True, older_than=dt.timedelta(hours=36)
    )
    assert found.data_compaction is not None
    assert found.data_compaction.target_file_size_bytes == 1024
    assert not found.data_compaction.enabled


def test_the_tables_own_policy_wins_over_an_inherited_one() -> None:
    found = table_policies(
        [
            _policy(EXPIRY, {"enable": True}, "from-namespace", inherited=True),
            _policy(EXPIRY, {"enable": False}, "own"),
        ]
    )

    assert found.snapshot_expiry == SnapshotExpiryPolicy("own", False)


@pytest.mark.parametrize(
    ("kind", "content", "says"),
    [
        (EXPIRY, "{not json", "not JSON"),
        (EXPIRY, "[1, 2]", "JSON object"),
        (EXPIRY, {"config": {}}, "'enable'"),
        (EXPIRY, {"enable": "yes"}, "'enable'"),
        (EXPIRY, {"enable": True, "version": "2030-01-01"}, "version"),
        (EXPIRY, {"enable": True, "retain": 2}, "unknown content field"),
        (EXPIRY, {"enable": True, "config": []}, "'config'"),
        (EXPIRY, {"enable": True, "config": {"min_snapshot_to_keep": 0}}, "min_snapshot_to_keep"),
        (EXPIRY, {"enable": True, "config": {"min_snapshot_to_keep": 1.5}}, "whole number"),
        (EXPIRY, {"enable": True, "config": {"max_snapshot_age_days": -1}}, "negative"),
        (EXPIRY, {"enable": True, "config": {"max_snapshot_age_days": "2"}}, "a number"),
        (ORPHANS, {"enable": True, "max_orphan_file_age_in_days": True}, "a number"),
        (ORPHANS, {"enable": True, "locations": "s3://b"}, "'locations'"),
        (COMPACTION, {"enable": True, "config": {"target_file_size_bytes": 0}}, "target_file"),
    ],
)
def test_malformed_content_is_a_typed_error_naming_the_policy(
    kind: str, content: Any, says: str
) -> None:
    with pytest.raises(floe.InvalidPolicyError) as raised:
        table_policies([_policy(kind, content, "nightly")])

    assert raised.value.subject == "nightly"
    assert "'nightly'" in str(raised.value)
    assert kind in str(raised.value)
    assert says in str(raised.value)


def test_settings_take_the_callers_then_the_policys_then_icebergs_defaults() -> None:
    policy = SnapshotExpiryPolicy("p", True, retain_last=4, older_than=dt.timedelta(days=1))
    assert expiry_settings(policy, older_than=None, retain_last=None) == (
        expiry_settings(None, older_than=dt.timedelta(days=1), retain_last=4)
    )
    given = expiry_settings(policy, older_than=dt.timedelta(0), retain_last=1)
    assert given is not None
    assert (given.older_than, given.retain_last) == (dt.timedelta(0), 1)
    default = expiry_settings(None, older_than=None, retain_last=None)
    assert default is not None
    assert (default.older_than, default.retain_last) == (dt.timedelta(days=5), 1)
    assert (
        expiry_settings(SnapshotExpiryPolicy("off", False), older_than=None, retain_last=2) is None
    )
    week = dt.timedelta(days=7)
    assert orphan_settings(None, older_than=None, default=week) == week
    assert orphan_settings(
        OrphanFileRemovalPolicy("o", True, dt.timedelta(days=2)), older_than=None, default=week
    ) == dt.timedelta(days=2)
    assert (
        orphan_settings(OrphanFileRemovalPolicy("o", False), older_than=week, default=week) is None
    )
    sized = DataCompactionPolicy("c", True, target_file_size_bytes=1024)
    assert compaction_settings(None, target_file_size=None) == CompactionSettings(None)
    assert compaction_settings(sized, target_file_size=None) == CompactionSettings(1024)
    assert compaction_settings(sized, target_file_size=64) == CompactionSettings(64)
    assert compaction_settings(DataCompactionPolicy("c", True), target_file_size=None) == (
        CompactionSettings(None)
    )
    assert compaction_settings(DataCompactionPolicy("off", False), target_file_size=64) is None


# -- the policy-driven run over the in-memory catalog ---------------------------------------


def _lake_with_snapshots(count: int) -> tuple[floe.Floe, Any]:
    """A table with ``count`` snapshots; its maintenance runs an hour from now (all are older)."""
    container = build_container({"type": "memory"})
    hour_ahead_ms = time.time_ns() // 1_000_000 + 3_600_000
    container.maintenance.override(
        MaintenanceService(
            container.catalog(),
            container.store(),
            container.table_files(),
            clock_ms=lambda: hour_ahead_ms,
            policies=container.policies(),
        )
    )
    lake = floe.Floe.from_container(container)
    lake.namespaces.create(("shop",))
    for i in range(count):
        lake.writes.append("shop.orders", pa.table({"id": [i]}), create_if_missing=floe.NewTable())
    return lake, container.policies()


def _expiry(**config: Any) -> AppliedPolicy:
    return _policy(EXPIRY, {"enable": True, "config": config}, "keep")


def test_the_policys_retention_is_used_when_the_caller_gives_none() -> None:
    lake, policies = _lake_with_snapshots(4)
    table = floe.TableIdentifier(("shop",), "orders")
    policies.attach(table, _expiry(min_snapshot_to_keep=2, max_snapshot_age_days=0))

    run = lake.maintenance.maintain(table)

    assert run.expired is not None
    assert len(run.expired.expired_snapshot_ids) == 3  # 4 appends + the compaction, keep 2
    assert len(lake.snapshots.list(table)) == 2
    assert run.policies.snapshot_expiry is not None
    assert run.orphans is not None  # no orphan policy: floe's 3 days
    assert run.orphans.older_than == dt.timedelta(days=3)


def test_without_a_policy_nothing_younger_than_five_days_expires() -> None:
    lake, _ = _lake_with_snapshots(3)

    run = lake.maintenance.maintain("shop.orders")

    assert run.expired is not None
    assert run.expired.expired_snapshot_ids == ()
    assert run.policies == floe.TablePolicies()


def test_an_explicit_argument_wins_over_the_policy() -> None:
    lake, policies = _lake_with_snapshots(4)
    table = floe.TableIdentifier(("shop",), "orders")
    policies.attach(table, _expiry(min_snapshot_to_keep=3, max_snapshot_age_days=0))

    lake.maintenance.maintain(table, retain_last=1)

    assert len(lake.snapshots.list(table)) == 1


def test_a_disabled_policy_skips_its_operation() -> None:
    lake, policies = _lake_with_snapshots(3)
    table = floe.TableIdentifier(("shop",), "orders")
    policies.attach(table, _policy(EXPIRY, {"enable": False}, "frozen"))
    policies.attach(table, _policy(ORPHANS, {"enable": False}, "no-sweep"))
    policies.attach(table, _policy(COMPACTION, {"enable": False}, "as-written"))

    run = lake.maintenance.maintain(table, older_than=dt.timedelta(0))

    assert run.compacted is None
    assert run.expired is None
    assert run.orphans is None
    assert run.skipped == (
        "compact: policy 'as-written' is disabled",
        "expire_snapshots: policy 'frozen' is disabled",
        "remove_orphan_files: policy 'no-sweep' is disabled",
    )
    assert len(lake.snapshots.list(table)) == 3


def test_malformed_content_runs_nothing() -> None:
    lake, policies = _lake_with_snapshots(3)
    table = floe.TableIdentifier(("shop",), "orders")
    policies.attach(table, _policy(EXPIRY, {"enable": True, "config": {"min_snapshot_to_keep": 0}}))

    with pytest.raises(floe.InvalidPolicyError, match="min_snapshot_to_keep"):
        lake.maintenance.maintain(table, older_than=dt.timedelta(0))

    assert len(lake.snapshots.list(table)) == 3


def test_a_conflicting_compaction_stops_the_run_before_the_expiry() -> None:
    # A concurrent overwrite won: the compaction commits nothing, and the
    # expiry and orphan removal that would follow do not run either.
    container = build_container({"type": "memory"})
    lake = floe.Floe.from_container(container)
    lake.namespaces.create(("shop",))
    for i in range(3):
        lake.writes.append("shop.orders", pa.table({"id": [i]}), create_if_missing=floe.NewTable())
    store = container.store()

    def overwritten(*_: Any) -> Any:
        raise floe.CommitConflictError("a file to rewrite was removed", subject="shop.orders")

    store.rewrite_data_files = overwritten  # type: ignore[method-assign]
    snapshots = lake.snapshots.list("shop.orders")

    with pytest.raises(floe.CommitConflictError):
        lake.maintenance.maintain("shop.orders", older_than=dt.timedelta(0))

    assert lake.snapshots.list("shop.orders") == snapshots
