"""Contender: compaction of many small files, by floe or by plain ``pyarrow.parquet``.

Op ``compact``; the spec's ``flavor`` says who:

- ``floe``: ``files`` appends of ``rows / files`` rows each into a new
  unpartitioned table (untimed), then ``lake.maintenance.compact(table,
  target_file_size=target_bytes)`` (timed): the small files read and rewritten
  bin by bin into files near the target, one ``replace`` commit;
- ``parquet``: the same rows written as ``files`` small Parquet files
  (untimed, zstd), then rewritten (timed) into files near the same target:
  files packed in order into bins of at most ``target_bytes``, each bin read
  file by file and written with one ``ParquetWriter`` (memory: one input file
  and the writer's row group).

Throughput is rows per second; each process also reports its peak RSS (the
runner's ``wait4``), so memory is compared as for the streaming write.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import pyarrow as pa
import pyarrow.parquet as pq


def _slices(data: pa.Table, files: int) -> list[pa.Table]:
    size = -(-data.num_rows // files)
    return [data.slice(i * size, size) for i in range(files) if i * size < data.num_rows]


def _in_child(target: Any, *args: Any) -> None:
    """Run ``target(*args)`` in a process of its own: the setup's memory is not this one's peak."""
    import multiprocessing

    child = multiprocessing.get_context("spawn").Process(target=target, args=args)
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"setup failed (exit {child.exitcode})")


def _floe_build(spec: dict[str, Any], name: str, data_path: str) -> None:
    from floe_service import open_lake

    import floe

    common.quiet_logs()
    lake = open_lake(spec["catalog"])
    rows = common.read_table(data_path)
    table = floe.TableIdentifier((common.NAMESPACE,), name)
    if lake.tables.exists(table):
        lake.tables.drop(table, purge=True)
    lake.tables.create(table, rows.schema)
    for part in _slices(rows, int(spec["files"])):
        lake.writes.append(table, part)


def _parquet_build(spec: dict[str, Any], prefix: str, data_path: str) -> None:
    from parquet_raw import COMPRESSION, _filesystem

    fs, root = _filesystem(spec)
    rows = common.read_table(data_path)
    for i, part in enumerate(_slices(rows, int(spec["files"]))):
        path = f"{root}/{prefix}-small-{i:04d}.parquet"
        pq.write_table(part, path, compression=COMPRESSION, filesystem=fs)


def floe_compact(spec: dict[str, Any], out: Path) -> None:
    from floe_service import open_lake

    import floe

    if not spec.get("floe_logs", False):
        common.quiet_logs()
    lake = open_lake(spec["catalog"])
    target = int(spec["target_bytes"])
    # The tables are built in another process: this one's peak RSS is the compaction's.
    _in_child(_floe_build, spec, spec["table"] + "_warm", spec["warmup_data"])
    _in_child(_floe_build, spec, spec["table"], spec["data"])
    warm = floe.TableIdentifier((common.NAMESPACE,), spec["table"] + "_warm")
    table = floe.TableIdentifier((common.NAMESPACE,), spec["table"])
    lake.maintenance.compact(warm, target_file_size=target)
    with common.Stopwatch() as watch:
        result = lake.maintenance.compact(table, target_file_size=target)
    health = lake.maintenance.health(table)
    common.emit(
        out,
        watch,
        rows=int(lake.reads.scan(table, columns=["id"]).num_rows),
        files_rewritten=result.files_rewritten,
        files_added=result.files_added,
        data_files=health.data_files,
        live_data_bytes=health.data_bytes,
    )
    common.purge(spec["catalog"], [spec["table"], spec["table"] + "_warm"])


def parquet_compact(spec: dict[str, Any], out: Path) -> None:
    from parquet_raw import COMPRESSION, _filesystem

    fs, root = _filesystem(spec)
    files, target = int(spec["files"]), int(spec["target_bytes"])

    def small_files(prefix: str, data_path: str) -> list[tuple[str, int]]:
        # Written in another process: this one's peak RSS is the rewrite's.
        _in_child(_parquet_build, spec, prefix, data_path)
        found = []
        for i in range(files):
            path = f"{root}/{prefix}-small-{i:04d}.parquet"
            if fs is None:
                if Path(path).exists():
                    found.append((path, Path(path).stat().st_size))
            else:
                info = fs.get_file_info(path)
                if info.size is not None:
                    found.append((path, info.size))
        return found

    def compact(prefix: str, inputs: list[tuple[str, int]]) -> list[str]:
        bins: list[list[str]] = [[]]
        size = 0
        for path, bytes_ in inputs:
            if bins[-1] and size + bytes_ > target:
                bins.append([])
                size = 0
            bins[-1].append(path)
            size += bytes_
        written = []
        for n, paths in enumerate(bins):
            output = f"{root}/{prefix}-compact-{n:04d}.parquet"
            schema = pq.read_schema(paths[0], filesystem=fs)
            with pq.ParquetWriter(output, schema, compression=COMPRESSION, filesystem=fs) as w:
                for path in paths:
                    w.write_table(pq.read_table(path, filesystem=fs))
            written.append(output)
        return written

    warm_inputs = small_files(spec["table"] + "_warm", spec["warmup_data"])
    warm_outputs = compact(spec["table"] + "_warm", warm_inputs)
    inputs = small_files(spec["table"], spec["data"])
    with common.Stopwatch() as watch:
        outputs = compact(spec["table"], inputs)
    rows = sum(pq.read_metadata(p, filesystem=fs).num_rows for p in outputs)
    common.emit(out, watch, rows=rows, files_rewritten=len(inputs), files_added=len(outputs))
    common.delete_files(fs, [p for p, _ in inputs + warm_inputs] + outputs + warm_outputs)


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    if args.op != "compact":
        raise SystemExit(f"unknown op {args.op}")
    if spec["flavor"] == "floe":
        floe_compact(spec, args.out)
    else:
        parquet_compact(spec, args.out)


if __name__ == "__main__":
    main()
