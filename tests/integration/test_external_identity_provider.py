"""Polaris with an external identity provider: tokens come from there, not from the catalog.

The proxy runs as Polaris in ``external`` authentication mode: its own
``/v1/oauth/tokens`` answers 501 and it accepts the tokens of a separate
OAuth2 token endpoint on 127.0.0.1 (a Keycloak stand-in, which wants an
``audience``). floe asks that endpoint when ``oauth2_server_uri`` says so,
renews its tokens there, and says what to set when it is not configured.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

import floe
from tests.integration.conftest import FAST, PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.polaris_rules import ExternalIdentityProvider, running_idp
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64())])
AUDIENCE = "polaris-catalog"


@pytest.fixture
def idp() -> Iterator[ExternalIdentityProvider]:
    with running_idp("floe-app", "idp-secret", audience=AUDIENCE) as running:
        yield running


@pytest.fixture
def proxy(polaris_factory: PolarisFactory, idp: ExternalIdentityProvider) -> PolarisProxy:
    return polaris_factory(token_lifetime_s=600.0, identity_provider=idp)


def external_config(
    seaweed: SeaweedServer, proxy: PolarisProxy, idp: ExternalIdentityProvider, **overrides: object
) -> floe.PolarisCatalogConfig:
    values: dict[str, object] = {
        "client_id": idp.client_id,
        "client_secret": idp.client_secret,
        "oauth2_server_uri": idp.token_uri,
        "audience": AUDIENCE,
    }
    values.update(overrides)
    return polaris_config(seaweed, proxy, **values)


def test_tokens_come_from_the_external_provider(
    seaweed: SeaweedServer, proxy: PolarisProxy, idp: ExternalIdentityProvider
) -> None:
    lake = floe.Floe.from_config(
        external_config(seaweed, proxy, idp, resource="urn:floe:catalog", scope="catalog")
    )
    namespace = unique("idp")
    lake.namespaces.create(namespace)
    lake.tables.create(f"{namespace}.t", SCHEMA)
    lake.writes.append(f"{namespace}.t", pa.table({"id": [1, 2]}, schema=SCHEMA))
    assert lake.reads.scan(f"{namespace}.t").num_rows == 2
    assert idp.requests == [
        {
            "grant_type": "client_credentials",
            "scope": "catalog",
            "audience": AUDIENCE,
            "resource": "urn:floe:catalog",
        }
    ]
    assert not proxy.seen(lambda e: e.path.endswith("/oauth/tokens"))  # never asked Polaris


def test_the_external_provider_is_configured_from_the_environment(
    seaweed: SeaweedServer, proxy: PolarisProxy, idp: ExternalIdentityProvider
) -> None:
    config = floe.catalog_config_from_env(
        {
            "FLOE_CATALOG_TYPE": "polaris",
            "FLOE_CATALOG_URI": proxy.catalog_uri,
            "FLOE_CATALOG_WAREHOUSE": seaweed.warehouse,
            "FLOE_CATALOG_CLIENT_ID": idp.client_id,
            "FLOE_CATALOG_CLIENT_SECRET": idp.client_secret,
            "FLOE_CATALOG_OAUTH2_SERVER_URI": idp.token_uri,
            "FLOE_CATALOG_AUDIENCE": AUDIENCE,
        }
    )
    assert floe.Floe.from_config(config).namespaces.list() is not None
    assert [r["audience"] for r in idp.requests] == [AUDIENCE]


def test_tokens_are_renewed_at_the_external_provider(
    seaweed: SeaweedServer, proxy: PolarisProxy, idp: ExternalIdentityProvider
) -> None:
    lake = floe.Floe.from_config(external_config(seaweed, proxy, idp))
    namespace = unique("idp")
    lake.namespaces.create(namespace)
    assert idp.issued == 1
    idp.revoke()  # the provider ends every token it issued: the catalog now answers 401
    lake.tables.create(f"{namespace}.t", SCHEMA)
    assert idp.issued == 2
    assert proxy.seen(lambda e: e.status == 401)
    assert not proxy.seen(lambda e: e.path.endswith("/oauth/tokens"))


def test_polaris_own_token_endpoint_in_external_mode_says_what_to_set(
    seaweed: SeaweedServer, proxy: PolarisProxy, idp: ExternalIdentityProvider
) -> None:
    lake = floe.Floe.from_config(
        polaris_config(
            seaweed, proxy, client_id=idp.client_id, client_secret=idp.client_secret, retry=FAST
        )
    )
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.list()
    message = str(info.value)
    assert "this Polaris uses an external identity provider: set oauth2_server_uri" in message
    assert "501" in message
    tokens = proxy.seen(lambda e: e.path.endswith("/oauth/tokens"))
    assert [e.status for e in tokens] == [501]  # a configuration error: not retried
    assert idp.client_secret not in message


def test_a_wrong_secret_at_the_external_provider_is_an_authentication_error(
    seaweed: SeaweedServer, proxy: PolarisProxy, idp: ExternalIdentityProvider
) -> None:
    lake = floe.Floe.from_config(external_config(seaweed, proxy, idp, client_secret="wrong"))
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.list()
    assert "invalid_client" in str(info.value)
    assert len(idp.requests) == 1
