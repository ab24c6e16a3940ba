"""An updating upsert writes each partition's rows into the files PyIceberg's writer would.

PyIceberg's ``_dataframe_to_data_files`` hands each partition's rows over
as one contiguous table and cuts it at ``write.target-file-size-bytes``
with ``bin_pack_arrow_table``. floe's upsert writes the kept rows of the
files it rewrites and the incoming rows partition by partition itself;
here a small target size splits every partition into several files, and
each partition must hold as many files as that cut of its rows gives.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.io.pyarrow import bin_pack_arrow_table

import floe
from tests.contract.storage import MaintLake, fresh_namespace, maint_lake

TARGET = 20_000  # Arrow bytes a file: several files a partition
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us")),
        pa.field("note", pa.string()),
        pa.field("amount", pa.float64()),
    ]
)
DAYS = (dt.datetime(2024, 5, 1, 10), dt.datetime(2024, 5, 2, 11))


def rows(ids: range | list[int], when: dt.datetime, amount: float) -> pa.Table:
    ids = list(ids)
    return pa.table(
        {
            "id": ids,
            "ts": [when] * len(ids),
            "note": [f"note-{i % 97:02d}" for i in ids],
            "amount": [amount + i for i in ids],
        },
        schema=SCHEMA,
    )


@pytest.fixture
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> MaintLake:
    return maint_lake("local", request, tmp_path)


def test_each_partition_is_cut_at_the_target_size_as_pyiceberg_cuts_it(lake: MaintLake) -> None:
    table = floe.TableIdentifier(fresh_namespace(lake.floe), "events")
    properties = {"write.target-file-size-bytes": str(TARGET)}
    lake.floe.tables.create(table, SCHEMA, ["day(ts)"], properties)
    lake.floe.writes.append(
        table,
        pa.concat_tables([rows(range(3000), DAYS[0], 0.0), rows(range(3000, 6000), DAYS[1], 0.0)]),
    )
    # Every third id of day 1 and every fifth of day 2 changes (every file is
    # touched), and 1 000 new ids arrive on day 1.
    change = pa.concat_tables(
        [
            rows(range(0, 3000, 3), DAYS[0], 0.5),
            rows(range(3000, 6000, 5), DAYS[1], 0.5),
            rows(range(6000, 7000), DAYS[0], 0.0),
        ]
    )

    lake.floe.writes.upsert(table, change, join_columns=["id"])

    ice = lake.container.iceberg_backend().catalog.load_table(table.parts)
    for day, expected_rows in zip(DAYS, (4000, 3000), strict=True):
        start = day.replace(hour=0).isoformat()
        end = (day.replace(hour=0) + dt.timedelta(days=1)).isoformat()
        where = f"ts >= '{start}' and ts < '{end}'"
        files = [task.file for task in ice.scan(row_filter=where).plan_files()]
        held = ice.scan(row_filter=where).to_arrow()
        assert held.num_rows == sum(f.record_count for f in files) == expected_rows
        cut = list(bin_pack_arrow_table(held.combine_chunks(), TARGET))
        assert len(files) == len(cut) > 1, day
