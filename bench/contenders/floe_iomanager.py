"""Contender: floe's Dagster IO manager (``floe.adapters.dagster.IcebergIOManager``).

Ops: write (an unpartitioned asset appended to a new table), read_day (one
daily partition of the read table loaded as a downstream input, projected).
The spec's ``flavor`` is ``arrow`` or ``pandas`` (the asset's value type).
"""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import dagster_harness as harness

from floe.adapters.dagster import IcebergIOManager
from floe.application.tables import CREATED_TABLE_DEFAULTS

# dagster-iceberg's contender is given these as its table properties.
assert dict(CREATED_TABLE_DEFAULTS) == common.FLOE_TABLE_PROPERTIES, "update bench/common.py"


class TimedIOManager(IcebergIOManager):
    def handle_output(self, context: Any, obj: Any) -> None:
        harness.timed(
            "handle_output", lambda: super(TimedIOManager, self).handle_output(context, obj)
        )

    def load_input(self, context: Any) -> Any:
        return harness.timed("load_input", lambda: super(TimedIOManager, self).load_input(context))


def catalog_mapping(catalog: dict[str, Any]) -> dict[str, Any]:
    if catalog["kind"] == "local":
        return {
            "type": "local",
            "warehouse_path": catalog["warehouse"],
            "catalog_name": catalog["name"],
        }
    return {
        "type": "polaris",
        "uri": catalog["uri"],
        "warehouse": catalog["warehouse"],
        "client_id": catalog["access_key"],
        "client_secret": catalog["secret_key"],
        "properties": {
            "s3.endpoint": catalog["s3_endpoint"],
            "s3.access-key-id": catalog["access_key"],
            "s3.secret-access-key": catalog["secret_key"],
            "s3.region": catalog["region"],
        },
    }


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    if not spec.get("floe_logs", False):
        common.quiet_logs()
    # Appends, like the dagster-iceberg contender (overwrite is the IO manager's default).
    io_manager = TimedIOManager(
        catalog=catalog_mapping(spec["catalog"]), default_namespace="bench", write_mode="append"
    )
    metadata = {"floe/partition_column": "ts"}
    harness.run(args.op, spec, io_manager, metadata, args.out)


if __name__ == "__main__":
    main()
