"""``floe maintenance expire --dry-run`` and ``compact``, run as the console script."""

from __future__ import annotations

import json
import re

import floe
from tests.cli.conftest import Workdir, golden, orders, scrub_uuids


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
    too_few = workdir.run("maintenance", "compact", "shop.orders", "--min-input-files", "1")
    assert too_few.code == 2
    assert "--min-input-files" in too_few.stderr


def test_compact_is_declared_as_the_other_commands_are(workdir: Workdir) -> None:
    shown = workdir.run("maintenance", "compact", "--help")

    assert shown.code == 0, shown.text
    assert golden(shown.stdout) == (
        "Usage: floe maintenance compact [OPTIONS] TABLE\n"
        "\n"
        "  Rewrite TABLE's small data files into files near the target size (no row\n"
        "  changes).\n"
        "\n"
        "Options:\n"
        "  --target-file-size INTEGER RANGE\n"
        "                                  Bytes to aim for (default: the table's\n"
        "                                  write.target-file-size-bytes).  [x>=1]\n"
        "  --where TEXT                    Only files that may hold rows this filter\n"
        "                                  selects.\n"
        "  --min-input-files INTEGER RANGE\n"
        "                                  Small files a partition needs to be\n"
        "                                  rewritten.  [default: 2; x>=2]\n"
        "  --dry-run                       Only plan and report; write nothing.\n"
        "  --json                          Print the result as JSON (shapes in\n"
        "                                  docs/cli.md).\n"
        "  -h, --help                      Show this message and exit.\n"
    )


def _an_append_and_two_overwrites(workdir: Workdir) -> floe.Floe:
    lake = workdir.lake()
    lake.namespaces.create("shop")
    lake.writes.append("shop.orders", orders([1, 2]), create_if_missing=floe.NewTable())
    lake.writes.overwrite("shop.orders", orders([3]))
    lake.writes.overwrite("shop.orders", orders([4]))
    return lake


def _scrubbed(text: str, location: str) -> str:
    text = scrub_uuids(text.replace(location, "<location>"))
    text = re.sub(r"snap-\d+-", "snap-<id>-", text)
    return re.sub(r"\(at least [\d.]+ [KM]?i?B\)", "(at least <size>)", text)


def test_expire_dry_run_reports_and_changes_nothing(workdir: Workdir) -> None:
    lake = _an_append_and_two_overwrites(workdir)
    location = lake.tables.load("shop.orders").location
    snapshots = lake.snapshots.list("shop.orders")
    stored = sorted(p for p in (workdir.warehouse / "shop" / "orders").rglob("*") if p.is_file())

    # No confirmation is asked (stdin is not a terminal, and no --yes).
    shown = workdir.run("maintenance", "expire", "shop.orders", "--dry-run")

    assert shown.code == 0, shown.text
    assert golden(_scrubbed(shown.stdout, location)) == (
        "would expire 2 snapshots of shop.orders, would keep 1\n"
        "would delete 6 files (at least <size>): 2 data, 2 manifest, 2 manifest-list\n"
        "  <location>/data/00000-0-<uuid>.parquet\n"
        "  <location>/data/00000-0-<uuid>.parquet\n"
        "  <location>/metadata/<uuid>-m0.avro\n"
        "  <location>/metadata/<uuid>-m0.avro\n"
        "  <location>/metadata/snap-<id>-0-<uuid>.avro\n"
        "  <location>/metadata/snap-<id>-0-<uuid>.avro\n"
    )
    assert lake.snapshots.list("shop.orders") == snapshots
    assert stored == sorted(
        p for p in (workdir.warehouse / "shop" / "orders").rglob("*") if p.is_file()
    )

    planned = workdir.run("maintenance", "expire", "shop.orders", "--dry-run", "--json")
    document = json.loads(planned.stdout)
    assert document["dry_run"] is True
    assert document["expired_snapshot_ids"] == [s.snapshot_id for s in snapshots[:2]]
    assert document["retained_snapshot_ids"] == [snapshots[2].snapshot_id]
    assert document["deleted_files"]["files"] == 0
    would = {f["path"]: f["kind"] for f in document["unreferenced_files"]}
    assert sorted(would.values()) == ["data"] * 2 + ["manifest"] * 2 + ["manifest-list"] * 2

    done = workdir.run("maintenance", "expire", "shop.orders", "--yes", "--json")
    assert done.code == 0, done.text
    result = json.loads(done.stdout)
    assert result["dry_run"] is False
    assert result["expired_snapshot_ids"] == document["expired_snapshot_ids"]
    assert {f["path"] for f in result["unreferenced_files"]} == set(would)
    assert result["deleted_files"]["files"] == len(would)
    assert all(
        not (workdir.warehouse / p.removeprefix(f"{location}/")).exists()
        for p in would
        if p.startswith(location)
    )


def test_expire_dry_run_of_a_missing_table_exits_3(workdir: Workdir) -> None:
    workdir.lake().namespaces.create("shop")

    missing = workdir.run("maintenance", "expire", "shop.nope", "--dry-run")

    assert missing.code == 3
    assert "TableNotFoundError" in missing.stderr
