"""Contender: upserts and row-level deletes, by floe, raw PyIceberg or a whole-table rewrite.

Ops: ``upsert`` and ``delete``; the spec's ``flavor`` says who does the work:

- ``floe``: ``lake.writes.upsert(table, changes, join_columns=["id"])`` /
  ``lake.writes.delete(table, row_filter)``;
- ``pyiceberg``: raw PyIceberg 0.12's ``table.upsert(changes, join_cols=["id"])``
  / ``table.delete(row_filter)`` on the very same table (``load_table`` timed
  on both sides);
- ``parquet``: the baseline, no catalog: the whole resulting table (computed
  beforehand, untimed) written with ``pyarrow.parquet.write_table`` (zstd, the
  Iceberg default codec) to local disk or to the REST server's S3; for a
  day-partitioned table, one file per day (``pq.write_to_dataset``), as the
  table holds.

The Iceberg contenders start from the same table, built untimed by floe
(so both sides have floe's table properties: ``write.parquet.dict-size-bytes``
1 MiB and the rest), unpartitioned or partitioned by ``day(ts)`` (the spec's
``layout``). The change set depends on the spec's ``seed`` (the runner gives
each repetition its own): ``changed`` rows, 90 % of them existing ids drawn
at random across the table with ``price`` and ``quantity`` changed (same
``ts``, so the same partition), 10 % new ids. A delete removes about 5 % of
the rows, by a filter on a non-partition column (``quantity`` in a window of
5 of its 99 values) or on the partition source column (18 of the 366 days),
the window placed by the seed.

A warm-up runs the same operation on a 10 000-row table first.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

KEYS = ["id"]
UPDATED_SHARE = 0.9
DELETE_QUANTITIES = 5  # quantity is uniform over 1..99: 5 values are ~5 % of the rows
DELETE_DAYS = 18  # of 366: ~4.9 % of the rows


def changes(data: pa.Table, changed: int, seed: int) -> pa.Table:
    """``changed`` rows: existing ids with new values, and new ids (seeded)."""
    rng = np.random.default_rng(seed)
    rows = data.num_rows
    updated = min(rows, int(changed * UPDATED_SHARE))
    positions = np.sort(rng.choice(rows, size=updated, replace=False))
    old = data.take(pa.array(positions))
    new_price = pc.add(pc.multiply(old["price"], 1.1), 1.0)
    new_quantity = pa.array(rng.integers(1, 100, updated, dtype=np.int32))
    old = old.set_column(3, "price", new_price).set_column(2, "quantity", new_quantity)
    fresh_count = changed - updated
    fresh = data.take(pa.array(rng.integers(0, rows, fresh_count)))
    next_id = int(pc.max(data["id"]).as_py()) + 1
    fresh = fresh.set_column(0, "id", pa.array(np.arange(next_id, next_id + fresh_count)))
    out = pa.concat_tables([old, fresh.cast(old.schema)])
    return out.take(pa.array(rng.permutation(out.num_rows)))


def delete_filter(kind: str, seed: int) -> str:
    """About 5 % of the rows: a window of ``quantity`` values, or of days of ``ts``."""
    if kind == "column":
        low = 1 + seed % (99 - DELETE_QUANTITIES)
        return f"quantity >= {low} and quantity < {low + DELETE_QUANTITIES}"
    first = dt.date(2024, 1, 1) + dt.timedelta(days=seed % (366 - DELETE_DAYS))
    last = first + dt.timedelta(days=DELETE_DAYS)
    return f"ts >= '{first.isoformat()}T00:00:00' and ts < '{last.isoformat()}T00:00:00'"


def _arrow_mask(kind: str, seed: int, data: pa.Table) -> pa.ChunkedArray:
    """The rows :func:`delete_filter` selects, evaluated with Arrow (for the baseline)."""
    if kind == "column":
        low = 1 + seed % (99 - DELETE_QUANTITIES)
        q = data["quantity"]
        return pc.and_(pc.greater_equal(q, low), pc.less(q, low + DELETE_QUANTITIES))
    first = dt.datetime(2024, 1, 1) + dt.timedelta(days=seed % (366 - DELETE_DAYS))
    last = first + dt.timedelta(days=DELETE_DAYS)
    ts = data["ts"]
    start = pa.scalar(first, pa.timestamp("us"))
    end = pa.scalar(last, pa.timestamp("us"))
    return pc.and_(pc.greater_equal(ts, start), pc.less(ts, end))


def upserted(data: pa.Table, change: pa.Table) -> pa.Table:
    """The table after the upsert, computed with Arrow (what the baseline writes)."""
    kept = data.filter(pc.invert(pc.is_in(data["id"], value_set=change["id"])))
    return pa.concat_tables([kept, change.cast(kept.schema)])


# -- Iceberg contenders --------------------------------------------------------


def _build(lake: Any, name: str, data: pa.Table, layout: str) -> Any:
    import floe

    table = floe.TableIdentifier((common.NAMESPACE,), name)
    if lake.tables.exists(table):
        lake.tables.drop(table, purge=True)
    lake.tables.create(table, data.schema, ["day(ts)"] if layout == "day" else [])
    lake.writes.append(table, data)
    return table


def _operation(
    spec: dict[str, Any], lake: Any, raw: Any, table: Any, op: str, seed: int, data: pa.Table
) -> Any:
    """The timed call of this contender, for ``seed``'s input."""
    if op == "upsert":
        change = changes(data, int(spec["changed"]), seed)
        if spec["flavor"] == "floe":
            return lambda: lake.writes.upsert(table, change, join_columns=KEYS)
        return lambda: raw.load_table(table.parts).upsert(change, join_cols=KEYS)
    text = delete_filter(spec["delete_by"], seed)
    if spec["flavor"] == "floe":
        return lambda: lake.writes.delete(table, text)
    return lambda: raw.load_table(table.parts).delete(text)


def iceberg(spec: dict[str, Any], op: str, out: Path) -> None:
    from floe_service import open_lake

    lake = open_lake(spec["catalog"])
    raw = common.pyiceberg_catalog(spec["catalog"])
    data = common.read_table(spec["data"])
    warm_data = common.read_table(spec["warmup_data"])
    seed = int(spec["seed"])
    layout = spec["layout"]
    warm = _build(lake, spec["table"] + "_warm", warm_data, layout)
    warm_spec = {**spec, "changed": max(1, warm_data.num_rows // 20)}
    _operation(warm_spec, lake, raw, warm, op, seed + 7, warm_data)()
    table = _build(lake, spec["table"], data, layout)
    call = _operation(spec, lake, raw, table, op, seed, data)
    with common.Stopwatch() as watch:
        result = call()
    after = raw.load_table(table.parts).current_snapshot()
    summary = after.summary if after else {}
    common.emit(
        out,
        watch,
        rows=int(summary["total-records"]) if summary else 0,
        data_files=int(summary.get("total-data-files", 0)) if summary else 0,
        snapshot_operation=summary.operation.value if summary else None,
        result=repr(result),
    )
    common.purge(spec["catalog"], [spec["table"], spec["table"] + "_warm"])


# -- the baseline ----------------------------------------------------------------


def parquet(spec: dict[str, Any], op: str, out: Path) -> None:
    from parquet_raw import COMPRESSION, _filesystem

    fs, root = _filesystem(spec)
    data = common.read_table(spec["data"])
    seed = int(spec["seed"])
    if op == "upsert":
        result = upserted(data, changes(data, int(spec["changed"]), seed))
    else:
        result = data.filter(pc.invert(_arrow_mask(spec["delete_by"], seed, data)))
    del data
    warm = f"{root}/{spec['table']}_warm.parquet"
    pq.write_table(
        common.read_table(spec["warmup_data"]), warm, compression=COMPRESSION, filesystem=fs
    )
    target = f"{root}/{spec['table']}"
    if spec["layout"] == "day":
        # One file per day, as the partitioned table holds (the day column is
        # computed and the rows clustered by it untimed: a table's rows already
        # sit in their partitions).
        day = pc.cast(pc.floor_temporal(result["ts"], unit="day"), pa.date32())
        result = result.append_column("ts_day", day)
        # Clustered by day, as a partitioned table's files are: unclustered, the
        # dataset writer cuts every batch into 366 pieces (tiny row groups).
        result = result.sort_by("ts_day")
    with common.Stopwatch() as watch:
        if spec["layout"] == "day":
            pq.write_to_dataset(
                result,
                target,
                partition_cols=["ts_day"],
                compression=COMPRESSION,
                filesystem=fs,
                existing_data_behavior="delete_matching",
            )
        else:
            pq.write_table(result, target + ".parquet", compression=COMPRESSION, filesystem=fs)
    common.emit(out, watch, rows=result.num_rows)
    if fs is None:
        import shutil

        shutil.rmtree(target, ignore_errors=True)
        Path(target + ".parquet").unlink(missing_ok=True)
        Path(warm).unlink()
    else:
        import pyarrow.fs as pafs

        fs.delete_dir_contents(target, missing_dir_ok=True)
        for path in (target + ".parquet", warm):
            if fs.get_file_info(path).type == pafs.FileType.File:
                fs.delete_file(path)


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    if args.op not in ("upsert", "delete"):
        raise SystemExit(f"unknown op {args.op}")
    if spec["flavor"] == "parquet":
        parquet(spec, args.op, args.out)
        return
    if not spec.get("floe_logs", False):
        common.quiet_logs()
    iceberg(spec, args.op, args.out)


if __name__ == "__main__":
    main()
