"""Load one table in a fresh process and report the peak memory the call took.

Run by the hostile-answer suite as ``python answer_memory.py CONFIG TABLE``
(``CONFIG`` a floe catalog config as JSON). Kept apart from the test module
so that the process imports floe only. Before the call it opens the catalog
(imports, token, the catalog's config) and limits its address space to 3 GiB
more than it uses, so that a client reading a hostile answer whole fails with
``MemoryError`` instead of taking the machine's memory. Prints one JSON line:
the error raised, if any, the peak RSS in KiB before and after the call,
and the call's duration.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import floe

_HEADROOM_BYTES = 3 << 30


def _address_space_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


def main() -> None:
    config, table = json.loads(sys.argv[1]), sys.argv[2]
    lake = floe.Floe.from_config(config)
    lake.namespaces.list()
    limit = _address_space_bytes() + _HEADROOM_BYTES
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    error: dict[str, str] | None = None
    started = time.monotonic()
    try:
        lake.tables.load(table)
    except BaseException as exc:
        error = {"type": type(exc).__name__, "message": str(exc)[:1000]}
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"error": error, "before_kib": before, "after_kib": after, "s": seconds}))


if __name__ == "__main__":
    main()
