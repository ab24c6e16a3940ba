"""Write-audit-publish with floe alone: write to a branch, check it, publish it.

Readers of ``main`` never see the new rows until they passed the audit. Runs
over the catalog the environment chooses (``FLOE_CATALOG_TYPE``, ``memory``
by default here); ``FLOE_EXAMPLE_NAMESPACE`` names the namespace it uses.
"""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pyarrow.compute as pc

import floe


def orders(ids: list[int], amounts: list[float | None]) -> pa.Table:
    """Some orders of 2024-05-01."""
    return pa.table(
        {
            "order_id": pa.array(ids, pa.int64()),
            "ts": pa.array([dt.datetime(2024, 5, 1, 12)] * len(ids), pa.timestamp("us")),
            "amount": pa.array(amounts, pa.float64()),
        }
    )


def audit(lake: floe.Floe, table: floe.TableIdentifier, branch: str) -> list[str]:
    """The checks a batch must pass, run on the branch's data; the problems found."""
    rows = lake.reads.scan(table, ref=branch)
    problems = []
    if rows.column("amount").null_count:
        problems.append(f"{rows.column('amount').null_count} order(s) without an amount")
    if pc.any(pc.less(rows.column("amount"), 0)).as_py():
        problems.append("negative amounts")
    return problems


def load_batch(lake: floe.Floe, table: floe.TableIdentifier, batch: pa.Table, name: str) -> None:
    """Write one batch on its own branch, audit it there, publish it or drop it."""
    lake.refs.create_branch(table, name)  # at main's head
    lake.writes.append(table, batch, branch=name)
    print(
        f"{name}: main has {lake.reads.scan(table).num_rows} rows, the branch "
        f"{lake.reads.scan(table, ref=name).num_rows}"
    )
    problems = audit(lake, table, name)
    if problems:
        lake.refs.drop_branch(table, name)
        print(f"{name}: refused ({'; '.join(problems)}), main unchanged")
        return
    result = lake.refs.publish(table, name, replay_appends=True, drop_branch=True)
    print(
        f"{name}: published ({result.kind.value}), main has {lake.reads.scan(table).num_rows} rows"
    )


def main() -> None:
    """Load a good batch and a bad one, then tag and roll back."""
    os.environ.setdefault("FLOE_CATALOG_TYPE", "memory")
    lake = floe.Floe.from_config(floe.catalog_config_from_env())
    namespace = (os.environ.get("FLOE_EXAMPLE_NAMESPACE", "sales"),)
    lake.namespaces.create_if_not_exists(namespace)
    table = floe.TableIdentifier(namespace, "orders")
    lake.writes.append(
        table, orders([1, 2], [10.0, 20.0]), create_if_missing=floe.NewTable(["day(ts)"])
    )
    lake.refs.create_tag(table, "before-batches")

    load_batch(lake, table, orders([3, 4], [30.0, 40.0]), "batch-1")
    load_batch(lake, table, orders([5, 6], [None, -5.0]), "batch-2")

    ids = sorted(lake.reads.scan(table).column("order_id").to_pylist())
    print(f"main: orders {ids}")
    lake.refs.rollback(table, tag="before-batches")
    ids = sorted(lake.reads.scan(table).column("order_id").to_pylist())
    print(f"rolled back to tag before-batches: orders {ids}")


if __name__ == "__main__":
    main()
