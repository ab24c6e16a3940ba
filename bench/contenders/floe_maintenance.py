"""Contender: table maintenance with floe (``lake.maintenance``) over the local or REST catalog.

Ops:

- ``maintain``: many small commits into a day-partitioned table (``appends``
  appends of ``rows / appends`` rows, each into one of ``days`` days, then
  ``overwrites`` overwrites each replacing the rows of one earlier append),
  then ``expire_snapshots(retain_last=1)`` + ``remove_orphan_files(older_than=0,
  allow_short_window=True)``, after ``compact`` and ``rewrite_manifests``
  when ``lake.maintenance`` has them; reports the files and bytes on
  storage before and after against what the current snapshot references,
  and times a full read of the maintained table.
- ``one_append``: the same final rows written in one append; times the same read.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
from floe_service import open_lake

import floe

FIRST_DAY = dt.datetime(2024, 3, 1)
DAY_US = 86_400 * 1_000_000


def _table(name: str) -> floe.TableIdentifier:
    return floe.TableIdentifier((common.NAMESPACE,), name)


def _slices(spec: dict[str, Any]) -> tuple[list[pa.Table], dict[int, pa.Table]]:
    """The appends' rows, and the rows each overwrite puts in place of one append's."""
    data = common.read_table(spec["data"])
    appends, days = int(spec["appends"]), int(spec["days"])
    size = data.num_rows // appends
    first_us = int(FIRST_DAY.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)
    slices = []
    for i in range(appends):
        part = data.slice(i * size, size)
        # Every row of append i falls on day i % days, at its own time of day.
        micros = pc.cast(part["ts"], pa.int64())
        time_of_day = pc.subtract(micros, pc.multiply(pc.divide(micros, DAY_US), DAY_US))
        of_day = pc.add(time_of_day, first_us + (i % days) * DAY_US)
        slices.append(part.set_column(7, "ts", pc.cast(of_day, pa.timestamp("us"))))
    # Overwrite j replaces append (j * step)'s rows with repriced ones.
    step = max(1, appends // int(spec["overwrites"]))
    replaced = {
        k: slices[k].set_column(3, "price", pc.multiply(slices[k]["price"], 1.1))
        for k in range(0, step * int(spec["overwrites"]), step)
    }
    return slices, replaced


def _id_range(part: pa.Table) -> str:
    ids = part["id"]
    return f"id >= {pc.min(ids).as_py()} and id <= {pc.max(ids).as_py()}"


def _filesystem(catalog: dict[str, Any]) -> pafs.FileSystem:
    if catalog["kind"] == "local":
        return pafs.LocalFileSystem()
    scheme, _, host = catalog["s3_endpoint"].partition("://")
    return pafs.S3FileSystem(
        access_key=catalog["access_key"],
        secret_key=catalog["secret_key"],
        endpoint_override=host,
        scheme=scheme,
        region=catalog["region"],
    )


def _on_storage(catalog: dict[str, Any], location: str) -> tuple[int, int]:
    """Files and bytes under a table's location, as storage lists them."""
    path = location.split("://", 1)[1] if "://" in location else location
    infos = _filesystem(catalog).get_file_info(pafs.FileSelector(path, recursive=True))
    files = [i for i in infos if i.type == pafs.FileType.File]
    return len(files), sum(i.size or 0 for i in files)


def _read(spec: dict[str, Any], lake: floe.Floe, table: floe.TableIdentifier) -> Any:
    lake.reads.scan(table)  # warm-up
    return common.timed_runs(lambda: lake.reads.scan(table), int(spec.get("inner_repeats", 1)))


def maintain(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    slices, replaced = _slices(spec)
    table = _table(spec["table"])
    lake.tables.create(table, slices[0].schema, ["day(ts)"])
    with common.Stopwatch() as build:
        for part in slices:
            lake.writes.append(table, part)
        for k, part in replaced.items():
            lake.writes.overwrite(table, part, row_filter=_id_range(slices[k]))
    location = lake.tables.load(table).location
    files_before, bytes_before = _on_storage(spec["catalog"], location)
    snapshots_before = len(lake.snapshots.list(table))
    with common.Stopwatch() as maintenance:
        compact = getattr(lake.maintenance, "compact", None)
        if compact is not None:
            compact(table)
        rewrite_manifests = getattr(lake.maintenance, "rewrite_manifests", None)
        if rewrite_manifests is not None:
            rewrite_manifests(table)
        expired = lake.maintenance.expire_snapshots(table, retain_last=1)
        orphans = lake.maintenance.remove_orphan_files(
            table, older_than=dt.timedelta(0), allow_short_window=True
        )
    health = lake.maintenance.health(table)
    files_after, bytes_after = _on_storage(spec["catalog"], location)
    watch, result, times = _read(spec, lake, table)
    common.emit(
        out,
        watch,
        rows=result.num_rows,
        inner_seconds=times,
        compacted=compact is not None,
        manifests_rewritten=rewrite_manifests is not None,
        build_s=build.seconds,
        maintain_s=maintenance.seconds,
        snapshots_before=snapshots_before,
        snapshots_expired=len(expired.expired_snapshot_ids),
        expired_files_deleted=expired.deleted_files.files,
        orphan_files_deleted=orphans.deleted.files,
        disk_files_before=files_before,
        disk_bytes_before=bytes_before,
        disk_files=files_after,
        disk_bytes=bytes_after,
        # The current snapshot's data and delete files, manifests, manifest
        # list, and the metadata file.
        referenced_files=health.data_files + health.delete_files + health.manifests + 2,
        data_files=health.data_files,
        manifests=health.manifests,
        live_data_bytes=health.data_bytes,
        metadata_bytes=health.metadata_bytes,
    )
    common.purge(spec["catalog"], [spec["table"]])


def one_append(spec: dict[str, Any], lake: floe.Floe, out: Path) -> None:
    slices, replaced = _slices(spec)
    whole = pa.concat_tables([replaced.get(k, part) for k, part in enumerate(slices)])
    table = _table(spec["table"])
    lake.tables.create(table, whole.schema, ["day(ts)"])
    lake.writes.append(table, whole)
    health = lake.maintenance.health(table)
    watch, result, times = _read(spec, lake, table)
    common.emit(
        out,
        watch,
        rows=result.num_rows,
        inner_seconds=times,
        data_files=health.data_files,
        live_data_bytes=health.data_bytes,
    )
    common.purge(spec["catalog"], [spec["table"]])


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    if not spec.get("floe_logs", False):
        common.quiet_logs()
    lake = open_lake(spec["catalog"])
    if args.op == "maintain":
        maintain(spec, lake, args.out)
    elif args.op == "one_append":
        one_append(spec, lake, args.out)
    else:
        raise SystemExit(f"unknown op {args.op}")


if __name__ == "__main__":
    main()
