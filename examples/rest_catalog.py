"""floe on an Iceberg REST catalog that does not vend storage credentials.

Polaris can hand clients short-lived storage credentials with each table
("credential vending"); many REST catalogs (and Polaris catalogs set up
without it) do not. floe then writes and reads the data files itself, and
needs what any S3 client needs: the endpoint, the keys and the region. All
of it comes from the environment here, named as PyIceberg names its
properties::

    export FLOE_CATALOG_TYPE=rest
    export FLOE_CATALOG_URI=http://127.0.0.1:8181            # the REST catalog
    export FLOE_CATALOG_WAREHOUSE=warehouse                  # its warehouse / catalog name
    export FLOE_CATALOG_CLIENT_ID=... FLOE_CATALOG_CLIENT_SECRET=...
    export FLOE_CATALOG_SCOPE=PRINCIPAL_ROLE:ALL             # Polaris needs a principal role
    export FLOE_CATALOG_PROP_S3__ENDPOINT=http://127.0.0.1:8333   # -> s3.endpoint
    export FLOE_CATALOG_PROP_S3__ACCESS_KEY_ID=...                # -> s3.access-key-id
    export FLOE_CATALOG_PROP_S3__SECRET_ACCESS_KEY=...            # -> s3.secret-access-key
    export FLOE_CATALOG_PROP_S3__REGION=us-east-1                 # -> s3.region
    python examples/rest_catalog.py

Without ``s3.endpoint`` the first write goes to AWS
(``Could not resolve host: <bucket>.s3.<region>.amazonaws.com``); without the
keys the storage answers ``ACCESS_DENIED``.
"""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa

import floe


def main() -> None:
    """Write a partitioned table through the REST catalog, read it back, print what landed."""
    lake = floe.Floe.from_config(floe.catalog_config_from_env())
    namespace = os.environ.get("FLOE_EXAMPLE_NAMESPACE", "examples")
    lake.namespaces.create_if_not_exists(namespace)
    table = f"{namespace}.orders"
    orders = pa.table(
        {
            "id": [1, 2, 3],
            "ts": [
                dt.datetime(2024, 5, 1, 9),
                dt.datetime(2024, 5, 1, 17),
                dt.datetime(2024, 5, 2, 8),
            ],
            "amount": [10.0, 20.0, 30.0],
        }
    )
    written = lake.writes.overwrite(
        table, orders, create_if_missing=floe.NewTable(partition_spec=["day(ts)"])
    )
    print(f"wrote {written.rows_written} rows to {table} at {lake.tables.load(table).location}")
    for data_file in lake.tables.files(table):
        print(f"  {data_file.path} ({data_file.record_count} rows)")
    day = lake.reads.scan(table, row_filter="ts >= '2024-05-02T00:00:00'")
    print(f"2024-05-02: {day.column('amount').to_pylist()}")


if __name__ == "__main__":
    main()
