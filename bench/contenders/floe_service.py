"""Contender: floe's application services (``floe.Floe``) over the local or REST catalog.

Ops: write, write_stream, read_day, read_stream, calls. Each op first runs the
same operation once on a small input (warm-up: lazy imports, first
connection), then times it once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common

import floe


def open_lake(catalog: dict[str, Any]) -> floe.Floe:
    if catalog["kind"] == "local":
        config: Any = floe.LocalCatalogConfig(catalog["warehouse"], catalog_name=catalog["name"])
    else:
        config = floe.PolarisCatalogConfig(
            uri=catalog["uri"],
            warehouse=catalog["warehouse"],
            client_id=catalog["access_key"],
            client_secret=catalog["secret_key"],
            properties={
                "s3.endpoint": catalog["s3_endpoint"],
                "s3.access-key-id": catalog["access_key"],
                "s3.secret-access-key": catalog["secret_key"],
                "s3.region": catalog["region"],
            },
        )
    return floe.Floe.from_config(config)


def _table(name: str) -> floe.TableIdentifier:
    return floe.TableIdentifier((common.NAMESPACE,), name)


def write(spec: dict[str, Any], lake: floe.Floe, out: Path, *, stream: bool) -> None:
    data = None if stream else common.read_table(spec["data"])
    schema = common.stream_batches(spec["data"]).schema
    target, warm = _table(spec["table"]), _table(spec["table"] + "_warm")
    properties = spec.get("table_properties") or {}
    lake.tables.create(target, schema, properties=properties)
    lake.tables.create(warm, schema, properties=properties)
    if spec.get("warmup_full") and data is not None:
        lake.writes.append(warm, data)  # steady state: same-size write first
    else:
        sample = common.read_table(spec["warmup_data"])
        lake.writes.append(warm, sample.to_reader() if stream else sample)
    names = [spec["table"]]
    if stream:
        with common.Stopwatch() as watch:
            result = lake.writes.append(target, common.stream_batches(spec["data"]))
        times = [watch.seconds]
    else:
        # Each timed write goes to a fresh table; the median is kept.
        names += [f"{spec['table']}_{i}" for i in range(1, int(spec.get("inner_repeats", 1)))]
        for name in names[1:]:
            lake.tables.create(_table(name), schema, properties=properties)
        tables = iter(names)
        watch, result, times = common.timed_runs(
            lambda: lake.writes.append(_table(next(tables)), data),
            len(names),
        )
    common.emit(
        out,
        watch,
        rows=result.rows_written,
        snapshot_id=result.snapshot_id,
        data_files=common.data_files(spec["catalog"], spec["table"]),
        inner_seconds=times,
    )
    common.purge(spec["catalog"], [*names, spec["table"] + "_warm"])


def setup(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    """Create the namespace and the day-partitioned read table holding the whole data set."""
    lake.namespaces.create_if_not_exists((common.NAMESPACE,))
    table = _table(common.READ_TABLE)
    if lake.tables.exists(table):
        lake.tables.drop(table, purge=True)
    data = common.read_table(spec["data"])
    lake.tables.create(table, data.schema, ["day(ts)"])
    with common.Stopwatch() as watch:
        lake.writes.append(table, data)
    common.emit(out, watch, rows=data.num_rows)


def read_day(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    table = _table(common.READ_TABLE)
    columns = list(common.READ_COLUMNS)
    lake.reads.scan(table, columns=columns, row_filter=common.day_filter(spec["warmup_day"]))
    watch, result, times = common.timed_reads(
        lambda day: lake.reads.scan(table, columns=columns, row_filter=common.day_filter(day)),
        int(spec.get("inner_repeats", 1)),
    )
    common.emit(out, watch, rows=result.num_rows, inner_seconds=times)


def read_stream(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    """The whole table as a batch stream, counted and dropped batch by batch."""
    table = _table(common.READ_TABLE)
    for _ in lake.reads.batches(table, row_filter=common.day_filter(spec["warmup_day"])):
        pass
    rows = batches = 0
    with common.Stopwatch() as watch:
        for batch in lake.reads.batches(table):
            rows += batch.num_rows
            batches += 1
    common.emit(out, watch, rows=rows, batches=batches)


def calls(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    """Per-call time of load_table and list_namespaces (median of single calls).

    Raw PyIceberg's same calls (its own catalog object, the same server) are
    timed in this process too, interleaved with floe's: the two see the same
    machine and server state, which processes minutes apart do not.

    Also floe's own CPU cost per call, measured deterministically: the same
    calls with the PyIceberg catalog under floe replaced by one that answers
    at once (the table loaded beforehand), so only floe's layers are timed.
    """
    table = _table(common.READ_TABLE)
    n = int(spec["calls"])
    raw = common.pyiceberg_catalog(spec["catalog"])
    timings = common.per_call(
        {
            "load_table_us": lambda: lake.tables.load(table),
            "raw_load_table_us": lambda: raw.load_table(table.parts),
            "list_namespaces_us": lambda: lake.namespaces.list(),
            "raw_list_namespaces_us": lambda: raw.list_namespaces(),
        },
        n,
    )
    backend = lake.catalog._backend  # type: ignore[attr-defined]  # the bench's one peek inside
    loaded = backend.catalog.load_table(table.parts)
    namespaces = backend.catalog.list_namespaces(())

    class Instant:
        def load_table(self, _: object) -> Any:
            return loaded

        def list_namespaces(self, _: object = ()) -> Any:
            return namespaces

    backend._catalog = Instant()
    overhead = common.per_call(
        {
            "floe_load_table_overhead_us": lambda: lake.tables.load(table),
            "floe_list_namespaces_overhead_us": lambda: lake.namespaces.list(),
        },
        max(n, 2000),
    )
    watch = common.Stopwatch()
    watch.seconds = sum(timings.values()) / 1e6
    common.emit(out, watch, calls=n, **timings, **overhead)


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    if not spec.get("floe_logs", False):
        common.quiet_logs()
    lake = open_lake(spec["catalog"])
    if args.op == "setup":
        setup(spec, lake, args.out)
    elif args.op == "write":
        write(spec, lake, args.out, stream=False)
    elif args.op == "write_stream":
        write(spec, lake, args.out, stream=True)
    elif args.op == "read_day":
        read_day(spec, lake, args.out)
    elif args.op == "read_stream":
        read_stream(spec, lake, args.out)
    elif args.op == "calls":
        calls(spec, lake, args.out)
    else:
        raise SystemExit(f"unknown op {args.op}")


if __name__ == "__main__":
    main()
