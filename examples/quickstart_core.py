"""floe without any orchestrator: the core use cases in one walk-through.

Namespaces, a partitioned table, writes, reads, time travel and snapshot
expiry, over the catalog chosen by the environment (``FLOE_CATALOG_TYPE``,
``memory`` by default here).
"""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa

import floe


def main() -> None:
    """Run the walk-through and print what it did."""
    os.environ.setdefault("FLOE_CATALOG_TYPE", "memory")
    lake = floe.Floe.from_config(floe.catalog_config_from_env())
    lake.namespaces.create_if_not_exists(("analytics", "web"))
    table = floe.TableIdentifier(("analytics", "web"), "page_views")
    schema = pa.schema([("user_id", pa.int64()), ("ts", pa.timestamp("us")), ("url", pa.string())])
    lake.tables.create_if_not_exists(table, schema, ["day(ts)", "bucket[8](user_id)"])

    first = lake.writes.append(
        table,
        pa.table(
            {
                "user_id": [1, 2],
                "ts": [dt.datetime(2024, 5, 1, 9), dt.datetime(2024, 5, 1, 17)],
                "url": ["/", "/pricing"],
            }
        ),
    )
    lake.writes.append(
        table,
        pa.table({"user_id": [3], "ts": [dt.datetime(2024, 5, 2, 8)], "url": ["/docs"]}),
    )
    one_day = lake.reads.scan(
        table,
        columns=["user_id", "url"],
        row_filter="ts >= '2024-05-02T00:00:00' and ts < '2024-05-03T00:00:00'",
    )
    print(f"rows on 2024-05-02: {one_day.to_pylist()}")
    snapshots = lake.snapshots.list(table)
    print(f"snapshots: {[s.snapshot_id for s in snapshots]}")
    as_first = lake.reads.scan(table, snapshot_id=first.snapshot_id)
    print(f"rows in the first snapshot: {as_first.num_rows}")
    expired = lake.maintenance.expire_snapshots(table, retain_last=1)
    print(f"expired: {list(expired.expired_snapshot_ids)}")


if __name__ == "__main__":
    main()
