"""``floe snapshots``: a table's history (no rollback: floe has no API for it yet)."""

from __future__ import annotations

import click

from floe.adapters.cli._app import State, cli, json_option, pass_state
from floe.adapters.cli._render import local_time, utc_iso


@cli.group()
def snapshots() -> None:
    """A table's snapshots (its versions)."""


@snapshots.command("list")
@click.argument("table")
@json_option
@pass_state
def list_snapshots(state: State, table: str) -> None:
    """List TABLE's snapshots, oldest first, with the branches and tags on them."""
    found = state.lake.snapshots.list(table)
    out = state.output
    if out.as_json:
        out.emit(
            {
                "table": table,
                "snapshots": [
                    {
                        "snapshot_id": s.snapshot_id,
                        "parent_id": s.parent_id,
                        "timestamp_ms": s.timestamp_ms,
                        "committed_at": utc_iso(s.timestamp_ms),
                        "operation": s.operation,
                        "refs": list(s.refs),
                        "summary": dict(s.summary),
                    }
                    for s in found
                ],
            }
        )
        return
    out.table(
        ["snapshot", "committed (local time)", "operation", "added rows", "total rows", "refs"],
        (
            [
                s.snapshot_id,
                local_time(s.timestamp_ms),
                s.operation,
                s.summary.get("added-records", ""),
                s.summary.get("total-records", ""),
                ", ".join(s.refs),
            ]
            for s in found
        ),
        right=["snapshot", "added rows", "total rows"],
    )
    if not found:
        out.note("no snapshots")
