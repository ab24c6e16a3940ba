"""The commits floe sends for branch work, as a Polaris catalog receives them.

SeaweedFS accepts what it is sent; these pin what floe asks for, so a
stricter catalog (Polaris) applies exactly the intended change: each ref
update names the head it replaces, a branch write carries the branch's
retention, and a publish is one commit.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import floe
from tests.contract.test_table_store_contract import SCHEMA, rows
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.seaweed import SeaweedServer


@pytest.fixture
def proxy(polaris_factory: PolarisFactory) -> PolarisProxy:
    return polaris_factory(token_lifetime_s=600.0)


def _commits(proxy: PolarisProxy, table: str) -> list[dict[str, Any]]:
    name = table.rsplit(".", 1)[1]
    return [
        json.loads(e.body)
        for e in proxy.seen(
            lambda e: e.method == "POST" and e.path.split("?")[0].endswith("/tables/" + name)
        )
    ]


def _lake(seaweed: SeaweedServer, proxy: PolarisProxy) -> tuple[floe.Floe, str]:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("branchreq")
    lake.namespaces.create(namespace)
    table = f"{namespace}.events"
    lake.tables.create(table, SCHEMA, ["day(ts)"])
    lake.writes.append(table, rows([1]))
    return lake, table


def test_a_branch_write_asserts_every_head_and_keeps_the_branch_retention(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake, table = _lake(seaweed, proxy)
    main = lake.refs.get(table, "main").snapshot_id
    branch = lake.refs.create_branch(table, "audit", min_snapshots_to_keep=3)
    proxy.clear()

    lake.writes.append(table, rows([2]), branch="audit")

    (commit,) = _commits(proxy, table)
    asserted = {
        r["ref"]: r["snapshot-id"]
        for r in commit["requirements"]
        if r["type"] == "assert-ref-snapshot-id"
    }
    assert asserted == {"audit": branch.snapshot_id, "main": main}
    (moved,) = [u for u in commit["updates"] if u["action"] == "set-snapshot-ref"]
    assert moved["ref-name"] == "audit"
    assert moved["type"] == "branch"
    assert moved["min-snapshots-to-keep"] == 3


def test_a_fast_forward_publish_is_one_ref_update_naming_main_s_head(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake, table = _lake(seaweed, proxy)
    main = lake.refs.get(table, "main").snapshot_id
    lake.refs.create_branch(table, "audit")
    head = lake.writes.append(table, rows([2]), branch="audit").snapshot_id
    proxy.clear()

    lake.refs.publish(table, "audit")

    (commit,) = _commits(proxy, table)
    asserted = [r for r in commit["requirements"] if r["type"] == "assert-ref-snapshot-id"]
    assert asserted == [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": main}]
    assert [(u["action"], u.get("ref-name"), u.get("snapshot-id")) for u in commit["updates"]] == [
        ("set-snapshot-ref", "main", head)
    ]
