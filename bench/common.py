"""Helpers shared by every contender process.

Imported by contenders running in the project's virtualenv *and* in the
dagster-iceberg virtualenv, so it depends on the standard library and
PyArrow only. A contender is started as
``python bench/contenders/<name>.py --op OP --spec SPEC.json --out RESULT.json``;
it does its setup, times one operation with :class:`Stopwatch`, and writes
one JSON result with :func:`emit`. The runner reads the child's peak RSS
from ``os.wait4``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

NAMESPACE = "bench"
READ_TABLE = "events_daily"
# One day of the partitioned year, and the projection the read benchmark asks for.
READ_DAY = "2024-06-15"
READ_COLUMNS = ("id", "user_id", "price", "category", "ts")


# floe's defaults for the tables it creates (floe.application.tables.CREATED_TABLE_DEFAULTS),
# repeated here for the dagster-iceberg venv, which cannot import floe; the floe
# IO manager contender checks that they still agree.
FLOE_TABLE_PROPERTIES = {
    "commit.retry.num-retries": "10",
    "commit.retry.min-wait-ms": "50",
    "commit.retry.max-wait-ms": "5000",
    "write.parquet.dict-size-bytes": str(2**20),
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


def read_days(count: int) -> list[str]:
    """The day each of ``count`` timed reads asks for: ``READ_DAY``, then the days after it.

    A new filter per read: floe caches parsed filters by text, so the same
    filter read again would flatter it.
    """
    import datetime as dt

    first = dt.date.fromisoformat(READ_DAY)
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(max(1, count))]


def timed_reads(read: Callable[[str], Any], repeats: int) -> tuple[Stopwatch, Any, list[float]]:
    """:func:`timed_runs` of ``read(day)``, each run on the next of :func:`read_days`."""
    days = iter(read_days(repeats))
    return timed_runs(lambda: read(next(days)), repeats)


def table_properties(catalog: dict[str, Any], name: str) -> dict[str, str]:
    """A table's properties (to show that both sides of a comparison wrote alike)."""
    return dict(pyiceberg_catalog(catalog).load_table((NAMESPACE, name)).properties)


def day_filter(day: str = READ_DAY) -> str:
    """Iceberg filter text selecting one day of ``ts``."""
    start = f"{day}T00:00:00"
    end_day = _next_day(day)
    return f"ts >= '{start}' and ts < '{end_day}T00:00:00'"


def _next_day(day: str) -> str:
    import datetime as dt

    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--op", required=True)
    parser.add_argument("--spec", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    return parser.parse_args()


def load_spec(path: Path) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(path.read_text())
    return spec


def read_table(path: str) -> pa.Table:
    """The whole benchmark table, read into memory (not memory-mapped)."""
    with pa.OSFile(path, "rb") as source:
        return pa.ipc.open_file(source).read_all()


def stream_batches(path: str) -> pa.RecordBatchReader:
    """The benchmark table as a lazy stream: one IPC record batch in memory at a time."""
    source = pa.OSFile(path, "rb")
    reader = pa.ipc.open_file(source)

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i)
        finally:
            source.close()

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def maxrss_mb() -> float:
    """This process's peak RSS so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    """Time one block; remembers the peak RSS before it started."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu_seconds: float | None = None
        self.rss_before_mb = 0.0

    def __enter__(self) -> Stopwatch:
        self.rss_before_mb = maxrss_mb()
        self._cpu = time.process_time()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start
        # CPU time of every thread of the process: on a machine shared with
        # other work, wall time also counts the waits for a core.
        self.cpu_seconds = time.process_time() - self._cpu


def timed_runs(call: Callable[[], Any], repeats: int) -> tuple[Stopwatch, Any, list[float]]:
    """Run ``call`` ``repeats`` times in a row; the stopwatch holds the median time.

    For short operations (a one-day read takes milliseconds), where one timing
    per process would be mostly scheduling noise on a shared machine.
    """
    times: list[float] = []
    result: Any = None
    watch = Stopwatch()
    with watch:
        for _ in range(max(1, repeats)):
            start = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - start)
    watch.seconds = statistics.median(times)
    if watch.cpu_seconds is not None:  # the mean per run (a median needs a CPU clock per run)
        watch.cpu_seconds /= max(1, repeats)
    return watch, result, times


def emit(out: Path, watch: Stopwatch | None, **extra: Any) -> None:
    """Write the result of this contender process."""
    result = {
        "seconds": None if watch is None else watch.seconds,
        "cpu_seconds": None if watch is None else watch.cpu_seconds,
        "rss_before_mb": None if watch is None else watch.rss_before_mb,
        "python": sys.version.split()[0],
        "pid": os.getpid(),
    }
    result.update(extra)
    out.write_text(json.dumps(result, indent=1, default=str))


def rest_properties(catalog: dict[str, Any]) -> dict[str, str]:
    """PyIceberg RestCatalog properties for the bench REST server (as its tests use them)."""
    return {
        "uri": catalog["uri"],
        "warehouse": catalog["warehouse"],
        "credential": f"{catalog['access_key']}:{catalog['secret_key']}",
        "oauth2-server-uri": f"{catalog['uri']}/v1/oauth/tokens",
        "s3.endpoint": catalog["s3_endpoint"],
        "s3.access-key-id": catalog["access_key"],
        "s3.secret-access-key": catalog["secret_key"],
        "s3.region": catalog["region"],
    }


def local_properties(catalog: dict[str, Any]) -> dict[str, str]:
    """PyIceberg SqlCatalog properties for the embedded catalog floe opens on the same directory."""
    root = Path(catalog["warehouse"])
    return {"uri": f"sqlite:///{root / 'catalog.db'}", "warehouse": root.as_uri()}


def pyiceberg_catalog(catalog: dict[str, Any]) -> Any:
    """The raw PyIceberg catalog for a spec's catalog section (same one floe opens)."""
    if catalog["kind"] == "local":
        from pyiceberg.catalog.sql import SqlCatalog

        return SqlCatalog(catalog["name"], **local_properties(catalog))
    from pyiceberg.catalog.rest import RestCatalog

    return RestCatalog(catalog["name"], **rest_properties(catalog))


def delete_files(fs: Any, paths: Iterable[str]) -> None:
    """Delete files a contender wrote: local paths when ``fs`` is None, else through ``fs``."""
    for path in paths:
        if fs is None:
            Path(path).unlink()
        else:
            fs.delete_file(path)


def purge(catalog: dict[str, Any], names: list[str]) -> None:
    """Drop benchmark tables and their files (best effort: keeps the disk small on long runs)."""
    pyiceberg = pyiceberg_catalog(catalog)
    for name in names:
        try:
            pyiceberg.purge_table((NAMESPACE, name))
        except Exception as exc:  # a leftover table only costs disk
            print(f"purge {name}: {type(exc).__name__}: {exc}", file=sys.stderr)


def table_rows(catalog: dict[str, Any], name: str) -> int:
    """Rows in a table's current snapshot (a check that a write really landed)."""
    table = pyiceberg_catalog(catalog).load_table((NAMESPACE, name))
    snapshot = table.current_snapshot()
    return 0 if snapshot is None else int(snapshot.summary["total-records"])


def data_files(catalog: dict[str, Any], name: str) -> int:
    """Data files the last snapshot of a table added."""
    table = pyiceberg_catalog(catalog).load_table((NAMESPACE, name))
    snapshot = table.current_snapshot()
    return 0 if snapshot is None else int(snapshot.summary.get("added-data-files", 0))


def per_call(calls: dict[str, Callable[[], object]], n: int) -> dict[str, float]:
    """Median microseconds of single calls, after a warm-up.

    The calls are interleaved, in a new random order every round (seeded):
    each call meets the same machine and server, and each follows every
    other equally often. A fixed or merely rotated order always puts the
    same call after, say, a ``load_table``, and a request right after a
    large response was measurably slower against the bench server.
    """
    items = list(calls.items())
    for _ in range(max(5, n // 10)):
        for _, call in items:
            call()
    shuffler = random.Random(20240615)
    samples: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(n):
        shuffler.shuffle(items)
        for key, call in items:
            start = time.perf_counter()
            call()
            samples[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) * 1e6 for key, values in samples.items()}


def quiet_logs() -> None:
    """Send floe's structlog events nowhere (as an application that keeps WARNING+ would)."""
    import logging

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )
