"""A REST catalog configured for PyIceberg, opened by floe and by PyIceberg alike.

The catalog is described only by ``PYICEBERG_CATALOG__<NAME>__*`` variables,
as a PyIceberg user writes them; floe connects to the real REST server with
them, and PyIceberg, given the same configuration, sees what floe wrote.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.utils.config import Config

import floe
from tests.integration.seaweed import SeaweedServer


@pytest.fixture
def pyiceberg_env(seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test server as catalog ``lake`` in PyIceberg's variables, and nothing else."""
    for key in list(os.environ):
        if key.upper().startswith("PYICEBERG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYICEBERG_HOME", str(tmp_path))
    for key, value in seaweed.catalog_properties().items():
        variable = key.replace(".", "__").replace("-", "_").upper()
        monkeypatch.setenv(f"PYICEBERG_CATALOG__LAKE__{variable}", value)
    monkeypatch.setenv("PYICEBERG_CATALOG__LAKE__TYPE", "rest")
    return "lake"


def test_floe_opens_the_catalog_pyiceberg_is_configured_for(pyiceberg_env: str) -> None:
    lake = floe.Floe.from_pyiceberg(pyiceberg_env)
    namespace = "p" + uuid.uuid4().hex[:10]
    table = floe.TableIdentifier((namespace,), "events")

    lake.namespaces.create(namespace)
    lake.writes.append(table, pa.table({"id": [1, 2]}), create_if_missing=floe.NewTable())

    assert sorted(lake.reads.scan(table).column("id").to_pylist()) == [1, 2]
    # PyIceberg's load_catalog reads its configuration once, at import: the
    # same configuration read now is handed to it explicitly.
    properties = Config().get_catalog_config(pyiceberg_env) or {}
    theirs = load_catalog(pyiceberg_env, **properties).load_table(f"{namespace}.events")
    assert theirs.scan().to_arrow().num_rows == 2
