"""Contender: dagster-iceberg 0.3.14's PyArrow / pandas IO managers (runs in its own venv).

Same assets and catalog as ``floe_iomanager.py``; its venv pins PyIceberg
0.11, so it never shares an interpreter with floe.
"""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import dagster as dg
import dagster_harness as harness
from dagster_iceberg.config import IcebergCatalogConfig
from dagster_iceberg.io_manager.arrow import PyArrowIcebergIOManager
from dagster_iceberg.io_manager.pandas import PandasIcebergIOManager


class _Timed(dg.IOManager):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def handle_output(self, context: Any, obj: Any) -> None:
        harness.timed("handle_output", lambda: self._inner.handle_output(context, obj))

    def load_input(self, context: Any) -> Any:
        return harness.timed("load_input", lambda: self._inner.load_input(context))


class TimedArrow(PyArrowIcebergIOManager):
    def create_io_manager(self, context: Any) -> Any:
        return _Timed(super().create_io_manager(context))


class TimedPandas(PandasIcebergIOManager):
    def create_io_manager(self, context: Any) -> Any:
        return _Timed(super().create_io_manager(context))


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    catalog = spec["catalog"]
    properties = (
        common.local_properties(catalog)
        if catalog["kind"] == "local"
        else common.rest_properties(catalog)
    )
    kind = TimedArrow if spec["flavor"] == "arrow" else TimedPandas
    io_manager = kind(
        name=catalog["name"],
        config=IcebergCatalogConfig(properties=properties),
        namespace=common.NAMESPACE,
    )
    # The table properties floe's IO manager creates its tables with (like for like).
    metadata = {
        "partition_expr": "ts",
        "write_mode": "append",
        "table_properties": dict(common.FLOE_TABLE_PROPERTIES),
    }
    harness.run(args.op, spec, io_manager, metadata, args.out)


if __name__ == "__main__":
    main()
