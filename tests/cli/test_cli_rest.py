"""The ``floe`` command against a real Iceberg REST catalog and S3 (``weed mini``)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

import floe
from tests.cli.conftest import Run, orders, run_floe
from tests.conftest import rest_config
from tests.integration.seaweed import SeaweedServer


def _config(server: SeaweedServer, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "type": "polaris",
        "uri": server.rest_uri,
        "warehouse": server.warehouse,
        "client_id": server.access_key,
        "client_secret": server.secret_key,
        "scope": "PRINCIPAL_ROLE:ALL",
        "retry": {"max_attempts": 2, "initial_wait_s": 0.05, "max_wait_s": 0.1, "jitter_s": 0},
        "properties": {
            "s3.endpoint": server.s3_endpoint,
            "s3.access-key-id": server.access_key,
            "s3.secret-access-key": server.secret_key,
            "s3.region": server.region,
        },
    }
    values.update(overrides)
    return values


def test_operator_session_over_rest(seaweed: SeaweedServer, tmp_path: Path) -> None:
    config = tmp_path / "catalog.json"
    config.write_text(json.dumps(_config(seaweed)))
    ns = "cli" + uuid.uuid4().hex[:8]
    table = f"{ns}.orders"
    runs: list[Run] = []

    def floe_cli(*args: str) -> Run:
        run = run_floe("--config", str(config), *args, cwd=tmp_path)
        runs.append(run)
        assert run.code == 0, run.text
        return run

    floe_cli("namespaces", "create", ns)
    (tmp_path / "orders.json").write_text(
        json.dumps(
            {
                "columns": [
                    {"name": "id", "type": "long", "required": True},
                    {"name": "region", "type": "string"},
                    {"name": "amount", "type": "double"},
                ],
                "partition_spec": ["identity(region)"],
            }
        )
    )
    created = json.loads(
        floe_cli("tables", "create", table, "--schema", "orders.json", "--json").stdout
    )
    assert created["partition_spec"] == ["region"]

    lake = floe.Floe.from_config(rest_config(seaweed))
    lake.writes.append(table, orders([1, 2, 3], "eu"))
    lake.writes.append(table, orders([4, 5], "us"))

    assert json.loads(floe_cli("tables", "list", ns, "--json").stdout) == {"tables": [table]}
    described = json.loads(floe_cli("tables", "describe", table, "--json").stdout)
    assert described["location"].startswith("s3://")
    partitions = json.loads(floe_cli("tables", "partitions", table, "--json").stdout)
    assert [p["record_count"] for p in partitions["partitions"]] == [3, 2]

    floe_cli("read", table, "--where", "region = 'eu'", "--to", "eu.jsonl")
    assert len((tmp_path / "eu.jsonl").read_text().splitlines()) == 3
    floe_cli("read", table, "--to", "all.parquet")
    assert pq.read_table(tmp_path / "all.parquet").num_rows == 5

    assert json.loads(floe_cli("tables", "health", table, "--json").stdout)["data_files"] == 2
    assert len(json.loads(floe_cli("snapshots", "list", table, "--json").stdout)["snapshots"]) == 2
    planned = json.loads(floe_cli("maintenance", "expire", table, "--dry-run", "--json").stdout)
    assert planned["dry_run"] is True
    assert len(json.loads(floe_cli("snapshots", "list", table, "--json").stdout)["snapshots"]) == 2
    expired = json.loads(floe_cli("maintenance", "expire", table, "--yes", "--json").stdout)
    assert expired["expired_snapshot_ids"] == planned["expired_snapshot_ids"]
    assert len(expired["expired_snapshot_ids"]) == 1
    assert expired["unreferenced_files"] == planned["unreferenced_files"]
    orphans = json.loads(floe_cli("maintenance", "orphans", table, "--dry-run", "--json").stdout)
    assert orphans["dry_run"] is True
    floe_cli("tables", "drop", table, "--purge", "--yes")
    assert not lake.tables.exists(table)
    floe_cli("namespaces", "drop", ns, "--yes")

    for run in runs:
        assert seaweed.secret_key not in run.text, run.args


def test_rest_catalog_from_environment_variables(seaweed: SeaweedServer, tmp_path: Path) -> None:
    ns = "cli" + uuid.uuid4().hex[:8]
    floe.Floe.from_config(rest_config(seaweed)).namespaces.create(ns)
    env = {
        "FLOE_CATALOG_TYPE": "polaris",
        "FLOE_CATALOG_URI": seaweed.rest_uri,
        "FLOE_CATALOG_WAREHOUSE": seaweed.warehouse,
        "FLOE_CATALOG_CLIENT_ID": seaweed.access_key,
        "FLOE_CATALOG_CLIENT_SECRET": seaweed.secret_key,
        "FLOE_CATALOG_SCOPE": "PRINCIPAL_ROLE:ALL",
    }
    listed = run_floe("namespaces", "list", "--json", cwd=tmp_path, env=env)
    assert listed.code == 0, listed.text
    assert ns in json.loads(listed.stdout)["namespaces"]
    assert seaweed.secret_key not in listed.text


def test_refused_credentials_exit_5_without_the_secret(
    seaweed: SeaweedServer, tmp_path: Path
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    config = tmp_path / "catalog.yaml"
    config.write_text(json.dumps(_config(seaweed, client_secret=wrong)))
    run = run_floe("--config", str(config), "namespaces", "list", cwd=tmp_path)
    assert run.code == 5, run.text
    assert "CatalogAuthenticationError" in run.stderr
    assert wrong not in run.text
    assert seaweed.secret_key not in run.text


def test_write_audit_publish_over_rest(seaweed: SeaweedServer, tmp_path: Path) -> None:
    config = tmp_path / "catalog.json"
    config.write_text(json.dumps(_config(seaweed)))
    ns = "cli" + uuid.uuid4().hex[:8]
    table = f"{ns}.orders"
    lake = floe.Floe.from_config(rest_config(seaweed))
    lake.namespaces.create(ns)
    lake.writes.append(table, orders([1, 2]), create_if_missing=floe.NewTable())
    first = lake.tables.load(table).current_snapshot_id

    def floe_cli(*args: str, code: int = 0) -> Run:
        run = run_floe("--config", str(config), *args, cwd=tmp_path)
        assert run.code == code, run.text
        assert seaweed.secret_key not in run.text, run.args
        return run

    tag = json.loads(floe_cli("snapshots", "tag", table, "v1", "--json").stdout)
    assert tag["ref"] == {
        "name": "v1",
        "kind": "tag",
        "snapshot_id": first,
        "max_ref_age_ms": None,
        "max_snapshot_age_ms": None,
        "min_snapshots_to_keep": None,
    }
    floe_cli("snapshots", "branch", table, "audit", "--min-snapshots-to-keep", "2")
    lake.writes.append(table, orders([3]), branch="audit")
    audited = json.loads(floe_cli("read", table, "--ref", "audit", "--json").stdout)
    assert sorted(r["id"] for r in audited["rows"]) == [1, 2, 3]
    assert len(json.loads(floe_cli("read", table, "--json").stdout)["rows"]) == 2

    published = json.loads(floe_cli("publish", table, "audit", "--yes", "--json").stdout)
    assert published["kind"] == "fast-forward"
    assert published["previous_main_id"] == first
    assert lake.tables.load(table).current_snapshot_id == published["snapshot_id"]

    lake.writes.append(table, orders([4]))
    lake.writes.append(table, orders([5]), branch="audit")
    main_head = lake.tables.load(table).current_snapshot_id
    diverged = floe_cli("publish", table, "audit", "--yes", code=4)
    assert "BranchDivergedError" in diverged.stderr
    assert f"main is at snapshot {main_head}" in diverged.stderr
    assert lake.tables.load(table).current_snapshot_id == main_head
    replayed = json.loads(floe_cli("publish", table, "audit", "--replay", "--yes", "--json").stdout)
    assert replayed["kind"] == "replay"
    assert sorted(lake.reads.scan(table)["id"].to_pylist()) == [1, 2, 3, 4, 5]

    refs = json.loads(floe_cli("refs", "list", table, "--json").stdout)["refs"]
    assert {(r["name"], r["kind"]) for r in refs} == {
        ("main", "branch"),
        ("audit", "branch"),
        ("v1", "tag"),
    }
    floe_cli("refs", "drop", table, "audit", "--yes")
    floe_cli("refs", "drop", table, "audit", "--yes", code=3)
    rolled = json.loads(
        floe_cli("snapshots", "rollback", table, "--tag", "v1", "--yes", "--json").stdout
    )
    assert rolled["snapshot_id"] == first
    assert sorted(lake.reads.scan(table)["id"].to_pylist()) == [1, 2]
    assert [r.name for r in lake.refs.list(table)] == ["main", "v1"]
