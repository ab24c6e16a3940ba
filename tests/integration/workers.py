"""Writer processes for the concurrency suite (spawned: each builds its own floe).

Kept apart from the test module so that a spawned child imports floe and
pyarrow only, not pytest and the fixtures.
"""

from __future__ import annotations

import multiprocessing.synchronize
import time
import traceback
from typing import Any

import pyarrow as pa

import floe

SCHEMA = pa.schema(
    [
        ("part", pa.string()),
        ("worker", pa.int64()),
        ("batch", pa.int64()),
        ("seq", pa.int64()),
        ("payload", pa.string()),
    ]
)


def batch_rows(part: str, worker: int, batch: int, rows: int) -> pa.Table:
    """The rows of one batch: ``rows`` rows tagged with their worker and batch."""
    return pa.table(
        {
            "part": [part] * rows,
            "worker": [worker] * rows,
            "batch": [batch] * rows,
            "seq": list(range(rows)),
            "payload": [f"w{worker}-b{batch}-r{i}-é✓" for i in range(rows)],
        },
        schema=SCHEMA,
    )


def _lake(config: dict[str, Any], worker: int) -> floe.Floe:
    config = dict(config)
    if config.get("type") == "polaris":
        # Every catalog request of this process carries its worker number, so the
        # proxy can tell the processes apart.
        config["properties"] = {**config["properties"], "header.X-Floe-Worker": str(worker)}
    return floe.Floe.from_config(config)


def append_worker(
    config: dict[str, Any],
    table: str,
    worker: int,
    batches: int,
    rows: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Append ``batches`` batches; put ``{worker, snapshots, errors, seconds}`` on ``results``."""
    outcome: dict[str, Any] = {"worker": worker, "snapshots": [], "errors": []}
    try:
        lake = _lake(config, worker)
        lake.tables.load(table)  # connect before the race starts
        barrier.wait(timeout=120)
        start = time.monotonic()
        for batch in range(batches):
            data = batch_rows("append", worker, batch, rows)
            try:
                written = lake.writes.append(
                    table, data, snapshot_properties={"floe.batch": f"{worker}-{batch}"}
                )
                outcome["snapshots"].append(written.snapshot_id)
            except floe.FloeStorageError as exc:
                outcome["errors"].append(f"{type(exc).__name__}: {exc}")
        outcome["seconds"] = time.monotonic() - start
    except BaseException:  # reported to the parent, which fails the test
        outcome["errors"].append("crashed: " + traceback.format_exc())
    results.put(outcome)


def overwrite_worker(
    config: dict[str, Any],
    table: str,
    worker: int,
    rounds: int,
    rows: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Each round: overwrite this worker's own partition, then the shared one.

    Puts ``{worker, own, shared, own_errors, shared_errors, messages}`` on
    ``results``: the batches that committed, the typed errors of those that
    did not, and those errors' messages (for a failing test to show).
    """
    outcome: dict[str, Any] = {
        "worker": worker,
        "own": [],
        "shared": [],
        "own_errors": [],
        "shared_errors": [],
        "messages": [],
    }
    try:
        lake = _lake(config, worker)
        lake.tables.load(table)
        barrier.wait(timeout=120)
        for batch in range(rounds):
            own = f"w{worker}"
            for part, done, failed in (
                (own, outcome["own"], outcome["own_errors"]),
                ("shared", outcome["shared"], outcome["shared_errors"]),
            ):
                try:
                    lake.writes.overwrite(
                        table,
                        batch_rows(part, worker, batch, rows),
                        row_filter=f"part = '{part}'",
                    )
                    done.append(batch)
                except floe.FloeStorageError as exc:
                    failed.append(type(exc).__name__)
                    outcome["messages"].append(f"{part} batch {batch}: {exc}"[:500])
    except BaseException:
        outcome["own_errors"].append("crashed: " + traceback.format_exc())
    results.put(outcome)


def first_write_worker(
    rounds: list[tuple[dict[str, Any], str]],
    mode: str,
    worker: int,
    rows: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Each round, with every other worker at once: open a catalog, write a NEW table.

    Every round names a table (in a nested namespace) that does not exist yet,
    on the local catalog a warehouse nobody has opened: the workers race to
    open the warehouse, create the namespaces and create the table with their
    rows, as the first materialisations of a new partitioned asset do. Each
    worker writes its own partition ``w<worker>`` (``append`` or a partition
    ``overwrite``). Puts ``{worker, errors}`` on ``results``.
    """
    outcome: dict[str, Any] = {"worker": worker, "errors": []}
    new_table = floe.NewTable(partition_spec=["part"])
    for number, (config, table) in enumerate(rounds):
        try:
            barrier.wait(timeout=120)
            lake = _lake(config, worker)
            lake.namespaces.create_if_not_exists(table.rsplit(".", 1)[0])
            data = batch_rows(f"w{worker}", worker, number, rows)
            if mode == "append":
                lake.writes.append(table, data, create_if_missing=new_table)
            else:
                lake.writes.overwrite(
                    table, data, row_filter=f"part = 'w{worker}'", create_if_missing=new_table
                )
        except floe.FloeStorageError as exc:
            outcome["errors"].append(f"round {number}: {type(exc).__name__}: {exc}")
        except BaseException:  # reported to the parent, which fails the test
            outcome["errors"].append(f"round {number} crashed: " + traceback.format_exc())
    results.put(outcome)


def interleaved_overwrite_worker(
    config: dict[str, Any],
    table: str,
    part: str,
    rows: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: Any,
) -> None:
    """Overwrite partition ``part`` with its manifest judged while another one is.

    The interleaving is installed before anything starts a thread, so that
    PyIceberg's pool threads run under it (see ``interleave.py``). Puts
    ``{worker, error, snapshot, met}`` on ``results``: the write's error (``None``
    when it committed), its snapshot and whether the interleaving happened.
    """
    from tests.integration.interleave import interleave_manifest_evaluations

    bound = part.encode()
    rendezvous = interleave_manifest_evaluations(lambda m: m.partitions[0].lower_bound == bound)
    outcome: dict[str, Any] = {"worker": 0, "error": None, "snapshot": None}
    try:
        lake = _lake(config, 0)
        barrier.wait(timeout=120)
        written = lake.writes.overwrite(
            table, batch_rows(part, 9, 9, rows), row_filter=f"part = '{part}'"
        )
        outcome["snapshot"] = written.snapshot_id
    except floe.FloeStorageError as exc:
        outcome["error"] = f"{type(exc).__name__}: {exc}"
    except BaseException:  # reported to the parent, which fails the test
        outcome["error"] = "crashed: " + traceback.format_exc()
    outcome["met"] = rendezvous.met
    results.put(outcome)
