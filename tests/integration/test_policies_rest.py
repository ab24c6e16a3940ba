"""Polaris' maintenance policies honoured over real HTTP (the Polaris-conformance proxy)."""

import datetime as dt
import json
import time
import uuid

import pyarrow as pa
import pytest

import floe
from floe.api import build_container
from floe.application import MaintenanceService
from tests.conftest import rest_config
from tests.integration.conftest import PolarisFactory, polaris_config
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.seaweed import SeaweedServer

EXPIRY = "system.snapshot-expiry"
ORPHANS = "system.orphan-file-removal"
COMPACTION = "system.data-compaction"


@pytest.fixture
def proxy(polaris_factory: PolarisFactory) -> PolarisProxy:
    return polaris_factory(token_lifetime_s=600.0)


def _lake_an_hour_ahead(config: floe.PolarisCatalogConfig) -> floe.Floe:
    """floe whose maintenance runs an hour from now: every snapshot is older than age 0."""
    container = build_container(config)
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
    return floe.Floe.from_container(container)


def _table_with_snapshots(lake: floe.Floe, count: int) -> str:
    namespace = f"pol_{uuid.uuid4().hex[:8]}"
    lake.namespaces.create((namespace,))
    table = f"{namespace}.orders"
    for i in range(count):
        lake.writes.append(table, pa.table({"id": [i]}), create_if_missing=floe.NewTable())
    return table


def test_the_policys_retention_is_used_and_an_explicit_argument_wins(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = _lake_an_hour_ahead(polaris_config(seaweed, proxy))
    table = _table_with_snapshots(lake, 5)
    proxy.attach_policy(
        table,
        name="keep-three",
        policy_type=EXPIRY,
        content={
            "version": "2025-02-03",
            "enable": True,
            "config": {"min_snapshot_to_keep": 3, "max_snapshot_age_days": 0},
        },
        inherited=True,
    )
    proxy.attach_policy(
        table,
        name="sweep",
        policy_type=ORPHANS,
        content={"enable": True, "max_orphan_file_age_in_days": 2},
    )

    run = lake.maintenance.maintain(table)

    assert run.policies.snapshot_expiry is not None
    assert run.policies.snapshot_expiry.name == "keep-three"
    assert len(lake.snapshots.list(table)) == 3
    assert run.orphans is not None
    assert run.orphans.older_than == dt.timedelta(days=2)
    asked = proxy.seen(lambda e: "/applicable-policies" in e.path)
    assert len(asked) == 1
    assert asked[0].status == 200
    assert "target-name=orders" in asked[0].path

    lake.maintenance.maintain(table, retain_last=1)

    assert len(lake.snapshots.list(table)) == 1


def test_a_disabled_policy_skips_and_malformed_content_names_the_policy(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    frozen = _table_with_snapshots(lake, 3)
    broken = _table_with_snapshots(lake, 3)
    proxy.attach_policy(frozen, name="frozen", policy_type=EXPIRY, content={"enable": False})
    proxy.attach_policy(
        broken, name="typo", policy_type=EXPIRY, content='{"enable": true, "confg": {}}'
    )

    run = lake.maintenance.maintain(frozen, older_than=dt.timedelta(0))
    with pytest.raises(floe.InvalidPolicyError) as raised:
        lake.maintenance.maintain(broken, older_than=dt.timedelta(0))

    assert run.expired is None
    assert run.skipped == ("expire_snapshots: policy 'frozen' is disabled",)
    assert [s.operation for s in lake.snapshots.list(frozen)] == ["append"] * 3 + ["replace"]
    assert raised.value.subject == "typo"
    assert "confg" in str(raised.value)
    assert len(lake.snapshots.list(broken)) == 3


def test_a_catalog_without_the_policy_endpoint_uses_floes_defaults(
    seaweed: SeaweedServer,
) -> None:
    lake = floe.Floe.from_config(rest_config(seaweed))  # SeaweedFS lists no endpoints
    table = _table_with_snapshots(lake, 3)

    run = lake.maintenance.maintain(table)

    assert run.policies == floe.TablePolicies()
    assert run.compacted is not None  # the table's target: three tiny files -> one
    assert run.compacted.files_rewritten == 3
    assert run.expired is not None
    assert run.expired.expired_snapshot_ids == ()  # younger than Iceberg's 5 days
    assert len(lake.snapshots.list(table)) == 4


def _commits(proxy: PolarisProxy, table: str) -> list[dict[str, object]]:
    """The snapshots floe's commits to ``table`` added, as the catalog received them."""
    namespace, name = table.split(".")
    where = f"/namespaces/{namespace}/tables/{name}"
    sent = proxy.seen(lambda e: e.method == "POST" and e.path.endswith(where))
    return [
        update["snapshot"]
        for exchange in sent
        for update in json.loads(exchange.body)["updates"]
        if update.get("action") == "add-snapshot"
    ]


def test_the_compaction_policy_sets_the_target_and_a_disabled_one_skips(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    sized = _table_with_snapshots(lake, 3)
    frozen = _table_with_snapshots(lake, 3)
    proxy.attach_policy(
        sized,
        name="bin-pack",
        policy_type=COMPACTION,
        content={"enable": True, "config": {"target_file_size_bytes": 1_000_000}},
        inherited=True,
    )
    proxy.attach_policy(
        frozen, name="as-written", policy_type=COMPACTION, content={"enable": False}
    )

    compacted = lake.maintenance.maintain(sized)
    skipped = lake.maintenance.maintain(frozen, target_file_size=1_000_000)

    assert compacted.policies.data_compaction is not None
    assert compacted.policies.data_compaction.name == "bin-pack"
    assert compacted.compacted is not None
    assert compacted.compacted.target_file_size == 1_000_000
    assert (compacted.compacted.files_rewritten, compacted.compacted.files_added) == (3, 1)
    assert len(lake.tables.files(sized)) == 1
    sent = _commits(proxy, sized)
    assert [s["summary"]["operation"] for s in sent] == ["append"] * 3 + ["replace"]  # type: ignore[index]
    assert sent[-1]["summary"]["deleted-data-files"] == "3"  # type: ignore[index]
    assert compacted.expired is not None  # then expiry and orphan removal, Iceberg's defaults
    assert compacted.orphans is not None

    assert skipped.compacted is None
    assert skipped.skipped == ("compact: policy 'as-written' is disabled",)
    assert len(lake.tables.files(frozen)) == 3
    assert [s["summary"]["operation"] for s in _commits(proxy, frozen)] == ["append"] * 3  # type: ignore[index]
