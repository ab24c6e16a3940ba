"""The cost of user input: time against the number of filter terms and of columns.

    python bench/input_cost.py                 # local catalog, default sizes
    python bench/input_cost.py --catalog memory --repeats 5

Two series, each on the embedded local catalog (or the in-memory one):

* ``filter``: scan a 10-row table with a filter of N ``or``-joined
  predicates, N up to floe's limit (``MAX_FILTER_PREDICATES``), then one
  past it (refused at once);
* ``columns``: write 3 rows into a new table of N columns.

For each N it prints the median time, the time per term or column, and the
growth of that per-unit time against the smallest N. Linear cost keeps the
per-unit time flat; the target is a growth of at most 2x over the range,
and a series beyond it is printed as MISSED. Every size runs on a fresh
table with fresh values, so no cache flatters a later run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import floe  # noqa: E402
from floe.adapters.filters import MAX_FILTER_PREDICATES  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quiet_logs  # noqa: E402

FILTER_SIZES = (125, 250, 500, MAX_FILTER_PREDICATES)
COLUMN_SIZES = (500, 1000, 2000, 4000)
GROWTH_TARGET = 2.0


def lake_for(catalog: str) -> floe.Floe:
    if catalog == "memory":
        return floe.Floe.from_config({"type": "memory"})
    return floe.Floe.from_config({"type": "local", "warehouse_path": tempfile.mkdtemp()})


def median_s(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def filter_series(catalog: str, repeats: int) -> list[tuple[int, float]]:
    lake = lake_for(catalog)
    lake.namespaces.create("bench")
    rows = pa.table({"id": list(range(10))})
    lake.writes.append("bench.filters", rows, create_if_missing=floe.NewTable())
    figures = []
    for round_, n in enumerate(FILTER_SIZES):
        # different values every size and repeat: nothing parsed before is reused
        counter = iter(range(10**9))

        def scan(n: int = n, round_: int = round_, counter: Iterator[int] = counter) -> None:
            offset = 1000 * (round_ + 1) + next(counter) * n
            text = " or ".join(f"id = {offset + i}" for i in range(n))
            lake.reads.scan("bench.filters", row_filter=text)

        figures.append((n, median_s(scan, repeats)))
    too_many = " or ".join(f"id = {i}" for i in range(MAX_FILTER_PREDICATES + 1))
    start = time.perf_counter()
    try:
        lake.reads.scan("bench.filters", row_filter=too_many)
    except floe.InvalidFilterError:
        print(
            f"filter of {MAX_FILTER_PREDICATES + 1} predicates refused in "
            f"{(time.perf_counter() - start) * 1000:.1f} ms"
        )
    return figures


def column_series(catalog: str, repeats: int) -> list[tuple[int, float]]:
    lake = lake_for(catalog)
    lake.namespaces.create("bench")
    figures = []
    for n in COLUMN_SIZES:
        tables = iter(range(10**6))

        def write(n: int = n, tables: Iterator[int] = tables) -> None:
            name = f"bench.wide_{n}_{next(tables)}"
            data = pa.table({f"c{i}": [1, 2, 3] for i in range(n)})
            lake.tables.create(name, data.schema)
            lake.writes.append(name, data)

        figures.append((n, median_s(write, repeats)))
    return figures


def report(title: str, unit: str, figures: list[tuple[int, float]]) -> None:
    print(f"\n{title}")
    print(f"{unit:>10} {'median s':>10} {'ms/' + unit:>12} {'growth':>8}")
    base = figures[0][1] / figures[0][0]
    worst = 1.0
    for n, seconds in figures:
        per_unit = seconds / n
        growth = per_unit / base
        worst = max(worst, growth)
        print(f"{n:>10} {seconds:>10.3f} {per_unit * 1000:>12.3f} {growth:>7.2f}x")
    verdict = "met" if worst <= GROWTH_TARGET else "MISSED"
    print(f"per-{unit} cost growth {worst:.2f}x (target <= {GROWTH_TARGET:g}x): {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", choices=("local", "memory"), default="local")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    quiet_logs()
    report("filter predicates", "term", filter_series(args.catalog, args.repeats))
    report("table columns", "column", column_series(args.catalog, args.repeats))


if __name__ == "__main__":
    main()
