"""The benchmark data: seeded, 8 columns (ints, floats, strings, a timestamp over one year).

Written once per (rows, seed) as an uncompressed Arrow IPC file of 65,536-row
batches, so every contender reads the very same bytes and the streaming
contenders can read it one batch at a time.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa

BATCH_ROWS = 65_536
YEAR_START = dt.datetime(2024, 1, 1)
YEAR_US = 366 * 86_400 * 1_000_000  # 2024 is a leap year
CATEGORIES = 64
NAMES = 100_000

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64()),
        pa.field("quantity", pa.int32()),
        pa.field("price", pa.float64()),
        pa.field("score", pa.float32()),
        pa.field("category", pa.string()),
        pa.field("name", pa.string()),
        pa.field("ts", pa.timestamp("us")),
    ]
)


def _batch(rng: np.random.Generator, start: int, rows: int) -> pa.RecordBatch:
    categories = pa.array([f"category-{i:02d}" for i in range(CATEGORIES)])
    names = pa.array([f"customer-{i:06d}-{(i * 7919) % 1000:03d}" for i in range(NAMES)])
    epoch_us = int(YEAR_START.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)
    ts = epoch_us + rng.integers(0, YEAR_US, rows, dtype=np.int64)
    return pa.record_batch(
        [
            pa.array(np.arange(start, start + rows, dtype=np.int64)),
            pa.array(rng.integers(0, 1_000_000, rows, dtype=np.int64)),
            pa.array(rng.integers(1, 100, rows, dtype=np.int32)),
            pa.array(np.round(rng.lognormal(3.0, 1.0, rows), 2)),
            pa.array(rng.random(rows, dtype=np.float32)),
            categories.take(pa.array(rng.integers(0, CATEGORIES, rows))),
            names.take(pa.array(rng.integers(0, NAMES, rows))),
            pa.array(ts, type=pa.timestamp("us")),
        ],
        schema=SCHEMA,
    )


def write_dataset(path: Path, rows: int, seed: int) -> Path:
    """Write ``rows`` seeded rows to ``path`` (Arrow IPC file) unless it is already there."""
    if path.exists():
        return path
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
        for start in range(0, rows, BATCH_ROWS):
            writer.write_batch(_batch(rng, start, min(BATCH_ROWS, rows - start)))
    tmp.rename(path)
    return path
