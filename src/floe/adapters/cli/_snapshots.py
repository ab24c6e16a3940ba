"""``floe snapshots``: a table's history, and its tags, branches and rollback (``lake.refs``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

import floe
from floe.adapters.cli._app import State, cli, confirm, json_option, pass_state, yes_option
from floe.adapters.cli._durations import duration_option
from floe.adapters.cli._exit import CliError, ExitCode
from floe.adapters.cli._render import Output, human_duration, local_time, utc_iso


def ref_document(ref: floe.Ref) -> dict[str, Any]:
    """A branch or tag as JSON (the shape docs/cli.md documents)."""
    return {
        "name": ref.name,
        "kind": str(ref.kind),
        "snapshot_id": ref.snapshot_id,
        "max_ref_age_ms": ref.retention.max_ref_age_ms,
        "max_snapshot_age_ms": ref.retention.max_snapshot_age_ms,
        "min_snapshots_to_keep": ref.retention.min_snapshots_to_keep,
    }


def age_text(milliseconds: int | None) -> str:
    """A retention age for people: ``7d``, or empty when the table's default applies."""
    return "" if milliseconds is None else human_duration(timedelta(milliseconds=milliseconds))


def _ms(age: timedelta | None) -> int | None:
    return None if age is None else int(age.total_seconds() * 1000)


@cli.group()
def snapshots() -> None:
    """A table's snapshots (its versions): list, tag, branch, roll back."""


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


_SNAPSHOT = click.option(
    "--snapshot",
    "snapshot_id",
    type=click.IntRange(min=0),
    help="The snapshot id; default: main's current snapshot.",
)
_MAX_REF_AGE = click.option(
    "--max-ref-age",
    callback=duration_option,
    help="The ref may be removed once its snapshot is older than this (e.g. 30d).",
)


def _created(out: Output, table: str, ref: floe.Ref) -> None:
    if out.as_json:
        out.emit({"table": table, "ref": ref_document(ref)})
        return
    out.line(f"created {ref.kind} {ref.name!r} of {table} at snapshot {ref.snapshot_id}")


@snapshots.command("tag")
@click.argument("table")
@click.argument("name")
@_SNAPSHOT
@_MAX_REF_AGE
@json_option
@pass_state
def tag(
    state: State, table: str, name: str, snapshot_id: int | None, max_ref_age: timedelta | None
) -> None:
    """Tag a snapshot of TABLE as NAME (tags never move; read it with read --ref NAME)."""
    ref = state.lake.refs.create_tag(
        table, name, snapshot_id=snapshot_id, max_ref_age_ms=_ms(max_ref_age)
    )
    _created(state.output, table, ref)


@snapshots.command("branch")
@click.argument("table")
@click.argument("name")
@_SNAPSHOT
@_MAX_REF_AGE
@click.option(
    "--max-snapshot-age",
    callback=duration_option,
    help="The branch keeps its snapshots younger than this from expiry.",
)
@click.option(
    "--min-snapshots-to-keep",
    type=click.IntRange(min=1),
    help="The branch keeps at least this many of its newest snapshots from expiry.",
)
@json_option
@pass_state
def branch(
    state: State,
    table: str,
    name: str,
    snapshot_id: int | None,
    max_ref_age: timedelta | None,
    max_snapshot_age: timedelta | None,
    min_snapshots_to_keep: int | None,
) -> None:
    """Create branch NAME of TABLE at a snapshot, to write to and publish later."""
    ref = state.lake.refs.create_branch(
        table,
        name,
        snapshot_id=snapshot_id,
        max_ref_age_ms=_ms(max_ref_age),
        max_snapshot_age_ms=_ms(max_snapshot_age),
        min_snapshots_to_keep=min_snapshots_to_keep,
    )
    _created(state.output, table, ref)


@snapshots.command("rollback")
@click.argument("table")
@click.option(
    "--snapshot", "snapshot_id", type=click.IntRange(min=0), help="Return to this snapshot."
)
@click.option("--tag", "tag_name", help="Return to the snapshot this tag points at.")
@yes_option
@json_option
@pass_state
def rollback(
    state: State, table: str, snapshot_id: int | None, tag_name: str | None, yes: bool
) -> None:
    """Move TABLE's main branch back to one of its past snapshots (--snapshot or --tag).

    Nothing is deleted: the later snapshots stay until expired, and a
    rollback to a later one of them undoes this one.
    """
    if (snapshot_id is None) == (tag_name is None):
        raise click.UsageError("give --snapshot ID or --tag NAME (one of them)")
    lake = state.lake
    info = lake.tables.load(table)
    name = str(info.identifier)
    if tag_name is not None:
        target = lake.refs.get(name, tag_name).snapshot_id  # a missing tag: exit 3, no question
    else:
        target = int(snapshot_id)  # type: ignore[arg-type]  # given when no tag is
        if all(s.snapshot_id != target for s in lake.snapshots.list(name)):
            raise CliError(f"table {name} has no snapshot {target}", ExitCode.NOT_FOUND)
    via = f" (tag {tag_name!r})" if tag_name is not None else ""
    confirm(f"roll main of {name} back to snapshot {target}{via}", yes=yes)
    now = lake.refs.rollback(name, snapshot_id=snapshot_id, tag=tag_name)
    out = state.output
    if out.as_json:
        out.emit(
            {
                "table": name,
                "snapshot_id": now.snapshot_id,
                "previous_snapshot_id": info.current_snapshot_id,
                "tag": tag_name,
            }
        )
        return
    if now.snapshot_id == info.current_snapshot_id:
        out.line(f"main of {name} is at snapshot {now.snapshot_id} already; nothing committed")
        return
    out.line(
        f"rolled main of {name} back to snapshot {now.snapshot_id}{via} "
        f"(was {info.current_snapshot_id})"
    )
