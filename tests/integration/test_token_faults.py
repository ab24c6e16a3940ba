"""Token endpoint faults and tokens expiring mid-operation, made to happen on purpose.

Nothing here waits for a token to run out: the proxy revokes tokens at the
exact request a test names, the token endpoint misbehaves on demand, and the
token provider's clock is the test's. So the outcome does not depend on how
fast the machine is.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
import structlog

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.adapters.iceberg.auth import TokenProvider
from floe.api import build_container
from floe.domain.config import Secret
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import OMITTED, PREFIX, PolarisProxy
from tests.integration.proxy import Fault, Recorded, redirect, running_proxy
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
TOKENS = "/oauth/tokens"
TOKEN_PATH = "/v1/oauth/tokens"


def rows(*values: int) -> pa.Table:
    return pa.table({"id": list(values), "v": [f"r{v}" for v in values]}, schema=SCHEMA)


def lake_and_backend(config: floe.PolarisCatalogConfig) -> tuple[floe.Floe, IcebergBackend]:
    container = build_container(config)
    backend: IcebergBackend = container.iceberg_backend()
    return floe.Floe.from_container(container), backend


def lake_with_table(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> tuple[floe.Floe, IcebergBackend, str]:
    lake, backend = lake_and_backend(polaris_config(seaweed, proxy))
    namespace = unique("tokens")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, rows(1, 2))
    return lake, backend, table


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


def test_a_tokens_lifetime_counts_from_when_it_was_asked_for(
    polaris_factory: PolarisFactory,
) -> None:
    """A slow token answer eats into the token's life: renew on the server's clock, not later."""
    proxy = polaris_factory(token_lifetime_s=1.0)

    def clock() -> float:
        # The answer arrives 0.9 s after the request: the token has 0.1 s left.
        return 0.9 if proxy.stats.tokens_issued else 0.0

    provider = TokenProvider(
        token_url=proxy.token_uri,
        client_id=proxy.client_id,
        client_secret=Secret(proxy.client_secret),
        scope="PRINCIPAL_ROLE:ALL",
        clock=clock,
    )
    first = provider.header()
    renewed = provider.header() != first  # half its 1 s life had gone at 0.5 s
    assert renewed
    assert provider.fetch_count == 2


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html>sign in</html>", "text/html"),
        (b"ok", "text/plain"),
        (b'{"token_type": "bearer"}', "application/json"),
    ],
    ids=["html-page", "text", "json-without-token"],
)
def test_a_token_answer_that_is_no_token_is_an_authentication_error_naming_what_came_back(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory, body: bytes, content_type: str
) -> None:
    """A login or proxy page is a misconfiguration: said at once, not retried, nothing written."""
    proxy = polaris_factory(token_lifetime_s=600.0)
    lake, backend, table = lake_with_table(seaweed, proxy)
    assert backend.tokens is not None
    backend.tokens.invalidate()
    proxy.clear()
    proxy.inject(Fault(status=200, body=body, content_type=content_type, path_contains=TOKENS))
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(floe.CatalogAuthenticationError) as info,
    ):
        lake.writes.append(table, rows(3))
    message = str(info.value)
    assert proxy.token_uri in message
    assert f"HTTP 200, {content_type}" in message
    assert "Expecting value" not in message
    assert [e for e in logs if e["event"] == "floe.retry"] == []
    assert len(proxy.seen(lambda e: TOKENS in e.path)) == 1
    assert ids(lake, table) == [1, 2]


def test_a_token_answer_cut_mid_body_is_a_transient_fault_retried_within_the_budget(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0)
    lake, backend, table = lake_with_table(seaweed, proxy)
    assert backend.tokens is not None
    backend.tokens.invalidate()
    cut = proxy.inject(Fault(cut_body=True, path_contains=TOKENS))
    with structlog.testing.capture_logs() as logs:
        lake.writes.append(table, rows(3))
    assert cut.times == 0
    retries = [e for e in logs if e["event"] == "floe.retry"]
    assert [e["error"] for e in retries] == ["CatalogConnectionError"]
    assert ids(lake, table) == [1, 2, 3]


@pytest.mark.parametrize(
    "expires_in", [0, -5, "soon", OMITTED], ids=["zero", "negative", "text", "missing"]
)
def test_a_token_answer_without_a_usable_lifetime_gets_a_sane_one_not_a_fetch_per_request(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory, expires_in: object
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0, announced_expires_in=expires_in)
    lake, _, table = lake_with_table(seaweed, proxy)
    for _ in range(10):
        lake.tables.load(table)
    assert proxy.stats.tokens_issued == 1
    assert ids(lake, table) == [1, 2]


def test_a_token_endpoint_that_is_not_there_says_the_uri_is_probably_wrong(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    """Polaris serves under ``/api/catalog``: a uri without it finds no token endpoint (404)."""
    proxy = polaris_factory(token_lifetime_s=600.0)
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy, uri=proxy.uri))
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.list()
    message = str(info.value)
    assert f"{proxy.uri}/v1/oauth/tokens" in message
    assert "HTTP 404" in message
    assert "probably wrong" in message
    assert "/api/catalog" in message
    assert "refused" not in message


def test_a_refusal_that_is_a_page_names_its_content_type(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    """A gateway's 403 page has no OAuth error code: what it was is said instead."""
    proxy = polaris_factory(token_lifetime_s=600.0)
    proxy.inject(
        Fault(
            status=403, body=b"<html>denied</html>", content_type="text/html", path_contains=TOKENS
        )
    )
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.list()
    assert f"{proxy.token_uri} refused client" in str(info.value)
    assert "HTTP 403 text/html" in str(info.value)


def test_a_redirecting_token_endpoint_is_refused_and_its_credentials_go_nowhere_else(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0)
    with running_proxy(proxy.uri) as elsewhere:
        proxy.inject(redirect(f"{elsewhere.uri}{PREFIX}{TOKEN_PATH}", path_contains=TOKENS))
        lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
        with pytest.raises(floe.CatalogAuthenticationError) as info:
            lake.namespaces.list()
        seen_elsewhere = elsewhere.seen()
    assert "redirected (HTTP 307" in str(info.value)
    assert elsewhere.uri in str(info.value)
    assert not any(has_authorization(r) for r in seen_elsewhere)
    assert all(proxy.client_secret not in r.body.decode("utf-8", "replace") for r in seen_elsewhere)


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirected_table_load_is_a_catalog_error_not_a_missing_table(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory, status: int
) -> None:
    """The answer at the other end (here a 404) is not the catalog's, and the token stays home."""
    proxy = polaris_factory(token_lifetime_s=600.0)
    lake, _, table = lake_with_table(seaweed, proxy)
    with running_proxy(proxy.uri) as elsewhere:
        moved = f"{elsewhere.uri}/moved{PREFIX}/v1/namespaces/x/tables/t"
        proxy.inject(redirect(moved, status=status, method="GET", path_contains="/tables/t"))
        with pytest.raises(floe.CatalogError) as info:
            lake.tables.load(table)
        seen_elsewhere = elsewhere.seen()
    assert not isinstance(info.value, floe.TableNotFoundError)
    assert f"HTTP {status}, a redirect to {elsewhere.uri}/moved" in str(info.value)
    assert table in str(info.value)
    assert not any(has_authorization(r) for r in seen_elsewhere)
    assert ids(lake, table) == [1, 2]  # the catalog itself still answers


def test_a_redirected_commit_is_an_unknown_outcome_and_is_not_followed(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    """The commit request went out and no definitive answer came back: never re-sent."""
    proxy = polaris_factory(token_lifetime_s=600.0)
    lake, _, table = lake_with_table(seaweed, proxy)
    with running_proxy(proxy.uri) as elsewhere:
        moved = f"{elsewhere.uri}/moved{PREFIX}/v1/namespaces/x/tables/t"
        proxy.clear()
        proxy.inject(redirect(moved, method="POST", path_contains="/tables/t"))
        with pytest.raises(floe.CommitStateUnknownError) as info:
            lake.writes.append(table, rows(3))
        seen_elsewhere = elsewhere.seen()
    assert seen_elsewhere == []
    assert "TooManyRedirects" in str(info.value)
    assert table_requests(proxy, "POST") == [307]
    assert ids(lake, table) == [1, 2]  # this proxy answered without forwarding it


def has_authorization(request: Recorded) -> bool:
    return any(key.lower() == "authorization" for key in request.headers)


def table_requests(proxy: PolarisProxy, method: str) -> list[int]:
    """The statuses of the requests ``method`` to the table ``t``, in order."""
    found = proxy.seen(lambda e: e.method == method and e.path.split("?")[0].endswith("/tables/t"))
    return [e.status for e in found]


def test_a_token_expiring_twice_within_one_write_costs_two_requests_not_the_write(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    # The server announces an hour and revokes early: floe learns it from the 401s.
    proxy = polaris_factory(token_lifetime_s=600.0, announced_expires_in=3600)
    lake, _, table = lake_with_table(seaweed, proxy)
    proxy.clear()
    lake.writes.append(table, rows(0))
    loads = table_requests(proxy, "GET")
    proxy.clear()
    # Revoked as the write loads the table for its commit, and again as it commits.
    proxy.inject(
        Fault(revoke_tokens=True, method="GET", path_contains="/tables/t", skip=len(loads) - 1)
    )
    proxy.inject(Fault(revoke_tokens=True, method="POST", path_contains="/tables/t"))
    with structlog.testing.capture_logs() as logs:
        lake.writes.append(table, rows(3), snapshot_properties={"writer.batch-id": "b1"})
    assert [e["event"] for e in logs if e["event"] in ("floe.retry", "floe.token_refresh")] == [
        "floe.token_refresh",
        "floe.token_refresh",
    ]  # no attempt was spent on them
    assert table_requests(proxy, "GET") == [*loads[:-1], 401, 200]  # the refused one went again
    assert table_requests(proxy, "POST") == [401, 200]
    tagged = [s for s in lake.snapshots.list(table) if s.summary.get("writer.batch-id") == "b1"]
    assert len(tagged) == 1
    assert ids(lake, table) == [0, 1, 2, 3]


def test_a_stream_append_survives_its_token_expiring_at_the_commit(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    """A stream is read once and never replayed; its refused commit request is re-sent alone."""
    proxy = polaris_factory(token_lifetime_s=600.0, announced_expires_in=3600)
    lake, _, table = lake_with_table(seaweed, proxy)
    proxy.clear()
    proxy.inject(Fault(revoke_tokens=True, method="POST", path_contains="/tables/t"))
    batches = iter(rows(3, 4).to_batches())
    result = lake.writes.append(table, batches)
    assert result.rows_added == 2
    assert table_requests(proxy, "POST") == [401, 200]
    assert ids(lake, table) == [1, 2, 3, 4]


def test_a_token_endpoint_down_when_a_commit_needs_a_new_token_is_retried_not_unknown(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    """The refused commit changed nothing and the re-sent one never left: retry, land once."""
    proxy = polaris_factory(token_lifetime_s=600.0, announced_expires_in=3600)
    lake, _, table = lake_with_table(seaweed, proxy)
    proxy.clear()
    proxy.inject(Fault(revoke_tokens=True, method="POST", path_contains="/tables/t"))
    proxy.inject(Fault(status=503, path_contains=TOKENS))
    with structlog.testing.capture_logs() as logs:
        lake.writes.append(table, rows(3), snapshot_properties={"writer.batch-id": "b1"})
    retries = [e for e in logs if e["event"] == "floe.retry"]
    assert [(e["operation"], e["error"]) for e in retries] == [
        ("append into table", "CatalogConnectionError")
    ]
    assert table_requests(proxy, "POST") == [401, 200]
    tagged = [s for s in lake.snapshots.list(table) if s.summary.get("writer.batch-id") == "b1"]
    assert len(tagged) == 1
    assert ids(lake, table) == [1, 2, 3]
