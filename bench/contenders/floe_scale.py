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
  from a Ray Dataset read by the workers in blocks of about 2.5 M rows (at
  least 2) on a local Ray with 2 CPUs; reports the peak RSS of the Ray
  worker processes too.

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
import pyarrow as pa
from floe_service import _table, open_lake

import floe

#: The slow consumer's pause per batch, and after the first one (then the RSS is read).
PAUSE_S = 0.02
FIRST_PAUSE_S = 3.0
#: Rows per Ray block in the distributed append (the source is read in slices of about this).
ROWS_PER_BLOCK = 2_500_000
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
    source = spec["data"]
    with pa.memory_map(source) as mapped:
        reader = pa.ipc.open_file(mapped)
        schema, source_batches = reader.schema, reader.num_record_batches
    target, warm = _table(spec["table"]), _table(spec["table"] + "_warm")
    properties = spec.get("table_properties") or {}
    lake.tables.create(target, schema, properties=properties)
    lake.tables.create(warm, schema, properties=properties)
    sample = common.read_table(spec["warmup_data"])
    lake.writes.append_distributed(warm, ray.data.from_arrow(sample).repartition(2))
    # The workers read the source themselves, a slice each (as a cluster reads
    # its input), so the driver never holds the rows; then the blocks sit in
    # the object store, as the single-process append's rows sit in memory,
    # before either write is timed.
    blocks = min(source_batches, max(2, -(-int(spec["rows"]) // ROWS_PER_BLOCK)))
    bounds = [source_batches * i // blocks for i in range(blocks + 1)]

    def read_slice(rows: dict[str, Any]) -> pa.Table:
        index = int(rows["id"][0])
        with pa.memory_map(source) as mapped:
            file = pa.ipc.open_file(mapped)
            part = [file.get_batch(i) for i in range(bounds[index], bounds[index + 1])]
            return pa.Table.from_batches(part, schema=file.schema).combine_chunks()

    dataset = (
        ray.data.range(blocks, override_num_blocks=blocks)
        .map_batches(read_slice, batch_size=1, batch_format="numpy")
        .materialize()
    )
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
