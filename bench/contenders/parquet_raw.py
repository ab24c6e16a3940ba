"""Contender: plain ``pyarrow.parquet``, no catalog (the floor of any write).

To a local file for the local catalog; for the REST catalog, to the same S3
server its tables live on (a bucket of its own). Written with zstd, the codec
Iceberg tables default to (``write.parquet.compression-codec``), so the bytes
compressed are comparable.
Ops: write (``pq.write_table``), write_stream (``pq.ParquetWriter`` batch by batch).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import common
import pyarrow.parquet as pq

COMPRESSION = "zstd"
S3_BUCKET = "bench-parquet"


def _filesystem(spec: dict[str, Any]) -> tuple[Any, str]:
    """Local disk, or the REST catalog's S3 server (the storage its tables use)."""
    catalog = spec["catalog"]
    if catalog["kind"] != "rest":
        root = Path(spec["scratch"])
        root.mkdir(parents=True, exist_ok=True)
        return None, str(root)
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(
        access_key=catalog["access_key"],
        secret_key=catalog["secret_key"],
        region=catalog["region"],
        endpoint_override=catalog["s3_endpoint"].split("://", 1)[1],
        scheme=catalog["s3_endpoint"].split("://", 1)[0],
        allow_bucket_creation=True,
    )
    fs.create_dir(S3_BUCKET)
    return fs, S3_BUCKET


def repeats(spec: dict[str, Any]) -> int:
    return max(1, int(spec.get("inner_repeats", 1)))


def write(spec: dict[str, Any], out: Path, *, stream: bool) -> None:
    fs, root = _filesystem(spec)
    target, warm = f"{root}/{spec['table']}.parquet", f"{root}/{spec['table']}_warm.parquet"
    data = None if stream else common.read_table(spec["data"])
    warm_data = data if spec.get("warmup_full") and data is not None else None
    if warm_data is None:
        warm_data = common.read_table(spec["warmup_data"])
    pq.write_table(warm_data, warm, compression=COMPRESSION, filesystem=fs)
    del warm_data
    paths = [target]
    if stream:
        with common.Stopwatch() as watch:
            reader = common.stream_batches(spec["data"])
            with pq.ParquetWriter(
                target, reader.schema, compression=COMPRESSION, filesystem=fs
            ) as writer:
                for batch in reader:
                    writer.write_batch(batch)
        times = [watch.seconds]
    else:
        # Each timed write goes to a fresh file; the median is kept.
        paths += [f"{root}/{spec['table']}_{i}.parquet" for i in range(1, repeats(spec))]
        pending = iter(paths)
        watch, _, times = common.timed_runs(
            lambda: pq.write_table(data, next(pending), compression=COMPRESSION, filesystem=fs),
            len(paths),
        )
    metadata = pq.read_metadata(target, filesystem=fs)
    size = metadata.serialized_size
    common.emit(
        out,
        watch,
        rows=metadata.num_rows,
        row_groups=metadata.num_row_groups,
        footer_bytes=size,
        inner_seconds=times,
    )
    common.delete_files(fs, (*paths, warm))


def main() -> None:
    args = common.parse_args()
    spec = common.load_spec(args.spec)
    if args.op not in ("write", "write_stream"):
        raise SystemExit(f"unknown op {args.op}")
    write(spec, args.out, stream=args.op == "write_stream")


if __name__ == "__main__":
    main()
