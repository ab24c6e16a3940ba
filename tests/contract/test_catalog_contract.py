"""CatalogPort contract: namespaces and table lifecycle, Polaris semantics."""

from __future__ import annotations

import pyarrow as pa
import pytest

import floe

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("ts", pa.timestamp("us")),
        pa.field("region", pa.string()),
    ]
)


def test_create_and_load_namespace_with_properties(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    child = (*ns, "sales")
    info = lake.namespaces.create(child, {"owner": "data-eng"})
    assert info.namespace == child
    loaded = lake.namespaces.load(child)
    assert loaded.properties.get("owner") == "data-eng"


def test_create_existing_namespace_raises(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.NamespaceExistsError):
        lake.namespaces.create(ns)


def test_nested_namespace_needs_parent_unless_create_parents(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    deep = (*ns, "a", "b")
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.create(deep)
    assert not lake.namespaces.exists((*ns, "a"))
    lake.namespaces.create(deep, create_parents=True)
    assert lake.namespaces.exists((*ns, "a"))
    assert lake.namespaces.exists(deep)


def test_create_if_not_exists_is_idempotent(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    target = (*ns, "x", "y")
    first = lake.namespaces.create_if_not_exists(target, {"k": "v"})
    second = lake.namespaces.create_if_not_exists(target, {"k": "other"})
    assert first.namespace == second.namespace == target
    assert lake.namespaces.load(target).properties.get("k") == "v"


def test_list_namespaces_children_and_recursive(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    lake.namespaces.create((*ns, "b"))
    lake.namespaces.create((*ns, "a"))
    lake.namespaces.create((*ns, "a", "deep"))
    assert lake.namespaces.list(ns) == [(*ns, "a"), (*ns, "b")]
    assert lake.namespaces.list(ns, recursive=True) == [
        (*ns, "a"),
        (*ns, "a", "deep"),
        (*ns, "b"),
    ]
    assert ns in lake.namespaces.list()


def test_list_children_of_missing_namespace_raises(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.list((*ns, "missing"))


def test_load_missing_namespace_raises(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.NamespaceNotFoundError) as info:
        lake.namespaces.load((*ns, "missing"))
    assert "missing" in str(info.value)


def test_update_namespace_properties(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    lake.namespaces.update_properties(ns, {"a": "1", "b": "2"})
    info = lake.namespaces.update_properties(ns, {"c": "3"}, removals=["a", "never-set"])
    assert info.properties.get("b") == "2"
    assert info.properties.get("c") == "3"
    assert "a" not in info.properties
    assert "a" not in lake.namespaces.load(ns).properties


def test_update_properties_of_missing_namespace_raises(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.update_properties((*ns, "missing"), {"a": "1"})


def test_drop_namespace(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    child = (*ns, "tmp")
    lake.namespaces.create(child)
    lake.namespaces.drop(child)
    assert not lake.namespaces.exists(child)
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.namespaces.drop(child)


def test_drop_non_empty_namespace_refused(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    lake.namespaces.create((*ns, "child"))
    with pytest.raises(floe.NamespaceNotEmptyError):
        lake.namespaces.drop(ns)
    lake.namespaces.drop((*ns, "child"))
    lake.tables.create(floe.TableIdentifier(ns, "t"), SCHEMA)
    with pytest.raises(floe.NamespaceNotEmptyError):
        lake.namespaces.drop(ns)
    assert lake.tables.exists(floe.TableIdentifier(ns, "t"))


def test_create_table_with_partition_spec(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "events")
    info = lake.tables.create(
        ident, SCHEMA, ["day(ts)", "bucket[4](id)", "truncate[2](region)"], {"owner": "me"}
    )
    assert info.identifier == ident
    assert info.current_snapshot_id is None
    assert [str(t) for t in info.partition_spec] == [
        "day(ts)",
        "bucket[4](id)",
        "truncate[2](region)",
    ]
    assert info.properties.get("owner") == "me"
    loaded = lake.tables.load(ident)
    assert loaded.schema == pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("ts", pa.timestamp("us")),
            pa.field("region", pa.string()),
        ]
    )
    assert loaded.partition_spec == info.partition_spec
    lake.writes.append(ident, pa.table({"id": [1, 2], "ts": [None, None], "region": ["eu", None]}))
    assert lake.reads.scan(ident, row_filter="region = 'eu'").column("id").to_pylist() == [1]


@pytest.mark.parametrize(
    "transform",
    ["identity", "year", "month", "day", "hour"],
)
def test_every_time_transform_on_timestamp(
    lake: floe.Floe, ns: tuple[str, ...], transform: str
) -> None:
    spec = ["ts"] if transform == "identity" else [f"{transform}(ts)"]
    info = lake.tables.create(floe.TableIdentifier(ns, f"t_{transform}"), SCHEMA, spec)
    assert info.partition_spec[0].transform_type.value == transform


def test_create_existing_table_raises_and_keeps_it(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "dup")
    lake.tables.create(ident, SCHEMA)
    lake.writes.append(ident, pa.table({"id": [1], "ts": [None], "region": ["eu"]}))
    with pytest.raises(floe.TableExistsError):
        lake.tables.create(ident, pa.schema([("other", pa.string())]))
    assert lake.reads.scan(ident).num_rows == 1
    assert lake.tables.load(ident).schema.names == ["id", "ts", "region"]


def test_create_table_if_not_exists_returns_existing(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "once")
    first = lake.tables.create_if_not_exists(ident, SCHEMA)
    second = lake.tables.create_if_not_exists(ident, pa.schema([("x", pa.int32())]))
    assert first.schema == second.schema
    assert second.schema.names == ["id", "ts", "region"]


def test_create_table_in_missing_namespace_raises(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.tables.create(floe.TableIdentifier((*ns, "nope"), "t"), SCHEMA)


def test_bad_partition_spec_creates_nothing(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "bad")
    with pytest.raises(floe.InvalidPartitionSpecError):
        lake.tables.create(ident, SCHEMA, ["day(region)"])
    assert not lake.tables.exists(ident)


def test_load_missing_table_raises(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    with pytest.raises(floe.TableNotFoundError) as info:
        lake.tables.load(floe.TableIdentifier(ns, "ghost"))
    assert "ghost" in str(info.value)
    assert not lake.tables.exists(floe.TableIdentifier(ns, "ghost"))


def test_list_tables(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    for name in ["b", "a"]:
        lake.tables.create(floe.TableIdentifier(ns, name), SCHEMA)
    lake.namespaces.create((*ns, "sub"))
    lake.tables.create(floe.TableIdentifier((*ns, "sub"), "c"), SCHEMA)
    assert lake.tables.list(ns) == [floe.TableIdentifier(ns, "a"), floe.TableIdentifier(ns, "b")]
    with pytest.raises(floe.NamespaceNotFoundError):
        lake.tables.list((*ns, "missing"))


@pytest.mark.parametrize("purge", [False, True])
def test_drop_table(lake: floe.Floe, ns: tuple[str, ...], purge: bool) -> None:
    ident = floe.TableIdentifier(ns, "gone")
    lake.tables.create(ident, SCHEMA)
    lake.writes.append(ident, pa.table({"id": [1], "ts": [None], "region": ["eu"]}))
    lake.tables.drop(ident, purge=purge)
    assert not lake.tables.exists(ident)
    with pytest.raises(floe.TableNotFoundError):
        lake.tables.drop(ident)
    lake.tables.create(ident, SCHEMA)
    assert lake.reads.scan(ident).num_rows == 0


def test_connection_checks(lake: floe.Floe) -> None:
    assert lake.catalog.is_connected() is True
    lake.catalog.reconnect()
    assert lake.catalog.is_connected() is True


def test_every_catalog_operation_is_logged(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    import structlog

    with structlog.testing.capture_logs() as logs:
        lake.namespaces.create((*ns, "logged"))
        with pytest.raises(floe.TableNotFoundError):
            lake.tables.load(floe.TableIdentifier(ns, "absent"))
    events = [e for e in logs if e["event"] == "floe.operation"]
    assert [(e["operation"], e["outcome"]) for e in events] == [
        ("create namespace", "ok"),
        ("load table", "not_found"),
    ]
    assert events[0]["subject"] == ".".join((*ns, "logged"))
    assert events[1]["error"] == "TableNotFoundError"
