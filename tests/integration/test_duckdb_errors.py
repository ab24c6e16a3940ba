"""DuckDB hand-offs whose files fail: typed floe errors when made, DuckDB's own when run."""

from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import floe
from tests.conftest import rest_config
from tests.integration.seaweed import SeaweedServer


def _table(lake: floe.Floe) -> floe.TableIdentifier:
    namespace = ("d" + uuid.uuid4().hex[:10],)  # the REST server is shared by tests
    lake.namespaces.create(namespace)
    table = floe.TableIdentifier(namespace, "t")
    lake.tables.create(table, pa.schema([("id", pa.int64())]))
    lake.writes.append(table, pa.table({"id": [1, 2, 3]}))
    return table


def test_a_missing_manifest_list_fails_the_relation_as_it_is_made(
    local_lake: floe.Floe, tmp_path: Path
) -> None:
    table = _table(local_lake)
    for manifest_list in (tmp_path / "warehouse").rglob("snap-*.avro"):
        manifest_list.unlink()

    with pytest.raises(floe.ScanError, match=str(table)) as raised:
        local_lake.reads.to_duckdb(table)

    assert "cannot be read" in str(raised.value)


def test_a_data_file_gone_before_the_relation_runs_is_duckdbs_own_error(
    local_lake: floe.Floe,
) -> None:
    table = _table(local_lake)
    relation = local_lake.reads.to_duckdb(table)
    (data_file,) = local_lake.tables.files(table)
    Path(data_file.path.removeprefix("file://")).unlink()

    # As documented: floe is not there when the relation runs.
    with pytest.raises(duckdb.IOException, match=Path(data_file.path).name):
        relation.fetchall()


def test_storage_refusing_duckdb_fails_the_relation_as_it_is_made(
    seaweed: SeaweedServer, rest_lake: floe.Floe
) -> None:
    table = _table(rest_lake)
    properties = {
        "s3.endpoint": seaweed.s3_endpoint,
        "s3.access-key-id": seaweed.access_key,
        "s3.secret-access-key": "not-the-secret",
        "s3.region": seaweed.region,
    }
    wrong_keys = floe.Floe.from_config(rest_config(seaweed, properties=properties))

    with pytest.raises(floe.ScanError, match=str(table)) as raised:
        wrong_keys.reads.to_duckdb(table)

    assert "refused" in str(raised.value)
    assert "not-the-secret" not in str(raised.value)
