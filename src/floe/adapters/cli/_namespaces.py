"""``floe namespaces``: list, create, drop namespaces and change their properties."""

from __future__ import annotations

import click

from floe.adapters.cli._app import State, cli, confirm, json_option, pass_state, yes_option


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=option)
        pairs[key] = text
    return pairs


def property_pairs(values: tuple[str, ...], option: str = "--property") -> dict[str, str]:
    """``KEY=VALUE`` options as a mapping.

    Raises:
        click.BadParameter: A value without ``=`` or without a key.
    """
    return _pairs(values, option)


def _show(state: State, namespace: str, properties: dict[str, str]) -> None:
    out = state.output
    if out.as_json:
        out.emit({"namespace": namespace, "properties": properties})
        return
    out.line(f"namespace {namespace}")
    if properties:
        out.table(["property", "value"], sorted(properties.items()))


@cli.group()
def namespaces() -> None:
    """List, create and drop namespaces; show and change their properties."""


@namespaces.command("list")
@click.argument("parent", required=False, default="")
@click.option("--recursive", "-r", is_flag=True, help="Include every descendant.")
@json_option
@pass_state
def list_namespaces(state: State, parent: str, recursive: bool) -> None:
    """List the namespaces under PARENT (the top level by default)."""
    found = [".".join(ns) for ns in state.lake.namespaces.list(parent, recursive=recursive)]
    out = state.output
    if out.as_json:
        out.emit({"namespaces": found})
        return
    for name in found:
        out.line(name)
    if not found:
        out.note("no namespaces")


@namespaces.command("create")
@click.argument("namespace")
@click.option("--property", "-p", "props", multiple=True, help="KEY=VALUE (repeatable).")
@click.option("--parents", is_flag=True, help="Create missing parent namespaces too.")
@json_option
@pass_state
def create_namespace(state: State, namespace: str, props: tuple[str, ...], parents: bool) -> None:
    """Create NAMESPACE (``a.b`` is b inside a)."""
    properties = property_pairs(props)
    info = state.lake.namespaces.create(namespace, properties, create_parents=parents)
    _show(state, ".".join(info.namespace), dict(info.properties))


@namespaces.command("drop")
@click.argument("namespace")
@yes_option
@json_option
@pass_state
def drop_namespace(state: State, namespace: str, yes: bool) -> None:
    """Drop NAMESPACE, which must be empty."""
    lake = state.lake
    name = ".".join(lake.namespaces.load(namespace).namespace)
    confirm(f"drop namespace {name}", yes=yes)
    lake.namespaces.drop(name)
    out = state.output
    if out.as_json:
        out.emit({"dropped": name})
    else:
        out.line(f"dropped namespace {name}")


@namespaces.command("properties")
@click.argument("namespace")
@click.option("--set", "sets", multiple=True, help="KEY=VALUE to set (repeatable).")
@click.option("--remove", "removals", multiple=True, help="KEY to remove (repeatable).")
@json_option
@pass_state
def namespace_properties(
    state: State, namespace: str, sets: tuple[str, ...], removals: tuple[str, ...]
) -> None:
    """Show NAMESPACE's properties, after setting and removing the ones given."""
    lake = state.lake
    updates = _pairs(sets, "--set")
    if updates or removals:
        info = lake.namespaces.update_properties(namespace, updates, removals)
    else:
        info = lake.namespaces.load(namespace)
    _show(state, ".".join(info.namespace), dict(info.properties))
