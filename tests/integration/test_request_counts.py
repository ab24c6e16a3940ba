"""Round trips of the IO manager over REST, counted at the Polaris proxy.

Every table load is a round trip to the catalog. For each thing an asset does
(its first materialization, a re-materialization, an append, reading an
upstream), floe may load the table at most once more than raw PyIceberg needs
for the same work, counted on the same proxy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType

import floe
from tests.integration.conftest import polaris_config, unique
from tests.integration.polaris_proxy import Exchange, PolarisProxy
from tests.integration.seaweed import SeaweedServer

SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "name", StringType(), required=False),
)


def rows(*ids: int) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.int64()), "name": [f"n{i}" for i in ids]})


def loads_of(proxy: PolarisProxy, table: str) -> int:
    """Table loads (GET …/tables/<table>) the proxy answered since it was cleared."""

    def is_load(exchange: Exchange) -> bool:
        return exchange.method == "GET" and exchange.path.split("?")[0].endswith(f"/tables/{table}")

    return len(proxy.seen(is_load))


def counted(proxy: PolarisProxy, table: str, work: Callable[[], object]) -> int:
    proxy.clear()
    work()
    return loads_of(proxy, table)


@pytest.fixture
def setting(seaweed: SeaweedServer, polaris: PolarisProxy) -> dict[str, Any]:
    """A namespace on the proxy, floe's config mapping for it and a raw PyIceberg catalog."""
    config = polaris_config(seaweed, polaris)
    namespace = unique("trips")
    floe.Floe.from_config(config).namespaces.create(namespace)
    mapping = {
        "type": "polaris",
        "uri": config.uri,
        "warehouse": config.warehouse,
        "client_id": polaris.client_id,
        "client_secret": polaris.client_secret,
        "scope": "PRINCIPAL_ROLE:ALL",
        "properties": dict(config.properties),
    }
    raw = RestCatalog(
        "raw",
        uri=polaris.catalog_uri,
        credential=f"{polaris.client_id}:{polaris.client_secret}",
        scope="PRINCIPAL_ROLE:ALL",
        warehouse=config.warehouse,
        **dict(config.properties),
    )
    return {"namespace": namespace, "catalog": mapping, "raw": raw}


def _assets(namespace: str) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    @dg.asset(key_prefix=[namespace])
    def up() -> pa.Table:
        return rows(1, 2, 3)

    @dg.asset(key_prefix=[namespace])
    def down(up: pa.Table) -> pa.Table:
        return up

    return up, down


def test_a_first_materialization_loads_at_most_once_more_than_pyiceberg(
    polaris: PolarisProxy, setting: dict[str, Any]
) -> None:
    namespace, raw = setting["namespace"], setting["raw"]
    up, _ = _assets(namespace)
    io_manager = floe.IcebergIOManager(catalog=setting["catalog"])

    ours = counted(
        polaris, "up", lambda: dg.materialize([up], resources={"io_manager": io_manager})
    )

    def pyiceberg_first_write() -> None:
        raw.create_table(f"{namespace}.theirs", SCHEMA).append(rows(1, 2, 3))

    theirs = counted(polaris, "theirs", pyiceberg_first_write)
    assert ours <= theirs + 1, (ours, theirs)


@pytest.mark.parametrize("write_mode", ["overwrite", "append"])
def test_a_rematerialization_loads_at_most_once_more_than_pyiceberg(
    polaris: PolarisProxy, setting: dict[str, Any], write_mode: str
) -> None:
    namespace, raw = setting["namespace"], setting["raw"]
    up, _ = _assets(namespace)
    io_manager = floe.IcebergIOManager(catalog=setting["catalog"], write_mode=write_mode)
    assert dg.materialize([up], resources={"io_manager": io_manager}).success
    raw.create_table(f"{namespace}.theirs", SCHEMA).append(rows(1, 2, 3))

    ours = counted(
        polaris, "up", lambda: dg.materialize([up], resources={"io_manager": io_manager})
    )

    def pyiceberg_write() -> None:
        table = raw.load_table(f"{namespace}.theirs")
        (table.overwrite if write_mode == "overwrite" else table.append)(rows(1, 2, 3))

    theirs = counted(polaris, "theirs", pyiceberg_write)
    assert ours <= theirs + 1, (ours, theirs)


def test_reading_an_upstream_loads_it_at_most_once_more_than_pyiceberg(
    polaris: PolarisProxy, setting: dict[str, Any]
) -> None:
    namespace, raw = setting["namespace"], setting["raw"]
    up, down = _assets(namespace)
    io_manager = floe.IcebergIOManager(catalog=setting["catalog"])
    assert dg.materialize([up], resources={"io_manager": io_manager}).success

    ours = counted(
        polaris,
        "up",
        lambda: dg.materialize([up, down], resources={"io_manager": io_manager}, selection=[down]),
    )
    theirs = counted(polaris, "up", lambda: raw.load_table(f"{namespace}.up").scan().to_arrow())
    assert ours <= theirs + 1, (ours, theirs)
