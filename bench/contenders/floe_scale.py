"""Contender: floe beyond one process (bench group ``scale``).

Ops:
- ``read_stream_slow``: ``reads.batches`` of the whole read table, a slow
  consumer (3 s after the first batch, when the resident memory is read,
  then 20 ms per batch): floe reads a bounded window of files ahead.
- ``pyiceberg_read_stream_slow``: the same with PyIceberg's own
  ``to_arrow_batch_reader`` (every file handed to its pool at once).
- ``duckdb_aggregate``: a group-by over the read table run by DuckDB on
  ``reads.to_duckdb`` (DuckDB reads the files itself).
- ``pandas_aggregate``: the same group-by after ``reads.to_pandas``.
- ``ray_append``: the data set appended by ``writes.append_distributed``
  from a Ray Dataset of 2 blocks on a local Ray with 2 CPUs; reports the
  peak RSS of the Ray worker processes too.

Peak RSS of the process comes from the runner (``os.wait4``).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import common
from floe_service import _table, open_lake

import floe

#: The slow consumer's pause per batch, and after the first one (then the RSS is read).
PAUSE_S = 0.02
FIRST_PAUSE_S = 3.0
GROUP_BY = "category, count(*) AS n, sum(price) AS revenue, avg(quantity) AS mean_qty"


def read_stream_slow(spec: dict[str, Any], lake: floe.Floe, out: Path, *, own: bool) -> None:
    table = _table(common.READ_TABLE)
    if own:
        stream = lake.reads.batches(table)
    else:
        raw = common.pyiceberg_catalog(spec["catalog"]).load_table(table.parts)
        stream = raw.scan().to_arrow_batch_reader()
    rows = batches = 0
    after_first = 0.0
    with common.Stopwatch() as watch:
        for batch in stream:
            rows += batch.num_rows
            batches += 1
            if batches == 1:
                time.sleep(FIRST_PAUSE_S)  # what the reader holds while it waits
                after_first = _current_rss_mb()
            time.sleep(PAUSE_S)
    common.emit(out, watch, rows=rows, batches=batches, rss_after_first_batch_mb=after_first)


def _current_rss_mb() -> float:
    """This process's resident memory now (not its peak), in MiB."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def aggregate(spec: dict[str, Any], lake: floe.Floe, out: Path, *, engine: str) -> None:
    table = _table(common.READ_TABLE)
    with common.Stopwatch() as watch:
        if engine == "duckdb":
            groups = lake.reads.to_duckdb(table).aggregate(GROUP_BY, "category").fetchall()
        else:
            frame = lake.reads.to_pandas(table)
            groups = frame.groupby("category").agg(
                n=("id", "size"), revenue=("price", "sum"), mean_qty=("quantity", "mean")
            )
    common.emit(out, watch, groups=len(groups))


def ray_append(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    data = common.read_table(spec["data"])
    target, warm = _table(spec["table"]), _table(spec["table"] + "_warm")
    properties = spec.get("table_properties") or {}
    lake.tables.create(target, data.schema, properties=properties)
    lake.tables.create(warm, data.schema, properties=properties)
    sample = common.read_table(spec["warmup_data"])
    lake.writes.append_distributed(warm, ray.data.from_arrow(sample).repartition(2))
    dataset = ray.data.from_arrow(data).repartition(2).materialize()  # in the object store
    del data
    with common.Stopwatch() as watch:
        result = lake.writes.append_distributed(target, dataset)

    @ray.remote(num_cpus=1)
    def worker_peak_mb() -> tuple[int, float]:
        import os

        return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    peaks = dict(ray.get([worker_peak_mb.remote() for _ in range(4)]))
    common.emit(
        out,
        watch,
        rows=result.rows_written,
        snapshot_id=result.snapshot_id,
        data_files=common.data_files(spec["catalog"], spec["table"]),
        worker_peak_rss_mb=sorted(peaks.values(), reverse=True)[:2],
    )
    ray.shutdown()
    common.purge(spec["catalog"], [spec["table"], spec["table"] + "_warm"])


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    common.quiet_logs()
    lake = open_lake(spec["catalog"])
    if args.op == "read_stream_slow":
        read_stream_slow(spec, lake, args.out, own=True)
    elif args.op == "pyiceberg_read_stream_slow":
        read_stream_slow(spec, lake, args.out, own=False)
    elif args.op == "duckdb_aggregate":
        aggregate(spec, lake, args.out, engine="duckdb")
    elif args.op == "pandas_aggregate":
        aggregate(spec, lake, args.out, engine="pandas")
    elif args.op == "ray_append":
        ray_append(spec, lake, args.out)
    else:
        raise SystemExit(f"unknown op {args.op}")


if __name__ == "__main__":
    main()
