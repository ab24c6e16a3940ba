"""``floe tables``: list, describe, create, drop; a table's files, partitions and health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

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
from floe.adapters.cli._namespaces import property_pairs
from floe.adapters.cli._render import Output, human_bytes
from floe.adapters.cli._schema_file import read_definition, type_name


def table_document(info: floe.TableInfo) -> dict[str, Any]:
    """A table as the JSON of ``tables describe``."""
    return {
        "table": str(info.identifier),
        "location": info.location,
        "current_snapshot_id": info.current_snapshot_id,
        "metadata_location": info.metadata_location,
        "schema": [
            {"name": f.name, "type": type_name(f.type), "required": not f.nullable}
            for f in info.schema
        ],
        "partition_spec": [str(t) for t in info.partition_spec],
        "properties": dict(sorted(info.properties.items())),
    }


def _describe(out: Output, info: floe.TableInfo) -> None:
    if out.as_json:
        out.emit(table_document(info))
        return
    spec = ", ".join(str(t) for t in info.partition_spec) or "unpartitioned"
    out.fields(
        [
            ("table", info.identifier),
            ("location", info.location),
            ("snapshot", "none" if info.current_snapshot_id is None else info.current_snapshot_id),
            ("metadata", info.metadata_location or "none"),
            ("partitioned by", spec),
        ]
    )
    out.table(
        ["column", "type", "required"],
        ([f.name, type_name(f.type), "yes" if not f.nullable else ""] for f in info.schema),
        title="schema",
    )
    if info.properties:
        out.table(["property", "value"], sorted(info.properties.items()), title="properties")


@cli.group()
def tables() -> None:
    """List, describe, create and drop tables; inspect their files and storage."""


@tables.command("list")
@click.argument("namespace", required=False)
@json_option
@pass_state
def list_tables(state: State, namespace: str | None) -> None:
    """List the tables of NAMESPACE (of every namespace when none is given)."""
    lake = state.lake
    spaces = [namespace] if namespace else lake.namespaces.list(recursive=True)
    found = [str(t) for ns in spaces for t in lake.tables.list(ns)]
    out = state.output
    if out.as_json:
        out.emit({"tables": found})
        return
    for name in found:
        out.line(name)
    if not found:
        out.note("no tables")


@tables.command("describe")
@click.argument("table")
@json_option
@pass_state
def describe_table(state: State, table: str) -> None:
    """Show TABLE's schema, partition spec, location, snapshot and properties."""
    _describe(state.output, state.lake.tables.load(table))


@tables.command("create")
@click.argument("table")
@click.option(
    "--schema",
    "schema_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file: columns, partition_spec, properties (see docs/cli.md).",
)
@click.option("--property", "-p", "props", multiple=True, help="KEY=VALUE (repeatable).")
@json_option
@pass_state
def create_table(state: State, table: str, schema_file: Path, props: tuple[str, ...]) -> None:
    """Create TABLE, empty, from a schema file."""
    definition = read_definition(schema_file)
    properties = {**definition.properties, **property_pairs(props)}
    info = state.lake.tables.create(table, definition.schema, definition.partition_spec, properties)
    _describe(state.output, info)


@tables.command("drop")
@click.argument("table")
@click.option("--purge", is_flag=True, help="Delete its data and metadata files too.")
@yes_option
@json_option
@pass_state
def drop_table(state: State, table: str, purge: bool, yes: bool) -> None:
    """Drop TABLE from the catalog (with --purge, its files too)."""
    lake = state.lake
    name = existing_table(state, table)
    confirm(f"drop table {name}{' and delete its files' if purge else ''}", yes=yes)
    lake.tables.drop(name, purge=purge)
    out = state.output
    if out.as_json:
        out.emit({"dropped": name, "purged": purge})
    else:
        out.line(f"dropped table {name}{' and its files' if purge else ''}")


def _partition_text(partition: Any) -> str:
    return ", ".join(f"{k}={v}" for k, v in partition.items()) or "(unpartitioned)"


@tables.command("files")
@click.argument("table")
@json_option
@pass_state
def table_files(state: State, table: str) -> None:
    """List the data files of TABLE's current snapshot."""
    files = state.lake.tables.files(table)
    out = state.output
    if out.as_json:
        out.emit(
            {
                "table": table,
                "files": [
                    {
                        "path": f.path,
                        "partition": dict(f.partition),
                        "record_count": f.record_count,
                        "size_bytes": f.size_bytes,
                    }
                    for f in files
                ],
            }
        )
        return
    out.table(
        ["path", "partition", "rows", "size"],
        (
            [f.path, _partition_text(f.partition), f.record_count, human_bytes(f.size_bytes)]
            for f in files
        ),
        right=["rows", "size"],
    )
    total = sum(f.size_bytes for f in files)
    out.line(f"{len(files)} files, {human_bytes(total)}")


@tables.command("partitions")
@click.argument("table")
@json_option
@pass_state
def table_partitions(state: State, table: str) -> None:
    """Rows, files and bytes per partition of TABLE's current snapshot."""
    stats = state.lake.tables.partitions(table)
    out = state.output
    if out.as_json:
        out.emit(
            {
                "table": table,
                "partitions": [
                    {
                        "partition": dict(p.partition),
                        "record_count": p.record_count,
                        "file_count": p.file_count,
                        "size_bytes": p.size_bytes,
                    }
                    for p in stats
                ],
            }
        )
        return
    out.table(
        ["partition", "rows", "files", "size"],
        (
            [_partition_text(p.partition), p.record_count, p.file_count, human_bytes(p.size_bytes)]
            for p in stats
        ),
        right=["rows", "files", "size"],
    )


@tables.command("health")
@click.argument("table")
@click.option(
    "--small-file-bytes",
    type=click.IntRange(min=1),
    help="Data files under this size are small (default: a quarter of the target size).",
)
@json_option
@pass_state
def table_health(state: State, table: str, small_file_bytes: int | None) -> None:
    """Sum up TABLE's storage: snapshots, files, sizes, small files."""
    health = state.lake.maintenance.health(table, small_file_bytes=small_file_bytes)
    out = state.output
    if out.as_json:
        out.emit(
            {
                "table": str(health.table),
                "snapshots": health.snapshots,
                "data_files": health.data_files,
                "data_bytes": health.data_bytes,
                "delete_files": health.delete_files,
                "delete_bytes": health.delete_bytes,
                "small_files": health.small_files,
                "small_file_threshold_bytes": health.small_file_threshold_bytes,
                "small_file_ratio": health.small_file_ratio,
                "average_file_bytes": health.average_file_bytes,
                "manifests": health.manifests,
                "manifest_bytes": health.manifest_bytes,
                "metadata_bytes": health.metadata_bytes,
            }
        )
        return
    out.fields(
        [
            ("table", health.table),
            ("snapshots", health.snapshots),
            ("data files", f"{health.data_files} ({human_bytes(health.data_bytes)})"),
            ("average file", human_bytes(health.average_file_bytes)),
            (
                "small files",
                f"{health.small_files} ({health.small_file_ratio:.0%}) under "
                f"{human_bytes(health.small_file_threshold_bytes)}",
            ),
            ("delete files", f"{health.delete_files} ({human_bytes(health.delete_bytes)})"),
            ("manifests", f"{health.manifests} ({human_bytes(health.manifest_bytes)})"),
            ("metadata", human_bytes(health.metadata_bytes)),
        ]
    )
