"""TLS to the catalog: the CA bundle the config names wins over the environment's.

requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` replace a session's
CA bundle, while the token request (given the bundle per request) kept the
configured one: with either variable set, catalog calls failed TLS
verification against a catalog the config trusts. The Polaris proxy serves
HTTPS on 127.0.0.1 with a throwaway self-signed certificate.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pyarrow as pa
import pytest

import floe
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
CA_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@pytest.fixture
def tls_proxy(polaris_factory: PolarisFactory, certificate: tuple[Path, Path]) -> PolarisProxy:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    proxy = polaris_factory(token_lifetime_s=600.0, tls=context)
    assert proxy.catalog_uri.startswith("https://127.0.0.1:")
    return proxy


def round_trip(lake: floe.Floe) -> None:
    """Every kind of catalog call: namespace and table creation, a commit, a load, a read."""
    namespace = unique("tls")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, pa.table({"id": [7], "v": ["x"]}, schema=SCHEMA))
    assert lake.reads.scan(table).to_pylist() == [{"id": 7, "v": "x"}]


def s3(seaweed: SeaweedServer) -> dict[str, str]:
    return {
        "s3.endpoint": seaweed.s3_endpoint,
        "s3.access-key-id": seaweed.access_key,
        "s3.secret-access-key": seaweed.secret_key,
        "s3.region": seaweed.region,
    }


@pytest.mark.parametrize("variable", CA_VARIABLES)
def test_the_configured_ca_bundle_wins_over_the_environments_for_every_request(
    seaweed: SeaweedServer,
    tls_proxy: PolarisProxy,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, certifi.where())  # public CAs: they do not trust the proxy
    config = polaris_config(
        seaweed, tls_proxy, properties={**s3(seaweed), "ssl.cabundle": str(certificate[0])}
    )
    round_trip(floe.Floe.from_config(config))


def test_without_a_configured_bundle_the_environments_is_used(
    seaweed: SeaweedServer,
    tls_proxy: PolarisProxy,
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    round_trip(floe.Floe.from_config(polaris_config(seaweed, tls_proxy)))


def test_a_certificate_no_bundle_trusts_is_refused_before_the_secret_leaves(
    seaweed: SeaweedServer, tls_proxy: PolarisProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verification is on by default: the handshake fails, no request is ever answered."""
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    lake = floe.Floe.from_config(polaris_config(seaweed, tls_proxy))
    with pytest.raises(floe.CatalogConnectionError, match="SSLError"):
        lake.namespaces.create(unique("tls_refused"))
    assert tls_proxy.seen() == []
