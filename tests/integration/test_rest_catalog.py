"""The REST adapter over real HTTP: auth, token lifecycle, retries, Polaris semantics."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.api import build_container, create_catalog
from floe.domain.config import Secret
from floe.ports import CatalogPort
from tests.conftest import rest_config
from tests.integration.proxy import CatalogProxy, Fault
from tests.integration.seaweed import SeaweedServer, start_seaweed

FAST = floe.RetryConfig(max_attempts=3, initial_wait_s=0.01, max_wait_s=0.05, jitter_s=0.01)
SCHEMA = pa.schema([("id", pa.int64()), ("ts", pa.timestamp("us")), ("v", pa.string())])


def lake_and_backend(config: floe.PolarisCatalogConfig) -> tuple[floe.Floe, IcebergBackend]:
    container = build_container(config)
    backend: IcebergBackend = container.iceberg_backend()
    return floe.Floe.from_container(container), backend


def via_proxy(
    server: SeaweedServer, proxy: CatalogProxy, **kw: object
) -> floe.PolarisCatalogConfig:
    return rest_config(
        server, uri=proxy.uri, oauth2_server_uri=f"{proxy.uri}/v1/oauth/tokens", **kw
    )


def test_new_user_walkthrough_through_public_names(seaweed: SeaweedServer) -> None:
    config = floe.load_catalog_config(
        {
            "type": "polaris",
            "uri": seaweed.rest_uri,
            "warehouse": seaweed.warehouse,
            "client_id": seaweed.access_key,
            "client_secret": seaweed.secret_key,
            "properties": {
                "s3.endpoint": seaweed.s3_endpoint,
                "s3.access-key-id": seaweed.access_key,
                "s3.secret-access-key": seaweed.secret_key,
                "s3.region": seaweed.region,
            },
        }
    )
    lake = floe.Floe.from_config(config)
    lake.namespaces.create(("walk", "through"), create_parents=True)
    table = floe.TableIdentifier(("walk", "through"), "events")
    lake.tables.create(table, SCHEMA, ["day(ts)"])
    first = lake.writes.append(
        table, pa.table({"id": [1, 2], "ts": [dt.datetime(2024, 1, 1)] * 2, "v": ["a", "b"]})
    )
    lake.writes.append(table, pa.table({"id": [3], "ts": [dt.datetime(2024, 1, 2)], "v": ["c"]}))
    got = lake.reads.scan(table, columns=["id"], row_filter="ts >= '2024-01-02T00:00:00'")
    assert got.column("id").to_pylist() == [3]
    assert len(lake.snapshots.list(table)) == 2
    assert lake.reads.scan(table, snapshot_id=first.snapshot_id).num_rows == 2
    result = lake.maintenance.expire_snapshots(table, retain_last=1)
    assert result.expired_snapshot_ids == (first.snapshot_id,)
    assert lake.reads.scan(table).num_rows == 3
    assert isinstance(create_catalog(config), CatalogPort)


def test_token_request_uses_client_credentials_and_configured_scope(
    seaweed: SeaweedServer, proxy: CatalogProxy
) -> None:
    lake = floe.Floe.from_config(via_proxy(seaweed, proxy, scope="PRINCIPAL_ROLE:data_eng"))
    lake.namespaces.list()
    token_calls = proxy.seen(lambda r: r.path.endswith("/oauth/tokens"))
    assert len(token_calls) == 1
    form = token_calls[0].form
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "PRINCIPAL_ROLE:data_eng"
    basic = token_calls[0].headers["Authorization"]
    assert basic.startswith("Basic ")
    assert base64.b64decode(basic[6:]).decode() == f"{seaweed.access_key}:{seaweed.secret_key}"
    assert "client_secret" not in form
    config_calls = proxy.seen(lambda r: r.path.startswith("/v1/config"))
    assert config_calls
    assert "warehouse=warehouse" in config_calls[0].path
    listed = proxy.seen(lambda r: r.method == "GET" and "/namespaces" in r.path)
    assert listed[-1].path.startswith("/v1/warehouse/namespaces")
    assert listed[-1].headers["Authorization"].startswith("Bearer ")


def test_corrupted_token_is_refreshed_exactly_once(seaweed: SeaweedServer) -> None:
    lake, backend = lake_and_backend(rest_config(seaweed, retry=FAST))
    lake.namespaces.create_if_not_exists("tok")
    tokens = backend.tokens
    assert tokens is not None
    before = tokens.fetch_count
    tokens._token = Secret("corrupted-token")  # what an expired or revoked token looks like
    assert lake.namespaces.exists("tok") is True
    assert tokens.fetch_count == before + 1


def test_401_from_the_catalog_refreshes_for_the_resend_and_once_more_for_the_retry(
    seaweed: SeaweedServer, proxy: CatalogProxy
) -> None:
    lake, backend = lake_and_backend(via_proxy(seaweed, proxy, retry=FAST))
    lake.namespaces.create_if_not_exists("auth401")
    assert backend.tokens is not None
    before = backend.tokens.fetch_count
    proxy.clear()
    # Refused twice: PyIceberg re-sends the request once, with a new token floe
    # fetched; refused again, floe refreshes once more and runs the call again.
    proxy.inject(Fault(status=419, method="GET", path_contains="/namespaces/auth401", times=2))
    with structlog.testing.capture_logs() as logs:
        assert lake.namespaces.load("auth401").namespace == ("auth401",)
    assert backend.tokens.fetch_count == before + 2
    assert len(proxy.seen(lambda r: r.path.endswith("/namespaces/auth401"))) == 3
    assert [e["event"] for e in logs].count("floe.token_refresh") == 2


def test_static_token_rejected_is_an_authentication_error(seaweed: SeaweedServer) -> None:
    config = rest_config(seaweed, client_id=None, client_secret=None, token="not-a-valid-token")
    lake = floe.Floe.from_config(config)
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.list()
    assert "not-a-valid-token" not in str(info.value)


def test_wrong_secret_is_typed_and_never_shown(
    seaweed: SeaweedServer, spans: InMemorySpanExporter
) -> None:
    wrong = "WRONG-" + seaweed.secret_key
    lake = floe.Floe.from_config(rest_config(seaweed, client_secret=wrong, retry=FAST))
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(floe.CatalogAuthenticationError) as info,
    ):
        lake.namespaces.list()
    assert "invalid_client" in str(info.value) or "401" in str(info.value)
    everything = json.dumps(
        [str(info.value), repr(info.value), repr(lake.catalog), repr(logs)]
        + [json.dumps(dict(s.attributes or {})) + s.name for s in spans.get_finished_spans()],
        default=str,
    )
    assert wrong not in everything
    assert seaweed.secret_key not in everything
    assert any(
        s.attributes and s.attributes.get("floe.outcome") == "error"
        for s in spans.get_finished_spans()
    )


def test_every_operation_emits_a_span_and_an_event(
    rest_lake: floe.Floe, spans: InMemorySpanExporter
) -> None:
    with structlog.testing.capture_logs() as logs:
        rest_lake.namespaces.create_if_not_exists("observed")
        rest_lake.tables.create_if_not_exists("observed.t", SCHEMA)
    names = [s.name for s in spans.get_finished_spans()]
    assert "floe create namespace" in names
    assert "floe create table" in names
    done = [
        e for e in logs if e["event"] == "floe.operation" and e["operation"].startswith("create")
    ]
    assert {e["operation"] for e in done} == {"create namespace", "create table"}
    assert all(e["outcome"] == "ok" and e["adapter"] == "rest" for e in done)
    assert all(isinstance(e["duration_ms"], float) for e in done)


def test_transient_503_is_retried_with_backoff(seaweed: SeaweedServer, proxy: CatalogProxy) -> None:
    lake = floe.Floe.from_config(via_proxy(seaweed, proxy, retry=FAST))
    lake.namespaces.create_if_not_exists("flaky")
    proxy.inject(Fault(status=503, method="GET", path_contains="/namespaces/flaky", times=2))
    with structlog.testing.capture_logs() as logs:
        assert lake.namespaces.exists("flaky")
    retries = [e for e in logs if e["event"] == "floe.retry"]
    assert [e["attempt"] for e in retries] == [1, 2]
    assert all(e["error"] == "ServiceUnavailableError" for e in retries)


def test_4xx_is_not_retried(seaweed: SeaweedServer, proxy: CatalogProxy) -> None:
    lake = floe.Floe.from_config(via_proxy(seaweed, proxy, retry=FAST))
    proxy.inject(Fault(status=400, method="GET", path_contains="/namespaces/bad", times=5))
    with structlog.testing.capture_logs() as logs, pytest.raises(floe.FloeStorageError):
        lake.namespaces.load("bad")
    assert [e for e in logs if e["event"] == "floe.retry"] == []
    assert len(proxy.seen(lambda r: "/namespaces/bad" in r.path)) == 1


def test_server_down_gives_connection_error_after_configured_attempts(tmp_path: Path) -> None:
    retry = floe.RetryConfig(
        max_attempts=4,
        initial_wait_s=0.01,
        max_wait_s=0.05,
        jitter_s=0.0,
        circuit_breaker_threshold=0,
    )
    with start_seaweed(tmp_path / "doomed") as server:
        lake = floe.Floe.from_config(rest_config(server, retry=retry))
        lake.namespaces.create("before_stop")
        assert lake.catalog.is_connected()
    with (
        structlog.testing.capture_logs() as logs,
        pytest.raises(floe.CatalogConnectionError) as info,
    ):
        lake.namespaces.list()
    assert "4 attempts" in str(info.value)
    assert [e["attempt"] for e in logs if e["event"] == "floe.retry"] == [1, 2, 3]
    assert lake.catalog.is_connected() is False


def test_circuit_breaker_fails_fast_after_threshold(
    seaweed: SeaweedServer, proxy: CatalogProxy
) -> None:
    retry = floe.RetryConfig(
        max_attempts=1,
        initial_wait_s=0.01,
        max_wait_s=0.05,
        jitter_s=0.0,
        circuit_breaker_threshold=2,
        circuit_breaker_reset_s=0.3,
    )
    lake = floe.Floe.from_config(via_proxy(seaweed, proxy, retry=retry))
    lake.namespaces.create_if_not_exists("breaker")
    proxy.inject(Fault(status=503, method="GET", path_contains="/namespaces/breaker", times=2))
    for _ in range(2):
        with pytest.raises(floe.CatalogConnectionError):
            lake.namespaces.load("breaker")
    sent = len(proxy.seen())
    with pytest.raises(floe.CatalogConnectionError) as info:
        lake.namespaces.load("breaker")
    assert "circuit is open" in str(info.value)
    assert len(proxy.seen()) == sent
    import time

    time.sleep(0.35)
    assert lake.namespaces.load("breaker").namespace == ("breaker",)


def test_reconnect_authenticates_again(seaweed: SeaweedServer) -> None:
    lake, backend = lake_and_backend(rest_config(seaweed, retry=FAST))
    assert lake.catalog.is_connected()
    assert backend.tokens is not None
    before = backend.tokens.fetch_count
    lake.catalog.reconnect()
    assert backend.tokens.fetch_count == before + 1
    assert lake.catalog.is_connected()


def test_polaris_semantics_where_the_server_is_laxer(rest_lake: floe.Floe) -> None:
    rest_lake.namespaces.create_if_not_exists("lax")
    rest_lake.tables.create("lax.t", SCHEMA)
    with pytest.raises(floe.TableExistsError):
        rest_lake.tables.create("lax.t", SCHEMA)
    with pytest.raises(floe.NamespaceNotFoundError):
        rest_lake.namespaces.create(("lax_missing_parent", "child"))
    rest_lake.namespaces.create(("lax", "child"))
    rest_lake.tables.drop("lax.t")
    with pytest.raises(floe.NamespaceNotEmptyError):
        rest_lake.namespaces.drop("lax")
    with pytest.raises(floe.NamespaceNotFoundError):
        rest_lake.tables.list("lax_nowhere")


@pytest.mark.parametrize(
    ("fault", "applied"),
    [
        (
            Fault(status=500, method="POST", path_contains="/tables/unknown_t", after_forward=True),
            True,
        ),
        (
            Fault(reset=True, method="POST", path_contains="/tables/unknown_t", after_forward=True),
            True,
        ),
        (Fault(status=502, method="POST", path_contains="/tables/unknown_t"), False),
    ],
    ids=["500-after-commit", "reset-after-commit", "502-before-commit"],
)
def test_commit_with_unknown_outcome_is_never_resent(
    seaweed: SeaweedServer, proxy: CatalogProxy, fault: Fault, applied: bool
) -> None:
    lake = floe.Floe.from_config(via_proxy(seaweed, proxy, retry=FAST))
    lake.namespaces.create_if_not_exists("unknown")
    table = "unknown.unknown_t"
    lake.tables.create_if_not_exists(table, SCHEMA)
    before = lake.reads.scan(table).num_rows
    proxy.clear()
    proxy.inject(fault)
    batch = pa.table({"id": [1, 2], "ts": [dt.datetime(2024, 1, 1)] * 2, "v": ["x", "y"]})
    with pytest.raises(floe.CommitStateUnknownError) as info:
        lake.writes.append(table, batch)
    assert "unknown_t" in str(info.value)
    commits = proxy.seen(lambda r: r.method == "POST" and r.path.endswith("/tables/unknown_t"))
    assert len(commits) == 1
    after = lake.reads.scan(table).num_rows
    assert after == before + (2 if applied else 0)
