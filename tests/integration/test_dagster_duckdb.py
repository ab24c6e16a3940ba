"""DuckDB relations through the IO manager: inputs handed over unread, outputs streamed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa

from floe.adapters.dagster import IcebergIOManager
from tests.integration.test_dagster_io_manager import (  # fixtures, imported to be used here
    APPEND,
    _appends,
    _lake,
    _local,
    reads,
    written,
)

__all__ = ["reads", "written"]


def test_a_relation_input_is_handed_over_unread_and_a_relation_output_streams(
    tmp_path: Path, reads: list[tuple[str, dict[str, Any]]], written: list[str]
) -> None:
    seen: dict[str, Any] = {}

    @dg.asset(key_prefix=["duck"])
    def sales() -> pa.Table:
        return pa.table(
            {
                "id": [1, 2, 3, 4, 5],
                "region": ["eu", "us", "eu", "eu", "us"],
                "amount": [10.0, 20.0, 1.0, 5.5, 7.25],
            }
        )

    @dg.asset(
        key_prefix=["duck"],
        metadata=APPEND,
        ins={
            "sales": dg.AssetIn(
                key_prefix=["duck"],
                metadata={"columns": ["region", "amount"], "row_filter": "amount > 2"},
            )
        },
    )
    def totals(sales: duckdb.DuckDBPyRelation) -> duckdb.DuckDBPyRelation:
        seen["reads_before_query"] = list(reads)
        seen["columns"] = sales.columns
        return sales.aggregate("region, sum(amount) AS total", "region")

    manager = IcebergIOManager(catalog=_local(tmp_path))
    assert dg.materialize([sales, totals], resources={"io_manager": manager}).success

    assert seen["reads_before_query"] == []  # no scan, no batches: DuckDB reads the files
    assert seen["columns"] == ["region", "amount"]
    assert reads == []
    lake = _lake(tmp_path)
    rows = sorted(lake.reads.scan("duck.totals").to_pylist(), key=lambda r: r["region"])
    assert rows == [{"region": "eu", "total": 15.5}, {"region": "us", "total": 27.25}]
    assert written.count("duck.totals RecordBatchReader") == 1  # streamed, one append
    assert len(_appends(lake, "duck.totals")) == 1
