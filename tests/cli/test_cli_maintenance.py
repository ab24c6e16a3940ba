"""``floe maintenance compact``: offered once floe has ``MaintenanceService.compact``."""

from __future__ import annotations

import json

import pytest

import floe
from floe.application import MaintenanceService
from tests.cli.conftest import Workdir, orders

pytestmark = pytest.mark.skipif(
    not hasattr(MaintenanceService, "compact"), reason="this floe has no compaction API"
)


def test_compact_plans_then_rewrites_small_files(workdir: Workdir) -> None:
    lake = workdir.lake()
    lake.namespaces.create("shop")
    for n in range(3):
        lake.writes.append("shop.orders", orders([n]), create_if_missing=floe.NewTable())
    assert len(lake.tables.files("shop.orders")) == 3

    planned = workdir.run("maintenance", "compact", "shop.orders", "--dry-run", "--json")
    assert planned.code == 0, planned.text
    plan = json.loads(planned.stdout)
    assert plan["dry_run"] is True
    assert plan["snapshot_id"] is None
    assert (plan["files_rewritten"], plan["files_added"]) == (3, 1)
    assert len(lake.tables.files("shop.orders")) == 3

    done = workdir.run("maintenance", "compact", "shop.orders")
    assert done.code == 0, done.text
    assert done.stdout.startswith("rewrote 3 files of shop.orders")
    assert len(lake.tables.files("shop.orders")) == 1
    assert sorted(lake.reads.scan("shop.orders")["id"].to_pylist()) == [0, 1, 2]

    missing = workdir.run("maintenance", "compact", "shop.nope")
    assert missing.code == 3
