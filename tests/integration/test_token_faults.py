"""Token endpoint faults and tokens expiring mid-operation, made to happen on purpose.

Nothing here waits for a token to run out: the proxy revokes tokens at the
exact request a test names, the token endpoint misbehaves on demand, and the
token provider's clock is the test's. So the outcome does not depend on how
fast the machine is.
"""

from __future__ import annotations

import pyarrow as pa
import structlog

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.adapters.iceberg.auth import TokenProvider
from floe.api import build_container
from floe.domain.config import Secret
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
TOKENS = "/oauth/tokens"


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


def test_a_garbled_token_answer_is_a_transient_fault_retried_within_the_budget(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0)
    lake, backend, table = lake_with_table(seaweed, proxy)
    assert backend.tokens is not None
    backend.tokens.invalidate()
    html = Fault(
        status=200, body=b"<html>sign in</html>", content_type="text/html", path_contains=TOKENS
    )
    proxy.inject(html)
    with structlog.testing.capture_logs() as logs:
        lake.writes.append(table, rows(3))
    assert html.times == 0
    retries = [e for e in logs if e["event"] == "floe.retry"]
    assert [e["error"] for e in retries] == ["CatalogConnectionError"]
    assert ids(lake, table) == [1, 2, 3]


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
