"""A catalog or token endpoint that trickles its answer or sends a huge one cannot hold a caller.

The catalog is SeaweedFS behind the Polaris proxy, which spoils answers on
demand: it drips them a byte every half second for a minute (from the status
line, or once the headers are out), or answers with hundreds of megabytes,
plain or as a gzip bomb (1 MiB that decodes to 1 GiB). Every request has one
deadline, ``request_timeout_s``, for the whole exchange, so a dripped answer
fails typed while the proxy is still dripping (the proxy says whether it ran
its whole course; no wall-clock assert), and a commit whose answer drips is
an unknown outcome that landed once. An answer over ``max_response_bytes``
(decoded) fails typed, is not retried, and the client's peak memory stays
bounded: measured in a fresh process, whose address space is limited so that
a client reading such an answer whole fails instead of taking the machine's
memory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import floe
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import PolarisProxy
from tests.integration.proxy import Fault
from tests.integration.seaweed import SeaweedServer

SCHEMA = pa.schema([("id", pa.int64())])
#: Well above what a healthy request takes, even on a machine whose cores are all busy
#: (2 s was not, once, under a full parallel test run); far below the minute of drip.
TIMEOUT_S = 5.0
ONE_ATTEMPT = floe.RetryConfig(max_attempts=1, initial_wait_s=0.02, max_wait_s=0.1, jitter_s=0)
#: A byte every half second for a minute: each read gets a byte long before any
#: per-read timeout, so only a deadline for the whole answer ends the wait.
DRIP = {"drip_s": 0.5, "drip_for_s": 60.0}
TOKEN = {"method": "POST", "path_contains": "/oauth/tokens"}
COMMIT = {"method": "POST", "path_contains": "/tables/t", "after_forward": True}
MiB = 1 << 20
#: The growth of the client's peak RSS allowed while it meets a hostile answer.
MEMORY_BOUND_KIB = 500 * 1024


@pytest.fixture
def proxy(polaris_factory: PolarisFactory) -> PolarisProxy:
    """A Polaris proxy whose tokens outlive every test here."""
    return polaris_factory(token_lifetime_s=600.0)


def lake_for(seaweed: SeaweedServer, proxy: PolarisProxy, **overrides: Any) -> floe.Floe:
    values: dict[str, Any] = {"request_timeout_s": TIMEOUT_S, "retry": ONE_ATTEMPT}
    values.update(overrides)
    return floe.Floe.from_config(polaris_config(seaweed, proxy, **values))


def new_table(lake: floe.Floe) -> str:
    namespace = unique("hostile")
    lake.namespaces.create(namespace)
    table = f"{namespace}.t"
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, pa.table({"id": [1, 2]}, schema=SCHEMA))
    return table


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "status-and-headers"])
def test_a_trickled_token_answer_fails_typed_before_the_trickle_ends(
    seaweed: SeaweedServer, proxy: PolarisProxy, drip_headers: bool
) -> None:
    fault = proxy.inject(Fault(drip_headers=drip_headers, **DRIP, **TOKEN))
    lake = lake_for(seaweed, proxy)
    started = time.monotonic()
    with pytest.raises(floe.CatalogConnectionError) as info:
        lake.namespaces.list()
    print(f"typed error after {time.monotonic() - started:.1f} s")  # for docs/reliability.md
    assert fault.times == 0  # the token request was dripped
    assert not fault.dripped_out.is_set()  # and the call ended while it still was
    assert f"no complete answer within {TIMEOUT_S:g} s" in str(info.value)
    assert "/oauth/tokens" in str(info.value)


@pytest.mark.parametrize("drip_headers", [False, True], ids=["body", "status-and-headers"])
def test_a_trickled_catalog_answer_fails_typed_before_the_trickle_ends(
    seaweed: SeaweedServer, proxy: PolarisProxy, drip_headers: bool
) -> None:
    lake = lake_for(seaweed, proxy)
    table = new_table(lake)
    fault = proxy.inject(
        Fault(drip_headers=drip_headers, method="GET", path_contains="/tables/t", **DRIP)
    )
    started = time.monotonic()
    with pytest.raises(floe.CatalogConnectionError) as info:
        lake.tables.load(table)
    print(f"typed error after {time.monotonic() - started:.1f} s")
    assert fault.times == 0
    assert not fault.dripped_out.is_set()
    assert f"no complete answer within {TIMEOUT_S:g} s" in str(info.value)


def test_each_attempt_has_its_own_deadline_and_the_retries_are_bounded(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = lake_for(seaweed, proxy, retry=floe.RetryConfig(max_attempts=2, initial_wait_s=0.02))
    table = new_table(lake)
    fault = proxy.inject(Fault(times=2, method="GET", path_contains="/tables/t", **DRIP))
    started = time.monotonic()
    with pytest.raises(floe.CatalogConnectionError, match="gave up after 2 attempts"):
        lake.tables.load(table)
    print(f"typed error after {time.monotonic() - started:.1f} s")
    assert fault.times == 0  # both attempts met a dripped answer
    assert not fault.dripped_out.is_set()  # and both gave up while it was dripping
    assert lake.tables.load(table).identifier.name == "t"  # the catalog answers again


def test_a_commit_whose_answer_trickles_is_an_unknown_outcome_that_landed_once(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = lake_for(seaweed, proxy)
    table = new_table(lake)
    proxy.clear()
    fault = proxy.inject(Fault(**DRIP, **COMMIT))
    started = time.monotonic()
    with pytest.raises(floe.CommitStateUnknownError) as info:
        lake.writes.append(table, pa.table({"id": [3]}, schema=SCHEMA))
    print(f"typed error after {time.monotonic() - started:.1f} s")
    assert fault.times == 0
    assert not fault.dripped_out.is_set()
    assert table in str(info.value)
    commits = proxy.seen(lambda e: e.method == "POST" and e.path.split("?")[0].endswith("/t"))
    assert len(commits) == 1  # never re-sent
    ids = lake.reads.scan(table, columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == [1, 2, 3]  # it landed, once


def test_an_oversized_token_answer_fails_typed_and_is_not_retried(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    fault = proxy.inject(Fault(huge_body=300 * 10**6, times=3, **TOKEN))
    lake = lake_for(seaweed, proxy, retry=floe.RetryConfig(max_attempts=3, initial_wait_s=0.02))
    with pytest.raises(floe.ResponseTooLargeError) as info:
        lake.namespaces.list()
    assert fault.times == 2  # asked once: it would come again
    assert "max_response_bytes=268435456" in str(info.value)
    assert "/oauth/tokens" in str(info.value)


def test_an_oversized_commit_answer_is_an_unknown_outcome_that_landed_once(
    seaweed: SeaweedServer, proxy: PolarisProxy
) -> None:
    lake = lake_for(seaweed, proxy, max_response_bytes=MiB)
    table = new_table(lake)
    proxy.clear()
    proxy.inject(Fault(gzip_bomb=64 * MiB, **COMMIT))
    with pytest.raises(floe.CommitStateUnknownError) as info:
        lake.writes.append(table, pa.table({"id": [3]}, schema=SCHEMA))
    assert isinstance(info.value.__cause__, floe.ResponseTooLargeError)
    ids = lake.reads.scan(table, columns=["id"]).column("id").to_pylist()
    assert sorted(ids) == [1, 2, 3]


HUGE_ANSWERS: dict[str, Fault] = {
    # 1 MiB on the wire, 1 GiB decoded.
    "gzip-bomb": Fault(gzip_bomb=1 << 30),
    "300MB-announced": Fault(huge_body=300 * 10**6),
    "300MB-chunked": Fault(huge_body=300 * 10**6, announce_length=False),
}


@pytest.mark.parametrize("fault", list(HUGE_ANSWERS.values()), ids=list(HUGE_ANSWERS))
def test_a_huge_answer_fails_typed_with_the_clients_memory_bounded(
    seaweed: SeaweedServer, proxy: PolarisProxy, fault: Fault
) -> None:
    lake = lake_for(seaweed, proxy)
    table = new_table(lake)
    fault.method, fault.path_contains, fault.times = "GET", "/tables/t", 3
    proxy.inject(fault)
    config = polaris_config(seaweed, proxy)  # floe's defaults: max_response_bytes 256 MiB
    assert config.client_secret is not None
    mapping = {
        "type": "polaris",
        "uri": config.uri,
        "warehouse": config.warehouse,
        "client_id": config.client_id,
        "client_secret": config.client_secret.reveal(),
        "scope": config.scope,
        "retry": {"max_attempts": 3, "initial_wait_s": 0.02, "max_wait_s": 0.1},
        "properties": dict(config.properties),
    }
    script = Path(__file__).with_name("answer_memory.py")
    # The child imports the floe this process imports (-P: not the modules beside the script).
    here = str(Path(floe.__file__).resolve().parents[1])
    paths = [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-P", str(script), json.dumps(mapping), table],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    growth_kib = report["after_kib"] - report["before_kib"]
    # The figures in docs/reliability.md:
    print(f"peak RSS growth {growth_kib / 1024:.0f} MiB, typed error after {report['s']:.1f} s")
    assert report["error"] is not None, "the huge answer was accepted"
    assert report["error"]["type"] == "ResponseTooLargeError", report["error"]
    assert "max_response_bytes=268435456" in report["error"]["message"]
    assert fault.times == 2  # not retried: it would come again
    assert growth_kib < MEMORY_BOUND_KIB
