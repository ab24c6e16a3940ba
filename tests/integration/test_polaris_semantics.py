"""floe against the proxy answering as Apache Polaris does: purge, realms, config, least privilege.

Each rule the proxy follows is Polaris' own (see ``polaris_rules``): a
purging drop is refused unless the catalog enables it, a multi-realm server
wants its realm header on every request, ``/v1/config`` lists Polaris'
endpoints and the ``%1F`` namespace separator, and a principal may call only
what it was granted.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
import requests

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.api import build_container
from tests.conftest import rest_config
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.polaris_rules import Grant, Principal
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])


def rows(*values: int) -> pa.Table:
    return pa.table({"id": list(values), "v": [f"r{v}" for v in values]}, schema=SCHEMA)


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


@pytest.fixture
def proxy(polaris_factory: PolarisFactory) -> PolarisProxy:
    """A Polaris proxy whose tokens outlive every test here."""
    return polaris_factory(token_lifetime_s=600.0)


def backend_of(config: floe.PolarisCatalogConfig) -> tuple[floe.Floe, IcebergBackend]:
    container = build_container(config)
    return floe.Floe.from_container(container), container.iceberg_backend()


# -- purge ---------------------------------------------------------------------------------


def test_a_purge_the_catalog_does_not_allow_is_a_clear_error_and_changes_nothing(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("purge")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, rows(1, 2))

    with pytest.raises(floe.PurgeDisabledError) as info:
        lake.tables.drop(table, purge=True)
    assert not isinstance(info.value, floe.CatalogAuthenticationError)
    assert "purge is disabled on this catalog" in str(info.value)
    assert "DROP_WITH_PURGE_ENABLED" in str(info.value)
    assert table in str(info.value)
    assert ids(lake, table) == [1, 2]  # the table is as it was
    purges = proxy.seen(lambda e: e.method == "DELETE" and "purgeRequested=True" in e.path)
    assert [e.status for e in purges] == [403]  # refused once, not retried

    lake.tables.drop(table)  # a plain drop is allowed
    assert lake.tables.exists(table) is False


def test_a_purge_the_catalog_allows_drops_the_table(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0, drop_with_purge_enabled=True)
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("purge")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.tables.drop(table, purge=True)
    assert lake.tables.exists(table) is False


# -- realm ---------------------------------------------------------------------------------


def test_the_realm_goes_on_token_and_catalog_requests(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0, realm="realm-a")
    without = floe.Floe.from_config(polaris_config(seaweed, proxy))
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        without.namespaces.list()
    assert "Missing or invalid realm" in str(info.value)
    assert "set realm" in str(info.value)

    proxy.clear()
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy, realm="realm-a"))
    namespace = unique("realm")
    lake.namespaces.create(namespace)
    lake.tables.create(f"{namespace}.t", SCHEMA)
    lake.writes.append(f"{namespace}.t", rows(1))
    assert ids(lake, f"{namespace}.t") == [1]
    seen = proxy.seen()
    assert any(e.path.endswith("/oauth/tokens") for e in seen)
    assert any("/v1/config" in e.path for e in seen)
    assert {e.headers.get("Polaris-Realm") for e in seen} == {"realm-a"}
    assert {e.status for e in seen} <= {200, 204}


def test_the_realm_and_its_header_name_come_from_the_environment(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0, realm="realm-b", realm_header="X-Realm")
    config = floe.catalog_config_from_env(
        {
            "FLOE_CATALOG_TYPE": "polaris",
            "FLOE_CATALOG_URI": proxy.catalog_uri,
            "FLOE_CATALOG_WAREHOUSE": seaweed.warehouse,
            "FLOE_CATALOG_CLIENT_ID": proxy.client_id,
            "FLOE_CATALOG_CLIENT_SECRET": proxy.client_secret,
            "FLOE_CATALOG_REALM": "realm-b",
            "FLOE_CATALOG_REALM_HEADER": "X-Realm",
            "FLOE_CATALOG_PROP_S3__ENDPOINT": seaweed.s3_endpoint,
            "FLOE_CATALOG_PROP_S3__ACCESS_KEY_ID": seaweed.access_key,
            "FLOE_CATALOG_PROP_S3__SECRET_ACCESS_KEY": seaweed.secret_key,
            "FLOE_CATALOG_PROP_S3__REGION": seaweed.region,
        }
    )
    lake = floe.Floe.from_config(config)
    lake.namespaces.create(unique("realm"))
    assert {e.headers.get("X-Realm") for e in proxy.seen()} == {"realm-b"}


# -- /v1/config ----------------------------------------------------------------------------


def test_config_answers_as_polaris_and_nested_namespaces_use_its_separator(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    token = requests.post(
        proxy.token_uri,
        data={"grant_type": "client_credentials", "scope": "PRINCIPAL_ROLE:ALL"},
        auth=(proxy.client_id, proxy.client_secret),
        timeout=30,
    ).json()["access_token"]
    config = requests.get(
        f"{proxy.catalog_uri}/v1/config",
        params={"warehouse": seaweed.warehouse},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()
    assert config["overrides"]["namespace-separator"] == "%1F"
    assert "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}" in config["endpoints"]
    assert "idempotency-key-lifetime" not in config  # not advertised unless honoured

    lake, backend = backend_of(polaris_config(seaweed, proxy))
    top = unique("outer")
    lake.namespaces.create(top)
    lake.namespaces.create((top, "inner"))
    table = f"{top}.inner.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, rows(1, 2))
    assert ids(lake, table) == [1, 2]
    assert lake.namespaces.list((top,)) == [(top, "inner")]
    assert backend.server_checks is True  # Polaris, from its endpoints
    nested = [e for e in proxy.seen() if "%1Finner" in e.path]
    assert nested
    assert all(e.status in (200, 204) for e in nested)
    heads = proxy.seen(lambda e: e.method == "HEAD")
    assert heads == []  # floe looked nothing up before creating: Polaris answers itself


def test_a_lax_server_keeps_floes_own_checks(seaweed: SeaweedServer) -> None:
    lake, backend = backend_of(rest_config(seaweed))
    assert backend.server_checks is False  # SeaweedFS lists no Polaris endpoints
    namespace = unique("lax")
    lake.namespaces.create(namespace)
    lake.tables.create(f"{namespace}.t", SCHEMA)
    with pytest.raises(floe.TableExistsError):
        lake.tables.create(f"{namespace}.t", SCHEMA)
    with pytest.raises(floe.NamespaceNotEmptyError):
        lake.namespaces.drop(namespace)


def test_polaris_answers_what_floe_no_longer_checks(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("strict")
    lake.namespaces.create(namespace)
    with pytest.raises(floe.NamespaceExistsError):
        lake.namespaces.create(namespace)
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.create((unique("nowhere"), "child"))
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.tables.create(f"{unique('nowhere')}.t", SCHEMA)
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.tables.list(unique("nowhere"))
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.list((unique("nowhere"),))
    lake.tables.create(f"{namespace}.t", SCHEMA)
    with pytest.raises(floe.TableExistsError):
        lake.tables.create(f"{namespace}.t", SCHEMA)
    with pytest.raises(floe.NamespaceNotEmptyError):
        lake.namespaces.drop(namespace)
    lake.tables.drop(f"{namespace}.t")
    lake.namespaces.drop(namespace)
    assert namespace not in [n[0] for n in lake.namespaces.list()]


# -- least privilege -----------------------------------------------------------------------


def narrow_proxy(polaris_factory: PolarisFactory, namespace: str) -> PolarisProxy:
    """A proxy with a principal granted create, write (and so read) and drop of tables in one
    namespace: no NAMESPACE_LIST, NAMESPACE_READ_PROPERTIES or TABLE_LIST."""
    grants = [
        Grant("TABLE_CREATE", (namespace,)),
        Grant("TABLE_WRITE_DATA", (namespace,)),
        Grant("TABLE_DROP", (namespace,)),
    ]
    return polaris_factory(
        token_lifetime_s=600.0, principals={"narrow": Principal("narrow-secret", grants)}
    )


def test_a_narrowly_granted_principal_creates_writes_reads_and_drops_its_table(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    namespace = unique("granted")
    proxy = narrow_proxy(polaris_factory, namespace)
    admin = floe.Floe.from_config(polaris_config(seaweed, proxy))
    admin.namespaces.create(namespace)
    proxy.clear()

    lake = floe.Floe.from_config(
        polaris_config(seaweed, proxy, client_id="narrow", client_secret="narrow-secret")
    )
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, rows(1, 2))
    lake.writes.append(table, rows(3))
    assert ids(lake, table) == [1, 2, 3]
    lake.tables.drop(table)
    assert proxy.stats.forbidden == 0  # no call needed more than the grants
    assert admin.tables.exists(table) is False

    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.list()  # outside its grants: the proxy does enforce them
    assert "403" in str(info.value) or "forbidden" in str(info.value).lower()


def test_floes_own_checks_need_privileges_a_narrow_principal_lacks(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    namespace = unique("granted")
    proxy = narrow_proxy(polaris_factory, namespace)
    floe.Floe.from_config(polaris_config(seaweed, proxy)).namespaces.create(namespace)
    checking = floe.Floe.from_config(
        polaris_config(
            seaweed,
            proxy,
            client_id="narrow",
            client_secret="narrow-secret",
            server_is_polaris=False,  # as if the server were lax: floe looks first
        )
    )
    with pytest.raises(floe.CatalogAuthenticationError):
        checking.tables.create(f"{namespace}.t", SCHEMA)
    assert proxy.stats.forbidden == 1
