"""Registering an existing table from its metadata file (memory and embedded catalogs).

The SeaweedFS REST server used in tests deletes a table's files on drop and
breaks registered tables, so over REST only the registration itself is
checked (with vended credentials, in test_vended_credentials); Polaris
supports it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import floe


@pytest.fixture(params=["memory", "local"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> floe.Floe:
    if request.param == "memory":
        return floe.Floe.from_config(floe.MemoryCatalogConfig())
    return floe.Floe.from_config(floe.LocalCatalogConfig(str(tmp_path / "wh")))


def test_dropped_table_can_be_registered_again(lake: floe.Floe) -> None:
    lake.namespaces.create("reg")
    lake.tables.create("reg.t", pa.schema([("id", pa.int64())]))
    lake.writes.append("reg.t", pa.table({"id": [1, 2, 3]}))
    location = lake.tables.load("reg.t").metadata_location
    assert location
    lake.tables.drop("reg.t")
    info = lake.tables.register("reg.back", location)
    assert info.identifier == floe.TableIdentifier(("reg",), "back")
    assert sorted(lake.reads.scan("reg.back").column("id").to_pylist()) == [1, 2, 3]
    assert len(lake.snapshots.list("reg.back")) == 1
    lake.writes.append("reg.back", pa.table({"id": [4]}))
    assert lake.reads.scan("reg.back").num_rows == 4


def test_register_refuses_existing_name_missing_namespace_and_unknown_metadata(
    lake: floe.Floe,
) -> None:
    lake.namespaces.create("reg")
    lake.tables.create("reg.t", pa.schema([("id", pa.int64())]))
    location = lake.tables.load("reg.t").metadata_location
    assert location
    with pytest.raises(floe.TableExistsError):
        lake.tables.register("reg.t", location)
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.tables.register("nowhere.t", location)
    with pytest.raises(floe.TableNotFoundError):
        lake.tables.register("reg.ghost", location.replace("metadata", "nothing-here"))
    assert not lake.tables.exists("reg.ghost")
