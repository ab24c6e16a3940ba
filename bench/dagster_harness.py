"""Dagster assets driving an IO manager, the same way for floe's and dagster-iceberg's.

Imported by ``contenders/floe_iomanager.py`` (project venv) and
``contenders/dgi_iomanager.py`` (its own venv): standard library, PyArrow,
pandas and Dagster only. The timed quantity is the IO manager's own
``handle_output`` (write) or ``load_input`` (read) — the contender subclasses
the IO manager to add the time to :data:`TIMES`; the whole ``materialize``
call (Dagster's run machinery included) is reported next to it.

Not ``from __future__ import annotations``: Dagster reads the input
annotations (``pa.Table`` / ``pd.DataFrame``) at definition time.
"""

import statistics
import time
import warnings
from typing import Any

import common
import dagster as dg
import pandas as pd
import pyarrow as pa

warnings.filterwarnings("ignore")

TIMES: dict[str, float] = {"handle_output": 0.0, "load_input": 0.0}
ROWS: dict[str, int] = {}

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01")


def timed(kind: str, call: Any) -> Any:
    start = time.perf_counter()
    try:
        return call()
    finally:
        TIMES[kind] += time.perf_counter() - start


def write_asset(name: str, data_path: str, flavor: str, metadata: dict[str, Any]) -> Any:
    @dg.asset(key=[common.NAMESPACE, name], metadata=metadata)
    def produce() -> Any:  # the conversion to pandas is the asset's work, not the IO manager's
        table = common.read_table(data_path)
        return table if flavor == "arrow" else table.to_pandas()

    return produce


def write(
    name: str, data_path: str, flavor: str, metadata: dict[str, Any], io_manager: Any
) -> float:
    """Materialize one unpartitioned asset; returns the wall time of ``materialize``."""
    asset = write_asset(name, data_path, flavor, metadata)
    start = time.perf_counter()
    result = dg.materialize([asset], resources={"io_manager": io_manager})
    wall = time.perf_counter() - start
    if not result.success:
        raise RuntimeError(f"materializing {name} failed")
    return wall


def _reader(flavor: str) -> Any:
    ins = {
        "events": dg.AssetIn(
            key=[common.NAMESPACE, common.READ_TABLE],
            metadata={"columns": list(common.READ_COLUMNS)},
        )
    }
    if flavor == "arrow":

        @dg.asset(partitions_def=PARTITIONS, ins=ins, io_manager_key="mem")
        def day_reader_arrow(events: pa.Table) -> int:
            ROWS["rows"] = events.num_rows
            return events.num_rows

        return day_reader_arrow

    @dg.asset(partitions_def=PARTITIONS, ins=ins, io_manager_key="mem")
    def day_reader_pandas(events: pd.DataFrame) -> int:
        ROWS["rows"] = len(events)
        return len(events)

    return day_reader_pandas


def read_day(day: str, flavor: str, metadata: dict[str, Any], io_manager: Any) -> float:
    """Load one daily partition of the read table as a downstream input; materialize wall time."""
    source = dg.SourceAsset(
        key=[common.NAMESPACE, common.READ_TABLE], partitions_def=PARTITIONS, metadata=metadata
    )
    start = time.perf_counter()
    result = dg.materialize(
        [source, _reader(flavor)],
        partition_key=day,
        resources={"io_manager": io_manager, "mem": dg.InMemoryIOManager()},
    )
    wall = time.perf_counter() - start
    if not result.success:
        raise RuntimeError(f"reading partition {day} failed")
    return wall


def run(op: str, spec: dict[str, Any], io_manager: Any, metadata: dict[str, Any], out: Any) -> None:
    """Warm up, then time one write or one partition read; emit the result."""
    flavor = spec["flavor"]
    if op == "write":
        warm_data = spec["data"] if spec.get("warmup_full") else spec["warmup_data"]
        write(spec["table"] + "_warm", warm_data, flavor, metadata, io_manager)
        TIMES["handle_output"] = 0.0
        watch = common.Stopwatch()
        with watch:
            wall = write(spec["table"], spec["data"], flavor, metadata, io_manager)
        watch.seconds = TIMES["handle_output"]
        rows = common.table_rows(spec["catalog"], spec["table"])
        properties = common.table_properties(spec["catalog"], spec["table"])
        common.emit(
            out,
            watch,
            materialize_s=wall,
            flavor=flavor,
            rows=rows,
            # Shown so a reader can check both IO managers wrote with the same properties.
            dict_size_bytes=properties.get("write.parquet.dict-size-bytes"),
            same_properties_as_floe=all(
                properties.get(k) == v for k, v in common.FLOE_TABLE_PROPERTIES.items()
            ),
        )
        common.purge(spec["catalog"], [spec["table"], spec["table"] + "_warm"])
    elif op == "read_day":
        read_day(spec["warmup_day"], flavor, metadata, io_manager)
        loads: list[float] = []
        walls: list[float] = []

        def once(day: str) -> None:
            TIMES["load_input"] = 0.0
            walls.append(read_day(day, flavor, metadata, io_manager))
            loads.append(TIMES["load_input"])

        # Each timed read asks for another day (partition key).
        watch, _, _ = common.timed_reads(once, int(spec.get("inner_repeats", 1)))
        watch.seconds = statistics.median(loads)  # the IO manager's load_input, not the run
        common.emit(
            out,
            watch,
            materialize_s=statistics.median(walls),
            flavor=flavor,
            rows=ROWS.get("rows"),
            inner_seconds=loads,
        )
    else:
        raise SystemExit(f"unknown op {op}")
