"""``floe refs`` (list and drop a table's branches and tags) and ``floe publish``."""

from __future__ import annotations

import click

import floe
from floe.adapters.cli._app import (
    State,
    add_hint,
    cli,
    confirm,
    json_option,
    pass_state,
    yes_option,
)
from floe.adapters.cli._snapshots import age_text, ref_document


@cli.group()
def refs() -> None:
    """A table's branches and tags (create them with snapshots branch|tag)."""


@refs.command("list")
@click.argument("table")
@json_option
@pass_state
def list_refs(state: State, table: str) -> None:
    """List TABLE's branches and tags, main first, with their retention."""
    found = state.lake.refs.list(table)
    out = state.output
    if out.as_json:
        out.emit({"table": table, "refs": [ref_document(r) for r in found]})
        return
    out.table(
        ["name", "kind", "snapshot", "max ref age", "max snapshot age", "min snapshots"],
        (
            [
                r.name,
                r.kind,
                r.snapshot_id,
                age_text(r.retention.max_ref_age_ms),
                age_text(r.retention.max_snapshot_age_ms),
                r.retention.min_snapshots_to_keep,
            ]
            for r in found
        ),
        right=["snapshot", "min snapshots"],
    )
    if not found:
        out.note("no branches or tags (the table has no snapshot yet)")


@refs.command("drop")
@click.argument("table")
@click.argument("name")
@yes_option
@json_option
@pass_state
def drop_ref(state: State, table: str, name: str, yes: bool) -> None:
    """Drop branch or tag NAME of TABLE; its snapshots stay until expiry removes them."""
    lake = state.lake
    table_name = str(lake.tables.load(table).identifier)
    ref = lake.refs.get(table_name, name)  # missing: exit 3 before any question
    if ref.name == "main":
        lake.refs.drop_branch(table_name, name)  # refused with the library's own error
    confirm(f"drop {ref.kind} {name!r} of {table_name} (at snapshot {ref.snapshot_id})", yes=yes)
    if ref.is_branch:
        lake.refs.drop_branch(table_name, name)
    else:
        lake.refs.drop_tag(table_name, name)
    out = state.output
    if out.as_json:
        out.emit({"table": table_name, "dropped": ref_document(ref)})
        return
    out.line(f"dropped {ref.kind} {name!r} of {table_name} (was at snapshot {ref.snapshot_id})")


@cli.command()
@click.argument("table")
@click.argument("branch")
@click.option(
    "--replay",
    is_flag=True,
    help="When main moved since the branch was cut, replay the branch's appends onto it.",
)
@click.option("--drop-branch", is_flag=True, help="Drop the branch once it is published.")
@yes_option
@json_option
@pass_state
def publish(
    state: State, table: str, branch: str, replay: bool, drop_branch: bool, yes: bool
) -> None:
    """Publish BRANCH of TABLE onto main, in one commit (write-audit-publish).

    When main has not moved since the branch was cut, main is fast-forwarded
    to the branch's head. When it moved, the publish is refused (exit 4,
    naming both heads) unless --replay: then the branch's appends are
    committed onto main in one append snapshot (refused when the branch holds
    anything but appends). A refused publish leaves main as it was.
    """
    lake = state.lake
    name = str(lake.tables.load(table).identifier)
    ref = lake.refs.get(name, branch)  # missing: exit 3 before any question
    if ref.is_branch and branch != "main":
        confirm(f"publish branch {branch!r} of {name} onto main", yes=yes)
    try:
        result = lake.refs.publish(
            name, branch, replay_appends=replay, drop_branch=drop_branch
        )  # a tag or main: the library's InvalidRefError (exit 2)
    except floe.BranchDivergedError as exc:
        if not replay:
            add_hint(
                exc,
                f"`floe publish {name} {branch} --replay` replays the branch's appends "
                "onto main; or cut a new branch from main",
            )
        raise
    out = state.output
    if out.as_json:
        out.emit(
            {
                "table": result.table,
                "branch": result.branch,
                "kind": str(result.kind),
                "snapshot_id": result.snapshot_id,
                "previous_main_id": result.previous_main_id,
                "replayed_snapshot_ids": list(result.replayed_snapshot_ids),
                "branch_dropped": result.branch_dropped,
            }
        )
        return
    was = f"(was {result.previous_main_id})"
    if result.kind is floe.PublishKind.UP_TO_DATE:
        out.line(
            f"main of {name} already holds branch {branch!r} (snapshot {result.snapshot_id}); "
            "nothing committed"
        )
    elif result.kind is floe.PublishKind.FAST_FORWARD:
        out.line(
            f"published branch {branch!r} of {name}: fast-forwarded main to snapshot "
            f"{result.snapshot_id} {was}"
        )
    else:
        out.line(
            f"published branch {branch!r} of {name}: replayed "
            f"{len(result.replayed_snapshot_ids)} appends onto main, now at snapshot "
            f"{result.snapshot_id} {was}"
        )
    if result.branch_dropped:
        out.line(f"dropped branch {branch!r}")
