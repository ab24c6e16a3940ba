"""Concurrent first writes: processes racing to create the same new table all land.

A backfill of a new partitioned asset starts several runs at once, each the
first writer of the table as far as it knows: every one opens the catalog
(the embedded one possibly for the first time), creates the namespace if it
is missing and creates the table with its rows. All of them must land, each
row exactly once, whoever wins the create.
"""

from __future__ import annotations

import pathlib
import uuid
from typing import Any

import pytest

import floe
from tests.integration.conftest import PolarisFactory
from tests.integration.seaweed import SeaweedServer
from tests.integration.test_concurrency import as_mapping, run_workers
from tests.integration.workers import first_write_worker

PROCESSES = 3
ROUNDS = 4
ROWS = 5


def assert_round_complete(lake: floe.Floe, table: str, number: int) -> None:
    """Every worker's rows of round ``number`` are in ``table``, each exactly once."""
    data = lake.reads.scan(table, columns=["part", "worker", "batch", "seq"])
    rows = sorted(
        zip(
            data.column("part").to_pylist(),
            data.column("worker").to_pylist(),
            data.column("batch").to_pylist(),
            data.column("seq").to_pylist(),
            strict=True,
        )
    )
    expected = sorted((f"w{w}", w, number, s) for w in range(PROCESSES) for s in range(ROWS))
    assert rows == expected, table


@pytest.mark.parametrize("mode", ["append", "overwrite"])
def test_processes_racing_to_create_a_table_in_a_new_embedded_warehouse_all_land(
    tmp_path: pathlib.Path, mode: str
) -> None:
    rounds: list[tuple[dict[str, Any], str]] = [
        (
            {"type": "local", "warehouse_path": str(tmp_path / f"warehouse{n}")},
            "lake.bronze.orders",
        )
        for n in range(ROUNDS)
    ]

    outcomes = run_workers(first_write_worker, [(rounds, mode, w, ROWS) for w in range(PROCESSES)])

    assert [o["errors"] for o in outcomes] == [[]] * PROCESSES
    for number, (config, table) in enumerate(rounds):
        lake = floe.Floe.from_config(config)
        assert lake.namespaces.list(("lake",)) == [("lake", "bronze")]
        assert_round_complete(lake, table, number)
        # The losers' refused first commits left no file behind.
        referenced = {f.path.removeprefix("file://") for f in lake.tables.files(table)}
        on_disk = {str(p) for p in pathlib.Path(config["warehouse_path"]).rglob("*.parquet")}
        assert on_disk == referenced


@pytest.mark.parametrize("mode", ["append", "overwrite"])
def test_processes_racing_to_create_a_table_through_polaris_all_land(
    seaweed: SeaweedServer, polaris_factory: PolarisFactory, mode: str
) -> None:
    proxy = polaris_factory(token_lifetime_s=600.0)
    config = as_mapping(seaweed, proxy)
    root = f"first_{uuid.uuid4().hex[:8]}"
    tables = [f"{root}.r{n}.orders" for n in range(ROUNDS)]

    outcomes = run_workers(
        first_write_worker,
        [([(config, t) for t in tables], mode, w, ROWS) for w in range(PROCESSES)],
    )

    assert [o["errors"] for o in outcomes] == [[]] * PROCESSES
    lake = floe.Floe.from_config(config)
    for number, table in enumerate(tables):
        assert_round_complete(lake, table, number)
