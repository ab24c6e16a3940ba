"""The ``floe`` command over the embedded local catalog, run as a subprocess."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import floe
from tests.cli.conftest import Workdir, golden, orders, scrub_uuids

SCHEMA_YAML = """\
columns:
  - {name: id, type: long, required: true}
  - {name: ts, type: timestamptz}
  - {name: amount, type: "decimal(12, 2)"}
  - {name: tags, type: "list<string>"}
partition_spec: ["day(ts)"]
properties: {owner: ops}
"""


def seeded(workdir: Workdir, batches: int = 2) -> floe.Floe:
    """``shop.orders`` (unpartitioned) with ``batches`` appends of two rows each."""
    lake = workdir.lake()
    lake.namespaces.create("shop")
    for n in range(batches):
        lake.writes.append(
            "shop.orders", orders([2 * n + 1, 2 * n + 2]), create_if_missing=floe.NewTable()
        )
    return lake


def test_namespaces_lifecycle(workdir: Workdir) -> None:
    created = workdir.run("namespaces", "create", "shop", "--property", "owner=ops", "--json")
    assert created.code == 0, created.text
    assert json.loads(created.stdout) == {"namespace": "shop", "properties": {"owner": "ops"}}
    assert workdir.run("namespaces", "create", "shop.eu").code == 0

    listed = workdir.run("namespaces", "list", "--recursive")
    assert listed.code == 0
    assert golden(listed.stdout) == "shop\nshop.eu\n"
    assert json.loads(workdir.run("namespaces", "list", "--json").stdout) == {
        "namespaces": ["shop"]
    }

    changed = workdir.run(
        "namespaces", "properties", "shop", "--set", "team=data", "--remove", "owner", "--json"
    )
    assert json.loads(changed.stdout) == {"namespace": "shop", "properties": {"team": "data"}}

    not_empty = workdir.run("namespaces", "drop", "shop", "--yes")
    assert not_empty.code == 4
    assert "NamespaceNotEmptyError" in not_empty.stderr

    refused = workdir.run("namespaces", "drop", "shop.eu")
    assert refused.code == 2
    assert "pass --yes" in refused.stderr
    assert workdir.lake().namespaces.exists("shop.eu")

    assert workdir.run("namespaces", "drop", "shop.eu", "--yes").code == 0
    assert not workdir.lake().namespaces.exists("shop.eu")
    gone = workdir.run("namespaces", "drop", "shop.eu", "--yes", "--json")
    assert gone.code == 3
    error = json.loads(gone.stderr)["error"]
    assert error["type"] == "NamespaceNotFoundError"
    assert error["exit_code"] == 3
    assert "shop.eu" in error["message"]


def test_create_from_a_schema_file_and_describe(workdir: Workdir) -> None:
    (workdir.path / "orders.yaml").write_text(SCHEMA_YAML)
    workdir.lake().namespaces.create("shop")

    created = workdir.run("tables", "create", "shop.events", "--schema", "orders.yaml", "--json")
    assert created.code == 0, created.text
    document = json.loads(created.stdout)
    assert document["table"] == "shop.events"
    assert document["schema"] == [
        {"name": "id", "type": "long", "required": True},
        {"name": "ts", "type": "timestamptz", "required": False},
        {"name": "amount", "type": "decimal(12, 2)", "required": False},
        {"name": "tags", "type": "list<string>", "required": False},
    ]
    assert document["partition_spec"] == ["day(ts)"]
    assert document["properties"]["owner"] == "ops"
    assert document["current_snapshot_id"] is None
    assert set(document) == {
        "table",
        "location",
        "current_snapshot_id",
        "metadata_location",
        "schema",
        "partition_spec",
        "properties",
    }

    described = workdir.run("tables", "describe", "shop.events")
    assert described.code == 0
    location = (workdir.warehouse / "shop" / "events").as_uri()
    assert golden(scrub_uuids(described.stdout), {location: "<location>"}) == (
        "table:          shop.events\n"
        "location:       <location>\n"
        "snapshot:       none\n"
        "metadata:       <location>/metadata/00000-<uuid>.metadata.json\n"
        "partitioned by: day(ts)\n"
        "schema\n"
        "column   type             required\n"
        "──────────────────────────────────\n"
        "id       long             yes\n"
        "ts       timestamptz\n"
        "amount   decimal(12, 2)\n"
        "tags     list<string>\n"
        "properties\n"
        "property                                     value\n"
        "────────────────────────────────────────────────────\n"
        "commit.retry.max-wait-ms                     5000\n"
        "commit.retry.min-wait-ms                     50\n"
        "commit.retry.num-retries                     10\n"
        "owner                                        ops\n"
        "write.metadata.delete-after-commit.enabled   true\n"
        "write.metadata.previous-versions-max         20\n"
        "write.parquet.dict-size-bytes                1048576\n"
    )

    again = workdir.run("tables", "create", "shop.events", "--schema", "orders.yaml")
    assert again.code == 4
    assert "TableExistsError" in again.stderr


def test_a_bad_schema_file_is_a_usage_error_naming_the_column(workdir: Workdir) -> None:
    workdir.lake().namespaces.create("shop")
    (workdir.path / "bad.json").write_text(
        json.dumps({"columns": [{"name": "id", "type": "long"}, {"name": "x", "type": "int64"}]})
    )
    bad = workdir.run("tables", "create", "shop.bad", "--schema", "bad.json")
    assert bad.code == 2
    assert "InvalidSchemaError" in bad.stderr
    assert "'x'" in bad.stderr
    assert "'int64'" in bad.stderr
    assert not workdir.lake().tables.exists("shop.bad")


def test_tables_list_defaults_to_every_namespace(workdir: Workdir) -> None:
    lake = seeded(workdir, batches=1)
    lake.namespaces.create("web")
    lake.writes.append("web.visits", orders([1]), create_if_missing=floe.NewTable())

    listed = workdir.run("tables", "list")
    assert listed.code == 0, listed.text
    assert golden(listed.stdout) == "shop.orders\nweb.visits\n"
    assert json.loads(workdir.run("tables", "list", "web", "--json").stdout) == {
        "tables": ["web.visits"]
    }
    missing = workdir.run("tables", "list", "nowhere")
    assert missing.code == 3


def test_files_partitions_health_and_snapshots(workdir: Workdir) -> None:
    lake = seeded(workdir, batches=2)

    files = json.loads(workdir.run("tables", "files", "shop.orders", "--json").stdout)
    expected = lake.tables.files("shop.orders")
    assert files["table"] == "shop.orders"
    assert sorted(f["path"] for f in files["files"]) == sorted(f.path for f in expected)
    assert {f["record_count"] for f in files["files"]} == {2}
    assert set(files["files"][0]) == {"path", "partition", "record_count", "size_bytes"}
    human = workdir.run("tables", "files", "shop.orders")
    assert human.code == 0
    assert "2 files," in human.stdout

    partitions = json.loads(workdir.run("tables", "partitions", "shop.orders", "--json").stdout)
    assert partitions["partitions"] == [
        {
            "partition": {},
            "record_count": 4,
            "file_count": 2,
            "size_bytes": sum(f.size_bytes for f in expected),
        }
    ]

    health = json.loads(workdir.run("tables", "health", "shop.orders", "--json").stdout)
    assert health["snapshots"] == 2
    assert health["data_files"] == 2
    assert health["small_files"] == 2
    assert set(health) >= {"data_bytes", "manifests", "metadata_bytes", "small_file_ratio"}
    text = workdir.run("tables", "health", "shop.orders", "--small-file-bytes", "1").stdout
    assert "small files:  0 (0%) under 1 B" in text

    snapshots = json.loads(workdir.run("snapshots", "list", "shop.orders", "--json").stdout)
    history = lake.snapshots.list("shop.orders")
    assert [s["snapshot_id"] for s in snapshots["snapshots"]] == [s.snapshot_id for s in history]
    assert snapshots["snapshots"][-1]["refs"] == ["main"]
    assert snapshots["snapshots"][0]["operation"] == "append"
    assert snapshots["snapshots"][0]["committed_at"].endswith("+00:00")
    table = workdir.run("snapshots", "list", "shop.orders")
    assert str(history[-1].snapshot_id) in table.stdout
    assert "main" in table.stdout


def test_read_shows_rows(workdir: Workdir) -> None:
    seeded(workdir, batches=1)

    shown = workdir.run("read", "shop.orders", "--columns", "id,amount")
    assert shown.code == 0, shown.text
    assert golden(shown.stdout) == ("id   amount\n───────────\n1    1.5\n2    3.0\n")
    assert "2 rows" in shown.stderr

    document = json.loads(workdir.run("read", "shop.orders", "--where", "id > 1", "--json").stdout)
    assert document == {
        "table": "shop.orders",
        "columns": ["id", "region", "amount"],
        "rows": [{"id": 2, "region": "eu", "amount": 3.0}],
    }


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_read_to_a_file(workdir: Workdir, fmt: str) -> None:
    lake = seeded(workdir, batches=3)
    first = lake.snapshots.list("shop.orders")[0].snapshot_id

    written = workdir.run("read", "shop.orders", "--to", f"out.{fmt}", "--json")
    assert written.code == 0, written.text
    assert written.stderr == ""  # no progress drawn without a terminal
    path = workdir.path / f"out.{fmt}"
    report = json.loads(written.stdout)
    assert report == {
        "table": "shop.orders",
        "path": f"out.{fmt}",
        "format": fmt,
        "rows": 6,
        "bytes": path.stat().st_size,
    }
    if fmt == "parquet":
        assert sorted(pq.read_table(path)["id"].to_pylist()) == [1, 2, 3, 4, 5, 6]
    elif fmt == "csv":
        assert sorted(pa_csv.read_csv(path)["id"].to_pylist()) == [1, 2, 3, 4, 5, 6]
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert sorted(r["id"] for r in rows) == [1, 2, 3, 4, 5, 6]

    exists = workdir.run("read", "shop.orders", "--to", f"out.{fmt}", "--snapshot", str(first))
    assert exists.code == 4
    assert "--overwrite" in exists.stderr

    old = workdir.run(
        "read", "shop.orders", "--to", f"out.{fmt}", "--snapshot", str(first), "--overwrite"
    )
    assert old.code == 0, old.text
    assert old.stdout.startswith("wrote 2 rows of shop.orders")
    assert sorted(os.listdir(workdir.path)) == [".floe", f"out.{fmt}"]


def test_read_errors_have_their_exit_codes(workdir: Workdir) -> None:
    seeded(workdir, batches=1)

    missing = workdir.run("read", "shop.nope", "--to", "x.parquet")
    assert missing.code == 3
    assert "TableNotFoundError" in missing.stderr
    assert not (workdir.path / "x.parquet").exists()

    bad_filter = workdir.run("read", "shop.orders", "--where", "nope = 1")
    assert bad_filter.code == 2
    assert "InvalidFilterError" in bad_filter.stderr

    both = workdir.run("read", "shop.orders", "--snapshot", "1", "--as-of", "2024-01-01T00:00:00Z")
    assert both.code == 2

    no_format = workdir.run("read", "shop.orders", "--to", "out.txt")
    assert no_format.code == 2
    assert "--format" in no_format.stderr

    not_yet = workdir.run("read", "shop.orders", "--as-of", "2000-01-01T00:00:00+00:00")
    assert not_yet.code == 3
    assert "SnapshotNotFoundError" in not_yet.stderr


def test_usage_errors_exit_2(workdir: Workdir) -> None:
    unknown = workdir.run("tables", "frobnicate")
    assert unknown.code == 2
    assert "No such command" in unknown.stderr
    both = workdir.run("--config", "/dev/null", "--catalog", "x", "tables", "list")
    assert both.code == 2
    duration = workdir.run("maintenance", "orphans", "shop.orders", "--older-than", "soon")
    assert duration.code == 2
    assert "'soon' is not a duration" in duration.stderr
    assert golden(duration.stderr) == (
        "Usage: floe maintenance orphans [OPTIONS] TABLE\n"
        "Try 'floe maintenance orphans --help' for help.\n"
        "\n"
        "Error: Invalid value for '--older-than': 'soon' is not a duration such as 7d, 12h, "
        "1d12h, 30m or 90s\n"
    )


def test_expire_asks_first_then_expires(workdir: Workdir) -> None:
    lake = seeded(workdir, batches=3)
    before = lake.snapshots.list("shop.orders")

    refused = workdir.run("maintenance", "expire", "shop.orders")
    assert refused.code == 2
    assert "refusing to expire the snapshots of shop.orders" in refused.stderr
    assert lake.snapshots.list("shop.orders") == before

    declined = workdir.run("maintenance", "expire", "shop.orders", "--older-than", "1d")
    assert declined.code == 2

    expired = workdir.run(
        "maintenance", "expire", "shop.orders", "--retain-last", "2", "-y", "--json"
    )
    assert expired.code == 0, expired.text
    document = json.loads(expired.stdout)
    assert document["expired_snapshot_ids"] == [before[0].snapshot_id]
    assert document["retained_snapshot_ids"] == [s.snapshot_id for s in before[1:]]
    assert document["protected_snapshot_ids"] == []
    assert document["deleted_files"]["by_kind"]["manifest-list"]["files"] == 1
    assert set(document["deleted_files"]) == {
        "files",
        "size_bytes",
        "by_kind",
        "failed_paths",
        "skipped",
    }
    assert len(lake.snapshots.list("shop.orders")) == 2

    human = workdir.run("maintenance", "expire", "shop.orders", "--yes")
    assert human.stdout.startswith("expired 1 snapshots of shop.orders, kept 1\n")


def test_orphans_dry_run_then_delete(workdir: Workdir) -> None:
    seeded(workdir, batches=1)
    orphan = workdir.warehouse / "shop" / "orders" / "data" / "crashed-write.parquet"
    orphan.write_bytes(b"x" * 100)
    week_ago = time.time() - 7 * 86400
    os.utime(orphan, (week_ago, week_ago))

    dry = workdir.run("maintenance", "orphans", "shop.orders", "--dry-run", "--json")
    assert dry.code == 0, dry.text
    document = json.loads(dry.stdout)
    assert document["dry_run"] is True
    assert document["older_than_seconds"] == 3 * 86400
    assert document["orphan_bytes"] == 100
    assert [p.endswith("crashed-write.parquet") for p in document["orphan_paths"]] == [True]
    assert document["deleted_files"]["files"] == 0
    assert orphan.exists()

    refused = workdir.run("maintenance", "orphans", "shop.orders")
    assert refused.code == 2
    assert orphan.exists()

    short = workdir.run("maintenance", "orphans", "shop.orders", "--older-than", "1h", "--yes")
    assert short.code == 2
    assert "InvalidConfigError" in short.stderr

    deleted = workdir.run("maintenance", "orphans", "shop.orders", "--yes")
    assert deleted.code == 0, deleted.text
    assert "found 1 orphan files of shop.orders (100 B) older than 3d" in deleted.stdout
    assert "deleted 1 files (100 B): 1 orphan" in deleted.stdout
    assert not orphan.exists()
    assert workdir.lake().reads.scan("shop.orders").num_rows == 2


def test_drop_table_asks_first_and_purges(workdir: Workdir) -> None:
    lake = seeded(workdir, batches=1)
    location = Path(lake.tables.load("shop.orders").location.removeprefix("file://"))

    assert list(location.rglob("*.parquet"))
    refused = workdir.run("tables", "drop", "shop.orders", "--purge")
    assert refused.code == 2
    assert lake.tables.exists("shop.orders")

    dropped = workdir.run("tables", "drop", "shop.orders", "--purge", "--yes", "--json")
    assert dropped.code == 0, dropped.text
    assert json.loads(dropped.stdout) == {"dropped": "shop.orders", "purged": True}
    assert not lake.tables.exists("shop.orders")
    assert list(location.rglob("*.parquet")) == []
    assert workdir.run("tables", "drop", "shop.orders", "--yes").code == 3


def test_config_file_env_and_pyiceberg_catalog_choose_the_catalog(
    workdir: Workdir, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    lake = floe.Floe.from_config(floe.LocalCatalogConfig(str(elsewhere)))
    lake.namespaces.create("far")

    (workdir.path / "lake.yaml").write_text(f"type: local\nwarehouse_path: {elsewhere}\n")
    from_file = workdir.run("--config", "lake.yaml", "namespaces", "list")
    assert from_file.stdout == "far\n"

    from_env = workdir.run(
        "namespaces",
        "list",
        env={"FLOE_CATALOG_TYPE": "local", "FLOE_CATALOG_WAREHOUSE_PATH": str(elsewhere)},
    )
    assert from_env.stdout == "far\n"

    home = tmp_path / "pyiceberg"
    home.mkdir()
    (home / ".pyiceberg.yaml").write_text(
        f"catalog:\n  floe:\n    uri: sqlite:///{elsewhere / 'catalog.db'}\n"
        f"    warehouse: {elsewhere.as_uri()}\n"
    )
    from_pyiceberg = workdir.run(
        "--catalog", "floe", "namespaces", "list", env={"PYICEBERG_HOME": str(home)}
    )
    assert from_pyiceberg.stdout == "far\n", from_pyiceberg.text

    default = workdir.run("namespaces", "list", "--json")
    assert json.loads(default.stdout) == {"namespaces": []}

    broken = workdir.path / "broken.yaml"
    broken.write_text("type: local\nwarehouse_path: [unclosed\n")
    bad = workdir.run("--config", str(broken), "namespaces", "list")
    assert bad.code == 2
    assert "InvalidConfigError" in bad.stderr


def test_an_unreachable_catalog_exits_5_and_never_shows_the_secret(workdir: Workdir) -> None:
    secret = "s3cr3t-never-printed-4711"
    config = {
        "type": "polaris",
        "uri": "http://127.0.0.1:9/api/catalog",
        "warehouse": "lake",
        "client_id": "ops",
        "client_secret": secret,
        "retry": {"max_attempts": 1, "initial_wait_s": 0, "max_wait_s": 0, "jitter_s": 0},
        "properties": {"s3.secret-access-key": secret + "-s3"},
    }
    (workdir.path / "rest.json").write_text(json.dumps(config))
    for args in (("tables", "list"), ("namespaces", "list", "--json"), ("--help",)):
        run = workdir.run("--config", "rest.json", *args)
        assert secret not in run.text
        if args != ("--help",):
            assert run.code == 5, run.text
            assert "CatalogConnectionError" in run.stderr


def test_the_console_script_names_an_importable_callable() -> None:
    import importlib
    import tomllib

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    module_name, _, attribute = scripts["floe"].partition(":")
    target = getattr(importlib.import_module(module_name), attribute)
    assert callable(target)
    with pytest.raises(SystemExit) as exit_info:
        target(["--version"])
    assert exit_info.value.code == 0


def test_terminal_reads_are_bounded_and_options_go_before_the_command(workdir: Workdir) -> None:
    lake = workdir.lake()
    lake.namespaces.create("shop")
    lake.writes.append("shop.big", orders(list(range(25))), create_if_missing=floe.NewTable())

    shown = workdir.run("--json", "read", "shop.big")
    assert shown.code == 0, shown.text
    assert len(json.loads(shown.stdout)["rows"]) == 20
    assert (
        len(json.loads(workdir.run("read", "shop.big", "--limit", "25", "--json").stdout)["rows"])
        == 25
    )

    quiet = workdir.run("tables", "list")
    assert "floe.operation" not in quiet.stderr
    logged = workdir.run("-vv", "tables", "list")
    assert logged.stdout == "shop.big\n"
    assert "event=floe.operation" in logged.stderr
