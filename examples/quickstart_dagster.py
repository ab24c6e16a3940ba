"""floe with Dagster: assets stored as Iceberg tables by ``IcebergIOManager``.

raw_orders (PyArrow) → cleaned_orders (pandas) → daily_revenue (daily
partitions, one overwrite per day) → eu_revenue_report (reads selected
columns of EU rows only).

The catalog comes from the environment, as ``floe.catalog_config_from_env``
reads it: ``FLOE_CATALOG_TYPE`` (default ``local``, the embedded catalog) and
``FLOE_CATALOG_WAREHOUSE_PATH`` (default ``.floe/warehouse``); Polaris
credentials stay in the environment, out of Dagster's run config.

Run everything (every day) and print the tables and their snapshots::

    python examples/quickstart_dagster.py

Or with Dagster's CLI, which wants a partition (or a range, run at once
thanks to the single-run backfill policy) as soon as one selected asset is
partitioned::

    export Q=examples/quickstart_dagster.py
    dagster asset materialize -f $Q --select '*' --partition-range 2024-05-01...2024-05-03
    dagster asset materialize -f $Q --select '*' --partition 2024-05-02
"""

import datetime as dt
import warnings

import dagster as dg
import pandas as pd
import pyarrow as pa

import floe
from floe.adapters.dagster import IcebergIOManager

# The single-run backfill policy is a Dagster beta parameter; it is used on purpose.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

DAILY = dg.DailyPartitionsDefinition(start_date="2024-05-01", end_date="2024-05-04")
SINGLE_RUN = dg.BackfillPolicy.single_run()
# Every asset is its table: re-running one replaces its table (or its partition),
# the IO manager's default write mode, so running this script twice changes nothing.


@dg.asset(key_prefix=["shop"], backfill_policy=SINGLE_RUN)
def raw_orders() -> pa.Table:
    """Orders as they arrive, bad rows included."""
    start = dt.datetime(2024, 5, 1, 9)
    return pa.table(
        {
            "order_id": list(range(1, 13)),
            "ts": [start + dt.timedelta(hours=6 * i) for i in range(12)],
            "region": ["eu", "us", "eu", "apac"] * 3,
            "amount": [12.5, 40.0, None, 8.0, 19.9, -3.0, 7.5, 30.0, 15.0, 22.0, 5.0, 60.0],
        }
    )


@dg.asset(key_prefix=["shop"], backfill_policy=SINGLE_RUN)
def cleaned_orders(raw_orders: pd.DataFrame) -> pd.DataFrame:
    """Orders with a positive amount, in cents."""
    kept = raw_orders[raw_orders["amount"] > 0]
    return kept.assign(amount_cents=(kept["amount"] * 100).round().astype("int64"))


@dg.asset(
    key_prefix=["shop"],
    partitions_def=DAILY,
    backfill_policy=SINGLE_RUN,
    metadata={"floe/partition_column": "day", "floe/partition_spec": ["day"]},
    ins={
        "cleaned_orders": dg.AssetIn(
            key_prefix=["shop"], metadata={"columns": ["ts", "region", "amount_cents"]}
        )
    },
)
def daily_revenue(context: dg.AssetExecutionContext, cleaned_orders: pd.DataFrame) -> pa.Table:
    """Revenue per day and region; each run replaces exactly its day(s)."""
    window = context.partition_time_window
    start, end = window.start.replace(tzinfo=None), window.end.replace(tzinfo=None)
    in_window = cleaned_orders[(cleaned_orders["ts"] >= start) & (cleaned_orders["ts"] < end)]
    totals = (
        in_window.assign(day=in_window["ts"].dt.date)
        .groupby(["day", "region"], as_index=False)["amount_cents"]
        .sum()
        .rename(columns={"amount_cents": "revenue_cents"})
    )
    return pa.Table.from_pandas(totals, preserve_index=False)


@dg.asset(
    key_prefix=["shop"],
    backfill_policy=SINGLE_RUN,
    ins={
        "daily_revenue": dg.AssetIn(
            key_prefix=["shop"],
            metadata={"columns": ["day", "revenue_cents"], "row_filter": "region = 'eu'"},
        )
    },
)
def eu_revenue_report(daily_revenue: pa.Table) -> pa.Table:
    """EU revenue per day, read from the partitioned table with a filter and a projection."""
    return daily_revenue.sort_by("day")


io_manager = IcebergIOManager(catalog_env_prefix="FLOE_CATALOG_", default_namespace="shop")

defs = dg.Definitions(
    assets=[raw_orders, cleaned_orders, daily_revenue, eu_revenue_report],
    resources={"io_manager": io_manager},
)

WARNINGS_ONLY = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
TABLES = ["shop.raw_orders", "shop.cleaned_orders", "shop.daily_revenue", "shop.eu_revenue_report"]


def main() -> None:
    """Materialize every asset and every day, then show what landed where."""
    assets = [raw_orders, cleaned_orders, daily_revenue, eu_revenue_report]
    run = {"resources": {"io_manager": io_manager}, "run_config": WARNINGS_ONLY}
    dg.materialize(assets, selection=[raw_orders, cleaned_orders], **run)
    for day in DAILY.get_partition_keys():
        dg.materialize(assets, selection=[daily_revenue], partition_key=day, **run)
    dg.materialize(assets, selection=[eu_revenue_report], **run)

    lake = floe.Floe.from_config(floe.catalog_config_from_env())
    for name in TABLES:
        table = lake.tables.load(name)
        snapshots = lake.snapshots.list(name)
        print(f"{name}: {lake.reads.scan(name).num_rows} rows at {table.location}")
        for snapshot in snapshots:
            print(
                f"  snapshot {snapshot.snapshot_id} {snapshot.operation:<9}"
                f" partition={snapshot.summary.get('floe.dagster.partition', '')!r}"
                f" run={snapshot.summary.get('floe.dagster.run_id', '')[:8]}"
            )
    print("EU revenue per day:", lake.reads.scan("shop.eu_revenue_report").to_pylist())


if __name__ == "__main__":
    main()
