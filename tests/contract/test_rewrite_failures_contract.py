"""A rewrite whose files are written in parallel fails cleanly when one file fails.

Deletes and overwrites rewrite the partially matching files a few at a
time; an upsert writes the rewritten partitions several at a time; a
compaction rewrites two bins at a time. When
the n-th output file fails (written, then an error, as an upload that
fails when completed), the operation raises a typed floe error, commits
nothing, leaves the rows as they were, and deletes every file it wrote:
the other workers' finished outputs and the failing one. Run on the
adapters that write files (the in-memory one writes none).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

import floe
from tests.integration.counting_io import FLAKY_IO

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64()),
        pa.field("day", pa.date32()),
        pa.field("amount", pa.float64()),
    ]
)
DAYS = [dt.date(2024, 5, 1) + dt.timedelta(days=i) for i in range(8)]
#: The output file that fails; with 8 files rewritten 4 at a time, some have finished by then.
FAILING = 3


def rows(ids: range, amount: float = 1.0) -> pa.Table:
    return pa.table(
        {
            "id": list(ids),
            "day": [DAYS[i % len(DAYS)] for i in ids],
            "amount": [amount * i for i in ids],
        },
        schema=SCHEMA,
    )


def _everything(lake: floe.Floe, table: floe.TableIdentifier) -> list[dict[str, object]]:
    return sorted(lake.reads.scan(table).to_pylist(), key=lambda r: str(r["id"]))


def _unreferenced_data_files(lake: floe.Floe, table: floe.TableIdentifier) -> list[str]:
    """Data files on the table's storage that no snapshot references."""
    found = lake.maintenance.remove_orphan_files(
        table, older_than=dt.timedelta(0), dry_run=True, allow_short_window=True
    )
    return [p for p in found.orphan_paths if p.endswith(".parquet")]


@pytest.fixture
def armed(
    lake: floe.Floe, ns: tuple[str, ...], tmp_path: Path
) -> tuple[floe.TableIdentifier, Path]:
    """A table of 8 one-day files whose FileIO fails the ``FAILING``-th file once armed.

    Arm it by creating the returned directory; it then holds one numbered
    marker per data file written.
    """
    if isinstance(lake.catalog, type(floe.Floe.from_config(floe.MemoryCatalogConfig()).catalog)):
        pytest.skip("the in-memory catalog writes no files")
    markers = tmp_path / ("markers-" + uuid.uuid4().hex[:6])
    table = floe.TableIdentifier(ns, "events")
    properties = {"py-io-impl": FLAKY_IO, "floe-test.fail": f"nth:{markers}:{FAILING}"}
    lake.tables.create(table, SCHEMA, ["day"], properties=properties)
    lake.writes.append(table, rows(range(0, 160)))  # one file per day
    return table, markers


OPERATIONS: dict[str, Callable[[floe.Floe, floe.TableIdentifier], object]] = {
    # Every file holds ids below and above 80: each is rewritten, none dropped whole.
    "delete": lambda lake, t: lake.writes.delete(t, "id >= 80"),
    "overwrite": lambda lake, t: lake.writes.overwrite(
        t, rows(range(200, 216)), row_filter="id >= 80"
    ),
    # Changed rows in every day: each day's file is rewritten.
    "upsert": lambda lake, t: lake.writes.upsert(
        t, rows(range(80, 96), amount=2.0), join_columns=["id"]
    ),
    # Two small files a day (the fixture's append and this one's): 8 bins, 2 at a time.
    "compact": lambda lake, t: lake.maintenance.compact(t),
}


@pytest.mark.parametrize("operation", OPERATIONS, ids=list(OPERATIONS))
def test_a_failing_output_file_leaves_the_table_and_its_storage_as_they_were(
    lake: floe.Floe, armed: tuple[floe.TableIdentifier, Path], operation: str
) -> None:
    table, markers = armed
    if operation == "compact":
        lake.writes.append(table, rows(range(160, 320)))  # a second small file a day
    before_rows = _everything(lake, table)
    before_snapshots = lake.snapshots.list(table)
    assert _unreferenced_data_files(lake, table) == []
    markers.mkdir()

    with pytest.raises(floe.WriteError) as failed:
        OPERATIONS[operation](lake, table)

    assert "injected failure" in str(failed.value) or "injected failure" in repr(
        failed.value.__cause__
    )
    written = len(list(markers.iterdir()))
    assert written >= FAILING  # the failing file and those finished before it were written
    assert lake.snapshots.list(table) == before_snapshots
    assert _everything(lake, table) == before_rows
    assert _unreferenced_data_files(lake, table) == []
