"""floe against a Polaris-like catalog that misbehaves: every test checks the data.

The catalog is SeaweedFS behind :class:`~tests.integration.polaris_proxy.PolarisProxy`
(``/api/catalog``, its own 1-2 s tokens, Polaris' token and 409 rules), with
faults injected on the wire: 503, 429 + Retry-After, connection resets,
latency, 419, 500 during a commit, the server going away and coming back.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from typing import Any

import pyarrow as pa
import pytest
import requests
import structlog

import floe
from floe.adapters.iceberg import IcebergBackend
from floe.api import build_container
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import Exchange, PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("batch", pa.int64()), ("v", pa.string())])
TOKEN_LIFETIME_S = 2.0
#: The rotations the token loop waits for, and its bound in seconds (not its pace).
TOKEN_ROTATIONS = 8
TOKEN_LOOP_BOUND_S = 300.0
#: A client timeout no healthy request comes near, and a hang far beyond it.
HANG_TIMEOUT_S = 2.0
HANG_S = 30.0
#: The circuit breaker's cool-down: far longer than any test runs, so only a reset closes it.
BREAKER_RESET_S = 3600.0


def rows(batch: int, count: int = 2) -> pa.Table:
    first = batch * 100
    return pa.table(
        {
            "id": list(range(first, first + count)),
            "batch": [batch] * count,
            "v": [f"b{batch}-é-✓-{i}" for i in range(count)],
        },
        schema=SCHEMA,
    )


def lake_and_backend(config: floe.PolarisCatalogConfig) -> tuple[floe.Floe, IcebergBackend]:
    container = build_container(config)
    backend: IcebergBackend = container.iceberg_backend()
    return floe.Floe.from_container(container), backend


def fresh_table(lake: floe.Floe, prefix: str) -> str:
    namespace = unique(prefix)
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    return table


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


def to_table(exchange: Exchange, table: str) -> bool:
    return exchange.path.split("?")[0].endswith("/tables/" + table.rsplit(".", 1)[1])


def gaps(exchanges: list[Exchange]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(exchanges)]


# -- the proxy is Polaris-conformant -------------------------------------------------------


def test_proxy_enforces_polaris_token_rules(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=60)
    auth = (proxy.client_id, proxy.client_secret)

    def token(scope: str = "PRINCIPAL_ROLE:ALL", **kw: Any) -> requests.Response:
        data = {"grant_type": "client_credentials", "scope": scope}
        return requests.post(proxy.token_uri, data=data, timeout=10, **kw)

    assert token("catalog", auth=auth).json()["error"] == "invalid_scope"
    assert token("catalog", auth=auth).status_code == 400
    assert token("PRINCIPAL_ROLE:", auth=auth).json()["error"] == "invalid_scope"
    wrong = token(auth=(proxy.client_id, "wrong"))
    assert (wrong.status_code, wrong.json()["error"]) == (401, "unauthorized_client")
    stranger = token(auth=("someone-else", proxy.client_secret))
    assert (stranger.status_code, stranger.json()["error"]) == (401, "unauthorized_client")
    anonymous = token()  # no client id and secret at all
    assert (anonymous.status_code, anonymous.json()["error"]) == (400, "invalid_client")
    granted = token(auth=auth)
    assert granted.status_code == 200
    assert granted.json()["expires_in"] == 60
    bearer = {"Authorization": f"Bearer {granted.json()['access_token']}"}

    listing = f"{proxy.catalog_uri}/v1/{seaweed.warehouse}/namespaces"
    missing = requests.get(listing, timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert missing.json()["error"]["type"] == "NotAuthorizedException"
    unknown = requests.get(listing, headers={"Authorization": "Bearer forged"}, timeout=10)
    assert unknown.status_code == 401
    assert unknown.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(f"{proxy.uri}/v1/config", timeout=10).status_code == 404  # no prefix

    namespace = unique("conform")
    create_ns = requests.post(listing, json={"namespace": [namespace]}, headers=bearer, timeout=10)
    assert create_ns.status_code == 200
    orphan = requests.post(
        listing, json={"namespace": [unique("nowhere"), "child"]}, headers=bearer, timeout=10
    )
    assert orphan.status_code == 404
    tables = f"{listing}/{namespace}/tables"
    body = {
        "name": "t",
        "schema": {
            "type": "struct",
            "schema-id": 0,
            "fields": [{"id": 1, "name": "x", "required": False, "type": "long"}],
        },
    }
    first = requests.post(tables, json=body, headers=bearer, timeout=10)
    assert first.status_code == 200
    again = requests.post(tables, json=body, headers=bearer, timeout=10)
    assert again.status_code == 409
    assert again.json()["error"]["type"] == "AlreadyExistsException"
    loaded = requests.get(f"{tables}/t", headers=bearer, timeout=10).json()
    assert loaded["metadata"]["table-uuid"] == first.json()["metadata"]["table-uuid"]

    proxy.token_lifetime_s = 0.2
    short = token(auth=auth).json()
    assert short["expires_in"] == 1
    time.sleep(0.3)  # the token has expired
    expired = requests.get(
        listing, headers={"Authorization": f"Bearer {short['access_token']}"}, timeout=10
    )
    assert expired.status_code == 401
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert requests.get(listing, headers=bearer, timeout=10).status_code == 200
    assert proxy.stats.token_refusals == {
        "invalid_scope": 3,
        "unauthorized_client": 2,
        "invalid_client": 1,
    }


@pytest.mark.parametrize(
    ("overrides", "oauth_error"),
    [({"scope": "catalog"}, "invalid_scope"), ({"client_secret": "not-it"}, "unauthorized_client")],
)
def test_refused_credentials_are_typed_and_reach_no_catalog_route(
    seaweed: SeaweedServer,
    polaris: PolarisProxy,
    overrides: dict[str, Any],
    oauth_error: str,
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, **overrides))
    with pytest.raises(floe.CatalogAuthenticationError) as info:
        lake.namespaces.create(unique("never"))
    assert oauth_error in str(info.value)
    assert {e.path.rsplit("/", 1)[1] for e in polaris.seen()} == {"tokens"}
    assert len(polaris.seen()) == 1  # a refusal is not retried
    good = floe.Floe.from_config(polaris_config(seaweed, polaris))
    assert all(not ns[0].startswith("never_") for ns in good.namespaces.list())


# -- tokens expiring under a write/read loop --------------------------------------------------


@pytest.mark.parametrize(
    "announced",
    [None, 3600],
    ids=["announced-lifetime", "revoked-before-announced-expiry"],
)
def test_tokens_expiring_every_2s_during_a_write_read_loop_lose_nothing(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory, announced: int | None
) -> None:
    """With the announced lifetime floe renews ahead; with a lie it must recover from 401s."""
    proxy = polaris_factory(token_lifetime_s=TOKEN_LIFETIME_S, announced_expires_in=announced)
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    table = fresh_table(lake, "rotation")
    failures: list[str] = []
    writes = reads = 0
    started = time.monotonic()
    bound = started + TOKEN_LOOP_BOUND_S
    with structlog.testing.capture_logs() as logs:
        # Until the tokens rotated TOKEN_ROTATIONS times, however long that takes here.
        while not failures and (proxy.stats.tokens_issued <= TOKEN_ROTATIONS or writes < 5):
            assert time.monotonic() < bound, "the tokens stopped rotating"
            try:
                lake.writes.append(table, rows(writes))
                writes += 1
                got = lake.reads.scan(table, row_filter=f"batch = {writes - 1}")
                assert sorted(got.column("id").to_pylist()) == [
                    (writes - 1) * 100,
                    (writes - 1) * 100 + 1,
                ]
                reads += 1
                if writes % 5 == 0:
                    assert lake.reads.scan(table, columns=["id"]).num_rows == 2 * writes
                    reads += 1
            except floe.FloeStorageError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
    elapsed = time.monotonic() - started
    assert failures == []
    assert writes >= 5
    assert ids(lake, table) == sorted(i for b in range(writes) for i in (b * 100, b * 100 + 1))
    assert len(lake.snapshots.list(table)) == writes
    assert proxy.stats.tokens_issued > TOKEN_ROTATIONS
    refreshes = [e for e in logs if e["event"] == "floe.token_refresh"]
    if announced is None:
        assert refreshes == []  # renewed ahead of expiry: never refused
    else:
        assert proxy.stats.unauthorized >= 1
        assert len(refreshes) >= 1
    print(
        f"\ntoken loop ({'honest' if announced is None else 'revoked early'}): "
        f"{writes} writes + {reads} reads in {elapsed:.1f} s, 0 failed; "
        f"tokens issued {proxy.stats.tokens_issued}, 401 answers {proxy.stats.unauthorized}, "
        f"floe refreshes on 401/419 {len(refreshes)}"
    )


# -- transient faults: retried within the budget, backoff honoured ---------------------------


def test_503_burst_is_retried_with_exponential_backoff(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    retry = floe.RetryConfig(
        max_attempts=4,
        initial_wait_s=0.2,
        max_wait_s=1.0,
        jitter_s=0.0,
        circuit_breaker_threshold=0,
    )
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, retry=retry))
    table = fresh_table(lake, "burst503")
    polaris.clear()
    polaris.inject(Fault(status=503, method="GET", path_contains="/tables/t", times=3))
    with structlog.testing.capture_logs() as logs:
        lake.writes.append(table, rows(1))
    retries = [e for e in logs if e["event"] == "floe.retry"]
    assert [(e["attempt"], e["error"]) for e in retries] == [
        (1, "ServiceUnavailableError"),
        (2, "ServiceUnavailableError"),
        (3, "ServiceUnavailableError"),
    ]
    loads = polaris.seen(lambda e: e.method == "GET" and to_table(e, table))
    assert [e.status for e in loads[:4]] == [503, 503, 503, 200]
    waits = gaps(loads[:4])
    assert [round(e["wait_s"], 1) for e in retries] == [0.2, 0.4, 0.8]
    assert all(gap >= wait - 0.01 for gap, wait in zip(waits, (0.2, 0.4, 0.8), strict=True))
    assert ids(lake, table) == [100, 101]


def test_429_with_retry_after_is_waited_out(seaweed: SeaweedServer, polaris: PolarisProxy) -> None:
    retry = floe.RetryConfig(max_attempts=3, initial_wait_s=0.02, max_wait_s=2.0, jitter_s=0.0)
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, retry=retry))  # backoff 20 ms
    table = fresh_table(lake, "burst429")
    polaris.clear()
    polaris.inject(
        Fault(status=429, headers={"Retry-After": "1"}, method="GET", path_contains="/tables/t")
    )
    with structlog.testing.capture_logs() as logs:
        lake.writes.append(table, rows(1))
    loads = polaris.seen(lambda e: e.method == "GET" and to_table(e, table))
    assert [e.status for e in loads[:2]] == [429, 200]
    assert gaps(loads[:2])[0] >= 1.0  # the server's pause, not the 20 ms backoff
    assert [e["wait_s"] for e in logs if e["event"] == "floe.retry"] == [1.0]
    assert ids(lake, table) == [100, 101]


def test_429_asking_for_more_than_max_wait_is_not_retried(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))  # max_wait_s 0.1
    table = fresh_table(lake, "burst429long")
    lake.writes.append(table, rows(1))
    polaris.clear()
    polaris.inject(
        Fault(status=429, headers={"Retry-After": "120"}, method="GET", path_contains="/tables/t")
    )
    started = time.monotonic()
    with pytest.raises(floe.CatalogConnectionError) as info:
        lake.writes.append(table, rows(2))
    assert time.monotonic() - started < 30
    assert "429" in str(info.value)
    assert "120" in str(info.value)
    assert len(polaris.seen(lambda e: to_table(e, table))) == 1
    assert ids(lake, table) == [100, 101]


FAULT_MIXES: dict[str, list[Fault]] = {
    "resets-on-reads": [
        Fault(reset=True, method="GET", path_contains="/tables/t", times=2),
    ],
    "token-endpoint-503-then-429": [
        Fault(status=503, path_contains="/oauth/tokens"),
        Fault(status=429, headers={"Retry-After": "0"}, path_contains="/oauth/tokens"),
    ],
    "429-on-the-commit": [
        Fault(status=429, headers={"Retry-After": "0"}, method="POST", path_contains="/tables/t"),
    ],
    "419-on-the-commit": [
        Fault(status=419, method="POST", path_contains="/tables/t", times=2),
    ],
    "latency-everywhere": [Fault(delay_s=0.3, times=4)],
    "config-503-and-reset": [
        Fault(status=503, path_contains="/v1/config"),
        Fault(reset=True, path_contains="/v1/config"),
    ],
}


@pytest.mark.parametrize("faults", list(FAULT_MIXES.values()), ids=list(FAULT_MIXES))
def test_fault_mixes_succeed_within_the_retry_budget(
    seaweed: SeaweedServer, polaris: PolarisProxy, faults: list[Fault]
) -> None:
    retry = floe.RetryConfig(max_attempts=3, initial_wait_s=0.02, max_wait_s=0.5, jitter_s=0.01)
    setup = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = fresh_table(setup, "mix")
    setup.writes.append(table, rows(0))
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, retry=retry))  # opens anew
    polaris.clear()
    for fault in faults:
        polaris.inject(fault)
    result = lake.writes.append(table, rows(1))
    assert [f.times for f in faults] == [0] * len(faults)  # every fault was hit
    assert result.rows_added == 2
    assert ids(lake, table) == [0, 1, 100, 101]  # the batch landed exactly once
    assert len(lake.snapshots.list(table)) == 2
    commits = polaris.seen(lambda e: e.method == "POST" and to_table(e, table))
    assert [e.status for e in commits][-1] == 200


# -- a commit whose outcome is unknown -------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "applied"),
    [
        (Fault(status=500, method="POST", path_contains="/tables/t", after_forward=True), True),
        (Fault(status=500, method="POST", path_contains="/tables/t"), False),
        (Fault(reset=True, method="POST", path_contains="/tables/t", after_forward=True), True),
        (Fault(status=503, method="POST", path_contains="/tables/t"), False),
    ],
    ids=["500-after-applying", "500-before-applying", "reset-after-applying", "503-gateway"],
)
def test_unknown_commit_outcome_is_typed_and_checkable_never_duplicated(
    seaweed: SeaweedServer, polaris: PolarisProxy, fault: Fault, applied: bool
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = fresh_table(lake, "unknown")
    lake.writes.append(table, rows(0))
    polaris.clear()
    polaris.inject(fault)
    tag = {"writer.batch-id": "batch-1"}
    with pytest.raises(floe.CommitStateUnknownError):
        lake.writes.append(table, rows(1), snapshot_properties=tag)
    commits = polaris.seen(lambda e: e.method == "POST" and to_table(e, table))
    assert len(commits) == 1  # never re-sent
    landed = [
        s for s in lake.snapshots.list(table) if s.summary.get("writer.batch-id") == "batch-1"
    ]
    assert len(landed) == (1 if applied else 0)
    assert ids(lake, table) == ([0, 1, 100, 101] if applied else [0, 1])
    # The recovery a caller does: re-send only when the tagged snapshot is absent.
    if not landed:
        lake.writes.append(table, rows(1), snapshot_properties=tag)
    assert ids(lake, table) == [0, 1, 100, 101]


# -- the server goes away and comes back -----------------------------------------------------


@pytest.mark.parametrize("token", ["still-valid", "due-for-renewal"])
def test_server_down_is_a_connection_error_after_the_configured_attempts_then_recovers(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory, token: str
) -> None:
    """Whether the catalog or its token endpoint fails to answer, the retry budget is spent."""
    polaris = polaris_factory(token_lifetime_s=600.0)  # renewal only when the test says so
    retry = floe.RetryConfig(
        max_attempts=4,
        initial_wait_s=0.02,
        max_wait_s=0.1,
        jitter_s=0.0,
        circuit_breaker_threshold=0,
    )
    lake, backend = lake_and_backend(polaris_config(seaweed, polaris, retry=retry))
    table = fresh_table(lake, "down")
    lake.writes.append(table, rows(0))

    polaris.go_down()
    polaris.revoke_tokens()  # a restarted Polaris does not know the old tokens
    assert backend.tokens is not None
    if token == "due-for-renewal":
        backend.tokens.invalidate()  # the next request first asks the (down) token endpoint
    for attempt in (lambda: lake.writes.append(table, rows(1)), lambda: lake.reads.scan(table)):
        with (
            structlog.testing.capture_logs() as logs,
            pytest.raises(floe.CatalogConnectionError) as info,
        ):
            attempt()
        assert "gave up after 4 attempts" in str(info.value)
        assert [e["attempt"] for e in logs if e["event"] == "floe.retry"] == [1, 2, 3]
    assert lake.catalog.is_connected() is False

    polaris.come_back()
    before = backend.tokens.fetch_count
    lake.catalog.reconnect()
    assert backend.tokens.fetch_count == before + 1
    assert lake.catalog.is_connected() is True
    lake.writes.append(table, rows(2))
    assert ids(lake, table) == [0, 1, 200, 201]  # nothing from the failed write, nothing lost


def open_circuit_over_an_outage(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> tuple[floe.Floe, str]:
    """A lake whose circuit an outage opened, the server back, the cool-down far from over."""
    retry = floe.RetryConfig(
        max_attempts=2,
        initial_wait_s=0.02,
        max_wait_s=0.1,
        jitter_s=0.0,
        circuit_breaker_threshold=3,
        circuit_breaker_reset_s=BREAKER_RESET_S,
    )
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, retry=retry))
    table = fresh_table(lake, "breaker")
    lake.writes.append(table, rows(0))
    polaris.go_down()
    errors = []
    for _ in range(3):
        with pytest.raises(floe.CatalogConnectionError) as info:
            lake.reads.scan(table)
        errors.append(str(info.value))
    assert "circuit is open" in errors[-1]  # failing fast, the server is not called
    polaris.come_back()
    with pytest.raises(floe.CatalogConnectionError, match="circuit is open"):
        lake.reads.scan(table)  # the circuit alone refuses: the server is up
    return lake, table


def test_reconnect_closes_the_circuit_an_outage_opened(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    """``reconnect()`` asks the server now, however long the cool-down still runs."""
    lake, table = open_circuit_over_an_outage(seaweed, polaris)
    lake.catalog.reconnect()
    lake.writes.append(table, rows(1))
    assert ids(lake, table) == [0, 1, 100, 101]


def test_is_connected_answers_for_the_server_and_closes_the_circuit(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    """A server that answers the probe is up: the next call goes to it, not to the circuit."""
    lake, table = open_circuit_over_an_outage(seaweed, polaris)
    assert lake.catalog.is_connected() is True
    lake.writes.append(table, rows(1))
    assert ids(lake, table) == [0, 1, 100, 101]


def test_writes_during_an_outage_never_half_apply(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    """An outage that starts at the commit: typed error, then exactly the applied state."""
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = fresh_table(lake, "outage")
    lake.writes.append(table, rows(0))
    polaris.clear()
    # The connection is reset once the commit request was sent, before the proxy passed it
    # on: it never reached the catalog, but floe cannot know that, so the outcome is unknown.
    polaris.inject(Fault(reset=True, method="POST", path_contains="/tables/t"))
    with pytest.raises(floe.CommitStateUnknownError):
        lake.writes.append(table, rows(1), snapshot_properties={"writer.batch-id": "b1"})
    state = lake.snapshots.list(table)
    assert not any(s.summary.get("writer.batch-id") == "b1" for s in state)
    assert ids(lake, table) == [0, 1]
    assert dt.datetime.now(dt.UTC)  # the process is fine: keep going
    lake.writes.append(table, rows(1), snapshot_properties={"writer.batch-id": "b1"})
    assert ids(lake, table) == [0, 1, 100, 101]


# -- every write mode, every create, under faults ---------------------------------------------

MODE_FAULTS: dict[str, list[Fault]] = {
    "502-then-504-on-load": [
        Fault(status=502, method="GET", path_contains="/tables/t"),
        Fault(status=504, method="GET", path_contains="/tables/t"),
    ],
    "429-without-retry-after": [Fault(status=429, path_contains="/tables/t")],
    "401-on-the-commit": [Fault(status=401, method="POST", path_contains="/tables/t")],
    "419-on-load": [Fault(status=419, method="GET", path_contains="/tables/t")],
    "slow-commit": [Fault(delay_s=0.5, method="POST", path_contains="/tables/t")],
}


@pytest.mark.parametrize("faults", list(MODE_FAULTS.values()), ids=list(MODE_FAULTS))
@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert"])
def test_every_write_mode_lands_exactly_once_through_transient_faults(
    seaweed: SeaweedServer, polaris: PolarisProxy, faults: list[Fault], mode: str
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = fresh_table(lake, "modes")
    lake.writes.append(table, rows(0))
    for fault in faults:
        polaris.inject(fault)
    before = len(lake.snapshots.list(table))
    if mode == "append":
        lake.writes.append(table, rows(1))
        expected, commits = [0, 1, 100, 101], 1
    elif mode == "overwrite":
        lake.writes.overwrite(table, rows(1))
        expected, commits = [100, 101], 1  # one overwrite snapshot
    else:
        lake.writes.upsert(table, rows(1), join_columns=["id"])
        expected, commits = [0, 1, 100, 101], 1
    assert all(fault.times == 0 for fault in faults)  # every fault was met
    assert ids(lake, table) == expected
    assert len(lake.snapshots.list(table)) == before + commits


@pytest.mark.parametrize("after_forward", [True, False], ids=["answer-lost", "refused"])
def test_a_create_whose_answer_is_lost_is_still_this_calls_success(
    seaweed: SeaweedServer, polaris: PolarisProxy, after_forward: bool
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris))
    namespace = unique("creates")
    polaris.inject(
        Fault(status=503, method="POST", path_contains="/namespaces", after_forward=after_forward)
    )
    lake.namespaces.create(namespace, {"owner": "team-a"})
    assert lake.namespaces.load(namespace).properties["owner"] == "team-a"
    polaris.inject(
        Fault(
            status=503,
            method="POST",
            path_contains=f"/namespaces/{namespace}/tables",
            after_forward=after_forward,
        )
    )
    info = lake.tables.create(f"{namespace}.t", SCHEMA, properties={"owner": "team-a"})
    assert info.schema == SCHEMA
    assert polaris.seen(lambda e: e.status == 503)  # the faults were met
    # A second create of the same objects is still refused.
    with pytest.raises(floe.NamespaceExistsError):
        lake.namespaces.create(namespace)
    with pytest.raises(floe.TableExistsError):
        lake.tables.create(f"{namespace}.t", SCHEMA)


# -- a server that stops answering ------------------------------------------------------------


def test_a_request_that_hangs_times_out_and_is_retried(
    seaweed: SeaweedServer, polaris: PolarisProxy
) -> None:
    setup = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = fresh_table(setup, "hang")
    setup.writes.append(table, rows(0))
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, request_timeout_s=HANG_TIMEOUT_S))
    polaris.clear()
    polaris.inject(Fault(delay_s=HANG_S, method="GET", path_contains="/tables/t"))
    started = time.monotonic()
    with structlog.testing.capture_logs() as logs:
        assert ids(lake, table) == [0, 1]
    assert time.monotonic() - started < HANG_S / 2  # did not wait for the hung answer
    retries = [e for e in logs if e["event"] == "floe.retry"]
    # The request's deadline passed: floe's own timeout error, then a retry.
    assert [e["error"] for e in retries][:1] == ["CatalogConnectionError"]


def test_a_commit_that_hangs_is_an_unknown_outcome_never_re_sent(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    polaris = polaris_factory(token_lifetime_s=600.0)  # the token outlives the hold
    setup = floe.Floe.from_config(polaris_config(seaweed, polaris))
    table = fresh_table(setup, "hangcommit")
    setup.writes.append(table, rows(0))
    lake = floe.Floe.from_config(polaris_config(seaweed, polaris, request_timeout_s=HANG_TIMEOUT_S))
    polaris.clear()
    # The proxy holds the commit past floe's timeout, then forwards it: it lands after floe
    # gave up.
    polaris.inject(Fault(delay_s=3 * HANG_TIMEOUT_S, method="POST", path_contains="/tables/t"))
    with pytest.raises(floe.CommitStateUnknownError):
        lake.writes.append(table, rows(1), snapshot_properties={"writer.batch-id": "b1"})
    commits = polaris.seen(lambda e: e.method == "POST" and to_table(e, table))
    assert len(commits) == 1  # never re-sent (seen() waited for the held request)
    tagged = [s for s in lake.snapshots.list(table) if s.summary.get("writer.batch-id") == "b1"]
    assert len(tagged) == 1
    assert ids(lake, table) == [0, 1, 100, 101]
