"""A write/read loop on storage credentials that live 10 seconds: does anything fail?

Starts a throwaway SeaweedFS, the S3 gate that accepts only vended, unexpired
credentials and the Polaris-conformance proxy vending them (the test
servers of ``tests/integration``), then, for ``--seconds`` (default 120),
repeats: a streamed append fed by a slow source (so it outlives the
credentials it started with), a plain append, and a full read checking every
row. floe's config holds no storage keys. Every exception is counted as a
failure and the loop goes on. Prints one figure line, e.g.::

    120 s, 10 s credentials: 9 streamed + 9 plain appends, 9 reads, 0 failed;
    38 credential sets vended (20 with a table, 18 renewals), 0 refused as expired

Run: ``python bench/vended_credentials_loop.py [--seconds 120] [--lifetime 10]``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.polaris_proxy import CredentialVending, running_polaris
from tests.integration.s3_gate import running_gate
from tests.integration.seaweed import start_seaweed

import floe

SCHEMA = pa.schema([("id", pa.int64()), ("v", pa.string())])
_ROWS_PER_BATCH = 1_000


def batch(start: int) -> pa.RecordBatch:
    ids = list(range(start, start + _ROWS_PER_BATCH))
    return pa.record_batch([pa.array(ids), pa.array([f"r{i}" for i in ids])], schema=SCHEMA)


def slow_source(start: int, batches: int, pause_s: float) -> Iterator[pa.RecordBatch]:
    """``batches`` batches, ``pause_s`` apart: a source slower than the credentials' life."""
    for number in range(batches):
        if number:
            time.sleep(pause_s)
        yield batch(start + number * _ROWS_PER_BATCH)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--lifetime", type=float, default=10.0, help="credential lifetime, s")
    args = parser.parse_args()

    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="floe-vended-")))
        seaweed = stack.enter_context(start_seaweed(workdir))
        gate = stack.enter_context(
            running_gate(
                seaweed.s3_endpoint,
                access_key=seaweed.access_key,
                secret_key=seaweed.secret_key,
                region=seaweed.region,
            )
        )
        vending = CredentialVending(gate, lifetime_s=args.lifetime)
        proxy = stack.enter_context(
            running_polaris(
                seaweed.rest_uri,
                upstream_client_id=seaweed.access_key,
                upstream_client_secret=seaweed.secret_key,
                token_lifetime_s=300.0,
                vending=vending,
            )
        )
        lake = floe.Floe.from_config(
            floe.PolarisCatalogConfig(
                uri=proxy.catalog_uri,
                warehouse=seaweed.warehouse,
                client_id=proxy.client_id,
                client_secret=proxy.client_secret,
                access_delegation="vended-credentials",
            )
        )
        lake.namespaces.create("vended")
        lake.tables.create("vended.loop", SCHEMA)

        streamed = plain = reads = failed = 0
        expected = 0
        started = time.monotonic()
        while time.monotonic() - started < args.seconds:
            try:
                # Six batches 2.4 s apart: 12 s, longer than the 10 s credentials.
                source = slow_source(expected, 6, args.lifetime * 0.24)
                lake.writes.append("vended.loop", source, chunk_bytes=1)
                expected += 6 * _ROWS_PER_BATCH
                streamed += 1
                lake.writes.append("vended.loop", pa.Table.from_batches([batch(expected)]))
                expected += _ROWS_PER_BATCH
                plain += 1
                ids = lake.reads.scan("vended.loop", columns=["id"]).column("id")
                if sorted(ids.to_pylist()) != list(range(expected)):
                    raise AssertionError(f"read {len(ids)} rows, expected {expected}")
                reads += 1
            except Exception:  # counted, and the loop goes on
                failed += 1
                traceback.print_exc()
                expected = lake.reads.scan("vended.loop", columns=["id"]).num_rows
        elapsed = time.monotonic() - started
        vended = vending.with_tables + vending.by_endpoint
        expired = gate.refusals.get("ExpiredToken", 0)
        print(
            f"{elapsed:.0f} s, {args.lifetime:g} s credentials: {streamed} streamed + {plain} "
            f"plain appends, {reads} reads, {failed} failed; {vended} credential sets vended "
            f"({vending.with_tables} with a table, {vending.by_endpoint} renewals), "
            f"{expired} refused as expired, {len(lake.snapshots.list('vended.loop'))} snapshots"
        )
        return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
