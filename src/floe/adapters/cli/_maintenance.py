"""``floe maintenance``: expire snapshots, remove orphan files, compact small files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import click
from rich.status import Status

import floe
from floe.adapters.cli._app import (
    State,
    cli,
    confirm,
    existing_table,
    json_option,
    pass_state,
    yes_option,
)
from floe.adapters.cli._durations import duration_option
from floe.adapters.cli._render import Output, human_bytes, human_duration
from floe.domain.compaction import DEFAULT_MIN_INPUT_FILES


def _deleted_document(deleted: floe.FilesDeleted) -> dict[str, Any]:
    return {
        "files": deleted.files,
        "size_bytes": deleted.size_bytes,
        "by_kind": {
            str(kind): {"files": count.files, "size_bytes": count.size_bytes}
            for kind, count in deleted.counts.items()
        },
        "failed_paths": list(deleted.failed_paths),
        "skipped": deleted.skipped,
    }


def _deleted_lines(out: Output, deleted: floe.FilesDeleted) -> None:
    kinds = ", ".join(f"{c.files} {k}" for k, c in deleted.counts.items())
    out.line(
        f"deleted {deleted.files} files ({human_bytes(deleted.size_bytes)})"
        + (f": {kinds}" if kinds else "")
    )
    for path in deleted.failed_paths:
        out.line(f"could not delete {path}")
    if deleted.skipped:
        out.line(f"nothing deleted: {deleted.skipped}")


def _unreferenced_lines(out: Output, result: floe.ExpireResult) -> None:
    """What a dry run would delete: files by kind, then each path."""
    kinds: dict[str, int] = {}
    for file in result.unreferenced_files:
        kinds[str(file.kind)] = kinds.get(str(file.kind), 0) + 1
    listed = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
    # Iceberg metadata does not record a manifest list's size: then the sum is a floor.
    floor = "at least " if any(f.size_bytes is None for f in result.unreferenced_files) else ""
    out.line(
        f"would delete {len(result.unreferenced_files)} files "
        f"({floor}{human_bytes(result.unreferenced_bytes)})" + (f": {listed}" if listed else "")
    )
    for file in result.unreferenced_files:
        out.line(f"  {file.path}")


@contextlib.contextmanager
def _working(out: Output, text: str) -> Iterator[None]:
    """A spinner on the terminal while a long call runs (nothing when not a terminal)."""
    if not out.interactive:
        yield
        return
    with Status(text, console=out.err):
        yield


@cli.group()
def maintenance() -> None:
    """Expire old snapshots, remove orphan files, compact small files (docs/maintenance.md)."""


@maintenance.command("expire")
@click.argument("table")
@click.option(
    "--older-than",
    callback=duration_option,
    help="Only snapshots older than this (e.g. 7d) go; default: all but --retain-last.",
)
@click.option(
    "--retain-last",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="The newest snapshots always kept.",
)
@click.option("--keep-files", is_flag=True, help="Only edit the metadata; delete no file.")
@click.option(
    "--dry-run", is_flag=True, help="Only report what would expire and be deleted; change nothing."
)
@yes_option
@json_option
@pass_state
def expire(
    state: State,
    table: str,
    older_than: timedelta | None,
    retain_last: int,
    keep_files: bool,
    dry_run: bool,
    yes: bool,
) -> None:
    """Expire TABLE's old snapshots and delete the files only they used."""
    name = existing_table(state, table)
    age = f" older than {human_duration(older_than)}" if older_than is not None else ""
    if not dry_run:
        confirm(f"expire the snapshots of {name}{age} but the newest {retain_last}", yes=yes)
    out = state.output
    with _working(out, f"expiring snapshots of {name}"):
        result = state.lake.maintenance.expire_snapshots(
            name,
            older_than=older_than,
            retain_last=retain_last,
            delete_files=not keep_files,
            dry_run=dry_run,
        )
    if out.as_json:
        out.emit(
            {
                "table": str(result.table),
                "dry_run": result.dry_run,
                "expired_snapshot_ids": list(result.expired_snapshot_ids),
                "retained_snapshot_ids": list(result.retained_snapshot_ids),
                "protected_snapshot_ids": list(result.protected_snapshot_ids),
                "unreferenced_files": [
                    {"path": f.path, "kind": str(f.kind), "size_bytes": f.size_bytes}
                    for f in result.unreferenced_files
                ],
                "deleted_files": _deleted_document(result.deleted_files),
            }
        )
        return
    out.line(
        f"{'would expire' if result.dry_run else 'expired'} "
        f"{len(result.expired_snapshot_ids)} snapshots of {result.table}, "
        f"{'would keep' if result.dry_run else 'kept'} {len(result.retained_snapshot_ids)}"
        + (
            f" ({len(result.protected_snapshot_ids)} held by branches or tags)"
            if result.protected_snapshot_ids
            else ""
        )
    )
    if result.dry_run:
        if not keep_files:
            _unreferenced_lines(out, result)
        return
    _deleted_lines(out, result.deleted_files)


@maintenance.command("orphans")
@click.argument("table")
@click.option(
    "--older-than",
    callback=duration_option,
    default="3d",
    show_default=True,
    help="Unreferenced files younger than this are left alone (a write may be running).",
)
@click.option("--dry-run", is_flag=True, help="Only list the orphans; delete nothing.")
@click.option(
    "--allow-short-window",
    is_flag=True,
    help="Accept --older-than under a day: only when no write to the table is running.",
)
@yes_option
@json_option
@pass_state
def orphans(
    state: State,
    table: str,
    older_than: timedelta,
    dry_run: bool,
    allow_short_window: bool,
    yes: bool,
) -> None:
    """Find and delete the files under TABLE's location that no metadata references."""
    name = existing_table(state, table)
    if not dry_run:
        confirm(
            f"delete the unreferenced files of {name} older than {human_duration(older_than)}",
            yes=yes,
        )
    out = state.output
    with _working(out, f"scanning the files of {name}"):
        result = state.lake.maintenance.remove_orphan_files(
            name, older_than=older_than, dry_run=dry_run, allow_short_window=allow_short_window
        )
    if out.as_json:
        out.emit(
            {
                "table": str(result.table),
                "older_than_seconds": int(result.older_than.total_seconds()),
                "dry_run": result.dry_run,
                "orphan_paths": list(result.orphan_paths),
                "orphan_bytes": result.orphan_bytes,
                "recent_files": result.recent_files,
                "deleted_files": _deleted_document(result.deleted),
            }
        )
        return
    verb = "would delete" if result.dry_run else "found"
    out.line(
        f"{verb} {len(result.orphan_paths)} orphan files of {result.table} "
        f"({human_bytes(result.orphan_bytes)}) older than {human_duration(result.older_than)}; "
        f"{result.recent_files} younger unreferenced files left alone"
    )
    for path in result.orphan_paths:
        out.line(f"  {path}")
    if not result.dry_run:
        _deleted_lines(out, result.deleted)


@maintenance.command("compact")
@click.argument("table")
@click.option(
    "--target-file-size",
    type=click.IntRange(min=1),
    help="Bytes to aim for (default: the table's write.target-file-size-bytes).",
)
@click.option("--where", help="Only files that may hold rows this filter selects.")
@click.option(
    "--min-input-files",
    type=click.IntRange(min=2),
    default=DEFAULT_MIN_INPUT_FILES,
    show_default=True,
    help="Small files a partition needs to be rewritten.",
)
@click.option("--dry-run", is_flag=True, help="Only plan and report; write nothing.")
@json_option
@pass_state
def compact(
    state: State,
    table: str,
    target_file_size: int | None,
    where: str | None,
    min_input_files: int,
    dry_run: bool,
) -> None:
    """Rewrite TABLE's small data files into files near the target size (no row changes)."""
    out = state.output
    with _working(out, f"compacting {table}"):
        result = state.lake.maintenance.compact(
            table,
            target_file_size=target_file_size,
            where=where,
            min_input_files=min_input_files,
            dry_run=dry_run,
        )
    partitions = [
        {
            "partition": p.partition,
            "files_rewritten": p.files_rewritten,
            "bytes_in": p.bytes_in,
            "files_added": p.files_added,
            "bytes_out": p.bytes_out,
        }
        for p in result.partitions
    ]
    if out.as_json:
        out.emit(
            {
                "table": str(result.table),
                "snapshot_id": result.snapshot_id,
                "dry_run": result.dry_run,
                "target_file_size": result.target_file_size,
                "files_rewritten": result.files_rewritten,
                "bytes_in": result.bytes_in,
                "files_added": result.files_added,
                "bytes_out": result.bytes_out,
                "partitions": partitions,
                "skipped_compact": list(result.skipped_compact),
                "skipped_with_deletes": list(result.skipped_with_deletes),
            }
        )
        return
    if result.dry_run:
        out.line(
            f"would rewrite {result.files_rewritten} files of {result.table} "
            f"({human_bytes(result.bytes_in)}) into {result.files_added} files "
            f"of about {human_bytes(result.target_file_size)} at most"
        )
    else:
        out.line(
            f"rewrote {result.files_rewritten} files of {result.table} "
            f"({human_bytes(result.bytes_in)}) into {result.files_added} files "
            f"({human_bytes(result.bytes_out)})"
            + (f", snapshot {result.snapshot_id}" if result.snapshot_id is not None else "")
        )
    if partitions:
        out.table(
            ["partition", "files in", "bytes in", "files out", "bytes out"],
            (
                [
                    p.partition or "(unpartitioned)",
                    p.files_rewritten,
                    human_bytes(p.bytes_in),
                    p.files_added,
                    human_bytes(p.bytes_out),
                ]
                for p in result.partitions
            ),
            right=["files in", "bytes in", "files out", "bytes out"],
        )
    if result.skipped_with_deletes:
        out.line("left alone (row-level deletes apply): " + ", ".join(result.skipped_with_deletes))
