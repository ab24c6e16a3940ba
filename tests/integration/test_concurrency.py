"""Concurrent writer processes on one table: no lost, no duplicated batch, bounded conflicts.

Four spawned processes, each with its own ``floe.Floe``, write to the same
table through the Polaris proxy (and, separately, through the embedded local
catalog). Conflicting commits are retried by PyIceberg on refreshed table
metadata, up to the table's ``commit.retry.num-retries``.

Appends never truly conflict: an append's commit is refused only because
another writer's commit landed on the head it read, and its next attempt
reads a newer head. So a commit needs at most one retry per commit the other
writers make meanwhile, however slow the machine. PyIceberg counts its
budget in attempts, and how many commits land during one attempt depends on
the machine's speed: with floe's default of 10 retries a machine loaded 8
times over its cores ran out now and then. The append tables here allow one
retry per commit of the other writers (``APPEND_RETRIES``), a budget no
machine speed can exhaust, and the test asserts what bounds the attempts:
each refused attempt met a commit of another writer on the head it read.
"""

from __future__ import annotations

import json
import multiprocessing
import pathlib
import time
from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa
import pytest

import floe
from tests.integration.conftest import PolarisFactory, polaris_config, unique
from tests.integration.polaris_proxy import Exchange, PolarisProxy
from tests.integration.seaweed import SeaweedServer
from tests.integration.workers import (
    SCHEMA,
    append_worker,
    batch_rows,
    interleaved_overwrite_worker,
    overwrite_worker,
)

PROCESSES = 4
APPENDS = 25
ROWS = 3
#: One retry per commit the other writers make (see the module docstring);
#: the waits stay floe's defaults, 50 ms doubling to 5 s.
APPEND_RETRIES = (PROCESSES - 1) * APPENDS
APPEND_TABLE = {"commit.retry.num-retries": str(APPEND_RETRIES)}
JOIN_TIMEOUT_S = 150
RETRY = {"max_attempts": 5, "initial_wait_s": 0.05, "max_wait_s": 0.5, "jitter_s": 0.05}


def run_workers(target: Any, args: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    """Run one spawned process per argument tuple; they start writing together."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    results = ctx.Queue()
    processes = [ctx.Process(target=target, args=(*a, barrier, results), daemon=True) for a in args]
    for process in processes:
        process.start()
    outcomes = []
    try:
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        for _ in processes:
            outcomes.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
    finally:
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)
    return sorted(outcomes, key=lambda o: o["worker"])


def as_mapping(server: SeaweedServer, proxy: PolarisProxy) -> dict[str, Any]:
    config = polaris_config(server, proxy)
    assert config.client_secret is not None
    return {
        "type": "polaris",
        "uri": config.uri,
        "warehouse": config.warehouse,
        "client_id": config.client_id,
        "client_secret": config.client_secret.reveal(),
        "scope": config.scope,
        "retry": RETRY,
        "properties": dict(config.properties),
    }


def commits(proxy: PolarisProxy, table: str) -> list[Exchange]:
    name = table.rsplit(".", 1)[1]
    return proxy.seen(lambda e: e.method == "POST" and e.path.endswith(f"/tables/{name}"))


def snapshot_ids_of(exchange: Exchange) -> list[int]:
    body = json.loads(exchange.body)
    return [
        u["snapshot"]["snapshot-id"]
        for u in body.get("updates", [])
        if u["action"] == "add-snapshot"
    ]


def parent_of(exchange: Exchange) -> int | None:
    """The head the commit's one new snapshot was built on."""
    body = json.loads(exchange.body)
    (snapshot,) = [u["snapshot"] for u in body["updates"] if u["action"] == "add-snapshot"]
    parent: int | None = snapshot.get("parent-snapshot-id")
    return parent


def asserted_head(exchange: Exchange) -> int | None:
    """The head of ``main`` the commit required (None: no snapshot yet)."""
    body = json.loads(exchange.body)
    (requirement,) = [
        r
        for r in body["requirements"]
        if r["type"] == "assert-ref-snapshot-id" and r["ref"] == "main"
    ]
    head: int | None = requirement.get("snapshot-id")
    return head


def worker_of(exchange: Exchange) -> str:
    return exchange.headers.get("X-Floe-Worker", "")


def assert_every_batch_once(data: pa.Table, workers: int, batches: int, rows: int) -> None:
    counts = Counter(
        zip(data.column("worker").to_pylist(), data.column("batch").to_pylist(), strict=True)
    )
    expected = {(w, b): rows for w in range(workers) for b in range(batches)}
    assert dict(counts) == expected
    keys = zip(
        data.column("worker").to_pylist(),
        data.column("batch").to_pylist(),
        data.column("seq").to_pylist(),
        strict=True,
    )
    assert len(set(keys)) == data.num_rows


def test_four_processes_append_to_one_table_through_polaris(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=5.0)
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("race")
    table = f"{namespace}.appends"
    lake.namespaces.create(namespace)
    lake.tables.create(table, SCHEMA, properties=APPEND_TABLE)
    proxy.clear()

    config = as_mapping(seaweed, proxy)
    outcomes = run_workers(
        append_worker, [(config, table, w, APPENDS, ROWS) for w in range(PROCESSES)]
    )

    assert [o["errors"] for o in outcomes] == [[]] * PROCESSES
    data = lake.reads.scan(table)
    assert data.num_rows == PROCESSES * APPENDS * ROWS
    assert_every_batch_once(data, PROCESSES, APPENDS, ROWS)
    reported = [s for o in outcomes for s in o["snapshots"]]
    history = [s.snapshot_id for s in lake.snapshots.list(table)]
    assert len(set(reported)) == PROCESSES * APPENDS
    assert sorted(history) == sorted(reported)  # one snapshot per append, none lost

    sent = commits(proxy, table)
    conflicts = [e for e in sent if e.status == 409]
    assert all(e.status in (200, 409) for e in sent)
    assert len(sent) - len(conflicts) == PROCESSES * APPENDS
    attempts = Counter(s for e in sent for s in snapshot_ids_of(e))
    assert max(attempts.values()) <= APPEND_RETRIES + 1  # bounded
    assert sum(attempts.values()) == len(sent)
    # Each head of main got exactly one commit on top of it (none lost at the
    # server), and each refused attempt met a commit of another writer on the
    # head it read; the same commit's attempts read ever newer heads. So a
    # commit's attempts are bounded by the other writers' commits, not by time.
    landed = {parent_of(e): e for e in sent if e.status == 200}
    assert len(landed) == PROCESSES * APPENDS
    heads_read: dict[int, list[int | None]] = defaultdict(list)
    for refused in conflicts:
        head = asserted_head(refused)
        assert head in landed, refused.body
        assert worker_of(landed[head]) != worker_of(refused)
        (snapshot_id,) = snapshot_ids_of(refused)
        heads_read[snapshot_id].append(head)
    for heads in heads_read.values():
        assert len(set(heads)) == len(heads)
    # After each conflict the writer reloads the table before it commits again.
    by_worker: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in proxy.seen():
        by_worker[exchange.headers.get("X-Floe-Worker", "")].append(exchange)
    for worker, seen in by_worker.items():
        for i, exchange in enumerate(seen):
            if exchange in conflicts:
                later = seen[i + 1 :]
                reloads = [e for e in later if e.method == "GET" and "/tables/appends" in e.path]
                next_commit = next(e for e in later if e in sent)
                assert reloads, worker
                assert reloads[0].at < next_commit.at, worker
    print(
        f"\nappend race: {len(sent)} commit requests, {len(conflicts)} conflicts (409), "
        f"max attempts for one commit {max(attempts.values())}, "
        f"worker seconds {[round(o['seconds'], 1) for o in outcomes]}"
    )


def test_four_processes_append_to_one_table_in_the_embedded_catalog(
    tmp_path: pathlib.Path,
) -> None:
    warehouse = str(tmp_path / "warehouse")
    lake = floe.Floe.from_config(floe.LocalCatalogConfig(warehouse))
    lake.namespaces.create("race")
    lake.tables.create("race.appends", SCHEMA, properties=APPEND_TABLE)

    config = {"type": "local", "warehouse_path": warehouse}
    outcomes = run_workers(
        append_worker, [(config, "race.appends", w, APPENDS, ROWS) for w in range(PROCESSES)]
    )

    assert [o["errors"] for o in outcomes] == [[]] * PROCESSES
    data = lake.reads.scan("race.appends")
    assert_every_batch_once(data, PROCESSES, APPENDS, ROWS)
    reported = sorted(s for o in outcomes for s in o["snapshots"])
    assert sorted(s.snapshot_id for s in lake.snapshots.list("race.appends")) == reported


OVERWRITE_ROUNDS = 4
KEEP_ROWS = 10
#: As for the appends: one retry per commit the other writers make (two a round).
OVERWRITE_TABLE = {"commit.retry.num-retries": str((PROCESSES - 1) * OVERWRITE_ROUNDS * 2)}


def test_partition_overwrite_race_through_polaris(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory
) -> None:
    proxy = polaris_factory(token_lifetime_s=5.0)
    lake = floe.Floe.from_config(polaris_config(seaweed, proxy))
    namespace = unique("overwrite_race")
    table = f"{namespace}.parts"
    lake.namespaces.create(namespace)
    lake.tables.create(table, SCHEMA, ["part"], properties=OVERWRITE_TABLE)
    lake.writes.append(table, batch_rows("keep", -1, -1, KEEP_ROWS))

    config = as_mapping(seaweed, proxy)
    outcomes = run_workers(
        overwrite_worker, [(config, table, w, OVERWRITE_ROUNDS, ROWS) for w in range(PROCESSES)]
    )
    data = lake.reads.scan(table)
    groups = data.group_by(["part", "worker", "batch"]).aggregate([("seq", "count")]).to_pylist()
    print("\npartition overwrite race:", outcomes, groups)
    by_part: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for group in groups:
        by_part[group["part"]].append(group)
    # The partition nobody overwrote kept every row.
    assert by_part.pop("keep") == [{"part": "keep", "worker": -1, "batch": -1, "seq_count": 10}]
    # Own partitions never conflict: each holds its writer's last batch, whole.
    for outcome in outcomes:
        worker = outcome["worker"]
        assert outcome["own_errors"] == [], outcome
        assert outcome["own"] == list(range(OVERWRITE_ROUNDS))
        assert by_part.pop(f"w{worker}") == [
            {
                "part": f"w{worker}",
                "worker": worker,
                "batch": OVERWRITE_ROUNDS - 1,
                "seq_count": ROWS,
            }
        ]
    # The shared partition holds exactly one committed batch, whole; the writes
    # that lost the race were refused with a typed conflict, nothing applied.
    (shared,) = by_part.pop("shared")
    assert shared["seq_count"] == ROWS
    winner = outcomes[shared["worker"]]
    assert shared["batch"] in winner["shared"]
    assert by_part == {}
    for outcome in outcomes:
        assert set(outcome["shared_errors"]) <= {"CommitConflictError"}, outcome
        assert len(outcome["shared"]) + len(outcome["shared_errors"]) == OVERWRITE_ROUNDS
    assert sum(len(o["shared"]) for o in outcomes) >= 1


@pytest.fixture(params=["local", "polaris"])
def catalog_mapping(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> dict[str, Any]:
    """A catalog config as a spawned writer takes it: the embedded catalog or the Polaris proxy."""
    if request.param == "local":
        return {"type": "local", "warehouse_path": str(tmp_path / "warehouse")}
    seaweed: SeaweedServer = request.getfixturevalue("seaweed")
    polaris_factory: PolarisFactory = request.getfixturevalue("polaris_factory")
    return as_mapping(seaweed, polaris_factory())


def test_an_overwrite_judging_its_manifests_in_parallel_finds_every_file_it_replaces(
    catalog_mapping: dict[str, Any],
) -> None:
    """PyIceberg judges a snapshot's manifests in its thread pool when it plans an overwrite.

    Its manifest evaluator keeps the manifest being judged in an attribute;
    one evaluator shared by the pool's threads could prune the manifest
    holding a replaced file, and the overwrite failed with "Missing required
    files to delete" (seen in the overwrite race above on a loaded machine).
    Here the interleaving is forced, every time: the writer's thread judging
    the manifest of the partition it replaces is held between storing that
    manifest and reading it until a thread judging the other manifest has
    stored its own.
    """
    lake = floe.Floe.from_config(catalog_mapping)
    namespace = unique("threads")
    table = f"{namespace}.parts"
    lake.namespaces.create(namespace)
    lake.tables.create(table, SCHEMA, ["part"])
    lake.writes.append(table, batch_rows("mine", 0, 0, ROWS))  # one manifest each
    lake.writes.append(table, batch_rows("other", 1, 0, ROWS))

    (outcome,) = run_workers(interleaved_overwrite_worker, [(catalog_mapping, table, "mine", ROWS)])

    assert outcome["met"], "the writer never judged the two manifests at once"
    assert outcome["error"] is None
    data = lake.reads.scan(table)
    groups = data.group_by(["part", "worker", "batch"]).aggregate([("seq", "count")]).to_pylist()
    assert sorted(groups, key=lambda g: str(g["part"])) == [
        {"part": "mine", "worker": 9, "batch": 9, "seq_count": ROWS},
        {"part": "other", "worker": 1, "batch": 0, "seq_count": ROWS},
    ]
    history = lake.snapshots.list(table)
    assert [s.operation for s in history] == ["append", "append", "overwrite"]
    assert history[-1].snapshot_id == outcome["snapshot"]
