"""Contender: raw PyIceberg on the very catalog floe uses (the baseline floe adds to).

Ops: write, write_stream, read_day, read_full, read_stream, calls, plan.
Runs in the project's virtualenv, or in the dagster-iceberg one (PyIceberg
0.11) for the ``plan`` op.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
from pyiceberg.expressions import AlwaysTrue


def write(spec: dict[str, Any], catalog: Any, out: Path, *, stream: bool) -> None:
    data = None if stream else common.read_table(spec["data"])
    schema = common.stream_batches(spec["data"]).schema
    ident = (common.NAMESPACE, spec["table"])
    properties = spec.get("table_properties") or {}
    catalog.create_table(ident, schema=schema, properties=properties)
    warm = catalog.create_table(
        (common.NAMESPACE, spec["table"] + "_warm"), schema=schema, properties=properties
    )
    if spec.get("warmup_full") and data is not None:
        warm.append(data)  # steady state: same-size write first
    else:
        sample = common.read_table(spec["warmup_data"])
        warm.append(sample.to_reader() if stream else sample)
    names = [spec["table"]]
    if stream:
        with common.Stopwatch() as watch:
            table = catalog.load_table(ident)
            table.append(common.stream_batches(spec["data"]))
        times = [watch.seconds]
    else:
        # Each timed write goes to a fresh table; the median is kept.
        names += [f"{spec['table']}_{i}" for i in range(1, int(spec.get("inner_repeats", 1)))]
        for name in names[1:]:
            catalog.create_table((common.NAMESPACE, name), schema=schema, properties=properties)
        pending = iter(names)

        def append() -> Any:
            loaded = catalog.load_table((common.NAMESPACE, next(pending)))
            loaded.append(data)
            return loaded

        watch, _, times = common.timed_runs(append, len(names))
        table = catalog.load_table(ident)
    snapshot = table.current_snapshot()
    common.emit(
        out,
        watch,
        rows=int(snapshot.summary["added-records"]) if snapshot else 0,
        data_files=int(snapshot.summary["added-data-files"]) if snapshot else 0,
        inner_seconds=times,
    )
    common.purge(spec["catalog"], [*names, spec["table"] + "_warm"])


def _scan(catalog: Any, day: str | None, *, project: bool) -> Any:
    table = catalog.load_table((common.NAMESPACE, common.READ_TABLE))
    return table.scan(
        row_filter=common.day_filter(day) if day else AlwaysTrue(),
        selected_fields=common.READ_COLUMNS if project else ("*",),
    )


def read_day(spec: dict[str, Any], catalog: Any, out: Path) -> None:
    _scan(catalog, spec["warmup_day"], project=True).to_arrow()
    watch, result, times = common.timed_reads(
        lambda day: _scan(catalog, day, project=True).to_arrow(),
        int(spec.get("inner_repeats", 1)),
    )
    common.emit(out, watch, rows=result.num_rows, inner_seconds=times)


def read_full(spec: dict[str, Any], catalog: Any, out: Path) -> None:
    """The full scan: every row, every column, no filter."""
    _scan(catalog, spec["warmup_day"], project=False).to_arrow()
    with common.Stopwatch() as watch:
        result = _scan(catalog, None, project=False).to_arrow()
    common.emit(out, watch, rows=result.num_rows)


def read_stream(spec: dict[str, Any], catalog: Any, out: Path) -> None:
    for _ in _scan(catalog, spec["warmup_day"], project=False).to_arrow_batch_reader():
        pass
    rows = batches = 0
    with common.Stopwatch() as watch:
        for batch in _scan(catalog, None, project=False).to_arrow_batch_reader():
            rows += batch.num_rows
            batches += 1
    common.emit(out, watch, rows=rows, batches=batches)


def plan(spec: dict[str, Any], catalog: Any, out: Path) -> None:
    """Data files a one-day scan plans, against all data files of the snapshot."""
    day = _scan(catalog, common.READ_DAY, project=True)
    with common.Stopwatch() as watch:
        planned = list(day.plan_files())
    total = list(_scan(catalog, None, project=False).plan_files())
    snapshot = catalog.load_table((common.NAMESPACE, common.READ_TABLE)).current_snapshot()
    common.emit(
        out,
        watch,
        planned_files=len(planned),
        total_files=len(total),
        summary_total_data_files=int(snapshot.summary["total-data-files"]),
        planned_fraction=len(planned) / max(1, len(total)),
    )


def calls(spec: dict[str, Any], catalog: Any, out: Path) -> None:
    ident = (common.NAMESPACE, common.READ_TABLE)
    n = int(spec["calls"])
    timings = common.per_call(
        {
            "load_table_us": lambda: catalog.load_table(ident),
            "list_namespaces_us": lambda: catalog.list_namespaces(),
        },
        n,
    )
    watch = common.Stopwatch()
    watch.seconds = sum(timings.values()) / 1e6
    common.emit(out, watch, calls=n, **timings)


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    catalog = common.pyiceberg_catalog(spec["catalog"])
    ops = {
        "write": lambda: write(spec, catalog, args.out, stream=False),
        "write_stream": lambda: write(spec, catalog, args.out, stream=True),
        "read_day": lambda: read_day(spec, catalog, args.out),
        "read_full": lambda: read_full(spec, catalog, args.out),
        "read_stream": lambda: read_stream(spec, catalog, args.out),
        "plan": lambda: plan(spec, catalog, args.out),
        "calls": lambda: calls(spec, catalog, args.out),
    }
    if args.op not in ops:
        raise SystemExit(f"unknown op {args.op}")
    ops[args.op]()


if __name__ == "__main__":
    main()
