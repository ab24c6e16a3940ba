"""A mutation the catalog applied is never reported as "nothing happened".

The catalog is SeaweedFS behind the Polaris proxy. Each fault lets the
request reach the catalog, which applies it, and then spoils the answer: a
body cut mid-way, an HTML or unparseable body with status 200, an answer that
trickles past the timeout, a gateway's 4xx page. floe must say
``CommitStateUnknownError`` (never a plain "table unchanged" ``WriteError``
that invites a duplicating retry), and the table must hold the rows exactly
once. A request that never left (the connection refused) is a plain transient
fault: retried, and it lands once. A drop whose answer is lost is this call's
success.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pytest
import structlog

import floe
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import Exchange, PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
COMMIT = {"method": "POST", "path_contains": "/tables/t", "after_forward": True}
HTML = b"<html><body><h1>200 OK</h1>all good</body></html>"
TAG = {"writer.batch-id": "b1"}
#: A client timeout well above what a healthy request takes, even on a busy machine.
TIMEOUT_S = 1.0

SPOILED_ANSWERS: dict[str, Fault] = {
    "body-cut-mid-way": Fault(cut_body=True, **COMMIT),
    "html-with-200": Fault(status=200, body=HTML, content_type="text/html", **COMMIT),
    "unparseable-json-with-200": Fault(status=200, body=b'{"metadata-location": "s3', **COMMIT),
    "trickled-past-the-timeout": Fault(trickle_s=2 * TIMEOUT_S, **COMMIT),
    "gateway-4xx-page": Fault(status=404, body=HTML, content_type="text/html", **COMMIT),
    # 408 Request Timeout, even with an Iceberg error body: the server gave up
    # waiting, the commit may be applied all the same.
    "request-timeout-408": Fault(
        status=408,
        body=b'{"error": {"message": "Request Timeout", "type": "RequestTimeout", "code": 408}}',
        **COMMIT,
    ),
}


def rows(*values: int) -> pa.Table:
    return pa.table({"id": list(values), "v": [f"r{v}" for v in values]}, schema=SCHEMA)


def ids(lake: floe.Floe, table: str) -> list[int]:
    return sorted(lake.reads.scan(table, columns=["id"]).column("id").to_pylist())


def commits_to(polaris: PolarisProxy, table: str) -> list[Exchange]:
    name = table.rsplit(".", 1)[1]
    return polaris.seen(
        lambda e: e.method == "POST" and e.path.split("?")[0].endswith("/tables/" + name)
    )


def tagged(lake: floe.Floe, table: str) -> int:
    return sum(1 for s in lake.snapshots.list(table) if s.summary.get("writer.batch-id") == "b1")


@pytest.fixture
def proxy(polaris_factory: PolarisFactory) -> PolarisProxy:
    """A Polaris proxy whose tokens outlive every test here."""
    return polaris_factory(token_lifetime_s=600.0)


def lake_with_table(seaweed: SeaweedServer, proxy: PolarisProxy) -> tuple[floe.Floe, str]:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy, request_timeout_s=TIMEOUT_S))
    namespace = unique("landed")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, rows(1, 2))
    return lake, table


@pytest.mark.parametrize("fault", list(SPOILED_ANSWERS.values()), ids=list(SPOILED_ANSWERS))
def test_a_commit_applied_before_its_answer_was_spoiled_is_an_unknown_outcome(
    seaweed: SeaweedServer, proxy: PolarisProxy, fault: Fault
) -> None:
    lake, table = lake_with_table(seaweed, proxy)
    proxy.clear()
    proxy.inject(fault)
    with pytest.raises(floe.CommitStateUnknownError) as info:
        lake.writes.append(table, rows(3), snapshot_properties=TAG)
    assert fault.times == 0  # the fault was met
    assert table in str(info.value)
    assert len(commits_to(proxy, table)) == 1  # never re-sent
    assert tagged(lake, table) == 1  # it landed, once
    assert ids(lake, table) == [1, 2, 3]


@pytest.mark.parametrize("mode", ["overwrite", "upsert"])
def test_an_applied_overwrite_or_upsert_with_a_cut_answer_is_never_repeated(
    seaweed: SeaweedServer, proxy: PolarisProxy, mode: str
) -> None:
    lake, table = lake_with_table(seaweed, proxy)
    proxy.inject(Fault(cut_body=True, **COMMIT))
    write = {
        "overwrite": lambda: lake.writes.overwrite(table, rows(2, 3), row_filter="id >= 2"),
        "upsert": lambda: lake.writes.upsert(table, rows(2, 3), join_columns=["id"]),
    }[mode]
    with pytest.raises(floe.CommitStateUnknownError):
        write()
    assert ids(lake, table) == [1, 2, 3]
    assert len(lake.snapshots.list(table)) == 2  # one commit, one snapshot, applied once


def test_an_applied_expiry_with_a_cut_answer_is_an_unknown_outcome(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake, table = lake_with_table(seaweed, proxy)
    lake.writes.append(table, rows(3))
    first = lake.snapshots.list(table)[0].snapshot_id
    proxy.inject(Fault(cut_body=True, **COMMIT))
    with pytest.raises(floe.CommitStateUnknownError):
        lake.maintenance.expire_snapshots(table, retain_last=1)
    assert first not in [s.snapshot_id for s in lake.snapshots.list(table)]  # it did expire
    assert ids(lake, table) == [1, 2, 3]


def test_a_create_with_data_applied_before_its_answer_was_cut_is_an_unknown_outcome(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy, request_timeout_s=TIMEOUT_S))
    namespace = unique("landed")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    # The create request stages the table; the commit that follows makes it real.
    proxy.inject(Fault(cut_body=True, **COMMIT))
    with pytest.raises(floe.CommitStateUnknownError):
        lake.writes.append(table, rows(1, 2), create_if_missing=floe.NewTable())
    assert ids(lake, table) == [1, 2]


@contextlib.contextmanager
def on_retry(action: Callable[[], None]) -> Iterator[list[dict[str, Any]]]:
    """Run ``action`` when floe logs a retry (before it waits); yield every event logged."""
    saved = structlog.get_config()
    events: list[dict[str, Any]] = []

    def hook(logger: Any, name: str, event: dict[str, Any]) -> str:
        events.append(dict(event))
        if event.get("event") == "floe.retry":
            action()
        raise structlog.DropEvent

    structlog.configure(processors=[hook], cache_logger_on_first_use=False)
    try:
        yield events
    finally:
        structlog.configure(**saved)


def test_a_commit_refused_at_the_connection_is_retried_and_lands_once(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake, table = lake_with_table(seaweed, proxy)
    proxy.clear()
    lake.writes.append(table, rows(0))
    # How many times a write loads its table before committing (the last load
    # is the one right before the commit).
    loads = len(proxy.seen(lambda e: e.method == "GET" and e.path.endswith("/tables/t")))
    assert loads >= 1
    proxy.clear()
    # The last load is answered, then the proxy stops listening: the commit
    # request finds no one to connect to, so nothing of it was sent.
    proxy.inject(
        Fault(
            method="GET",
            path_contains="/tables/t",
            skip=loads - 1,
            after_forward=True,
            go_down=True,
        )
    )
    with on_retry(proxy.come_back) as events:
        result = lake.writes.append(table, rows(3), snapshot_properties=TAG)
    retries = [e for e in events if e["event"] == "floe.retry"]
    assert [(e["operation"], e["error"]) for e in retries] == [
        ("append into table", "ConnectionError")
    ]
    assert result.rows_added == 1
    assert [e.status for e in commits_to(proxy, table)] == [200]  # the refused one never came
    assert tagged(lake, table) == 1
    assert ids(lake, table) == [0, 1, 2, 3]


@pytest.mark.parametrize("purge", [False, True], ids=["drop", "purge"])
def test_a_table_drop_whose_answer_is_lost_is_this_calls_success(
    seaweed: SeaweedServer, proxy: PolarisProxy, purge: bool
) -> None:
    proxy.drop_with_purge_enabled = purge  # Polaris refuses a purge unless the catalog enables it
    lake, table = lake_with_table(seaweed, proxy)
    proxy.inject(Fault(reset=True, method="DELETE", path_contains="/tables/t", after_forward=True))
    lake.tables.drop(table, purge=purge)
    assert proxy.seen(lambda e: e.method == "DELETE" and e.status == 0)  # the answer was lost
    assert lake.tables.exists(table) is False
    with pytest.raises(floe.TableNotFoundError):  # a second drop still finds nothing
        lake.tables.drop(table, purge=purge)


def test_a_namespace_drop_whose_answer_is_lost_is_this_calls_success(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("gone")
    lake.namespaces.create(namespace)
    proxy.inject(
        Fault(
            reset=True,
            method="DELETE",
            path_contains=f"/namespaces/{namespace}",
            after_forward=True,
        )
    )
    lake.namespaces.drop(namespace)
    assert proxy.seen(lambda e: e.method == "DELETE" and e.status == 0)
    assert lake.namespaces.exists(namespace) is False
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.drop(namespace)


def test_a_property_update_whose_answer_is_lost_is_applied_once(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("props")
    lake.namespaces.create(namespace, {"owner": "a", "stale": "x"})
    proxy.inject(Fault(reset=True, method="POST", path_contains="/properties", after_forward=True))
    info = lake.namespaces.update_properties(namespace, {"owner": "b"}, removals=["stale"])
    assert proxy.seen(lambda e: e.method == "POST" and e.status == 0)
    assert (info.properties.get("owner"), "stale" in info.properties) == ("b", False)
    found = lake.namespaces.load(namespace).properties
    assert (found.get("owner"), "stale" in found) == ("b", False)
