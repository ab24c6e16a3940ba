"""In-memory catalog port: namespaces and table lifecycle with Polaris semantics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import pyarrow as pa

from floe.adapters.memory.state import MemoryTable, MemoryWarehouse, create_memory_table
from floe.adapters.observability import instrumented
from floe.domain.errors import (
    NamespaceExistsError,
    NamespaceNotEmptyError,
    TableExistsError,
)
from floe.domain.identifiers import Namespace, TableIdentifier, format_namespace
from floe.domain.models import NamespaceInfo
from floe.domain.partitioning import PartitionTransform
from floe.ports.catalog import CatalogPort, TableInfo


def describe_table(table: MemoryTable) -> TableInfo:
    """The port's view of a memory table."""
    return TableInfo(
        identifier=table.identifier,
        schema=table.schema,
        partition_spec=table.partition_spec,
        properties=dict(table.properties),
        location=table.location,
        current_snapshot_id=table.current_snapshot_id,
        metadata_location=table.metadata_location,
    )


@instrumented("memory")
class MemoryCatalog(CatalogPort):
    """Namespaces and tables held in a :class:`MemoryWarehouse`.

    Args:
        warehouse: The state shared with the :class:`MemoryTableStore`.
    """

    def __init__(self, warehouse: MemoryWarehouse) -> None:
        self._w = warehouse

    def create_namespace(
        self, namespace: Namespace, properties: Mapping[str, str] | None = None
    ) -> NamespaceInfo:
        with self._w.lock:
            if namespace in self._w.namespaces:
                raise NamespaceExistsError(
                    f"namespace {format_namespace(namespace)} already exists",
                    subject=format_namespace(namespace),
                )
            if len(namespace) > 1:
                self._w.require_namespace(namespace[:-1])
            self._w.namespaces[namespace] = dict(properties or {})
            return NamespaceInfo(namespace, self._w.namespaces[namespace])

    def list_namespaces(self, parent: Namespace = ()) -> list[Namespace]:
        with self._w.lock:
            if parent:
                self._w.require_namespace(parent)
            depth = len(parent) + 1
            return sorted(
                ns for ns in self._w.namespaces if len(ns) == depth and ns[: len(parent)] == parent
            )

    def load_namespace(self, namespace: Namespace) -> NamespaceInfo:
        with self._w.lock:
            return NamespaceInfo(namespace, self._w.require_namespace(namespace))

    def drop_namespace(self, namespace: Namespace) -> None:
        with self._w.lock:
            self._w.require_namespace(namespace)
            children = [
                ns
                for ns in self._w.namespaces
                if len(ns) > len(namespace) and ns[: len(namespace)] == namespace
            ]
            tables = [t for t in self._w.tables if t.namespace == namespace]
            if children or tables:
                raise NamespaceNotEmptyError(
                    f"namespace {format_namespace(namespace)} is not empty "
                    f"({len(tables)} table(s), {len(children)} namespace(s))",
                    subject=format_namespace(namespace),
                )
            del self._w.namespaces[namespace]

    def update_namespace_properties(
        self,
        namespace: Namespace,
        updates: Mapping[str, str] | None = None,
        removals: Sequence[str] = (),
    ) -> NamespaceInfo:
        with self._w.lock:
            props = self._w.require_namespace(namespace)
            for key in removals:
                props.pop(key, None)
            props.update(updates or {})
            return NamespaceInfo(namespace, props)

    def create_table(
        self,
        identifier: TableIdentifier,
        schema: pa.Schema,
        partition_spec: Sequence[PartitionTransform] = (),
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        with self._w.lock:
            table = create_memory_table(self._w, identifier, schema, partition_spec, properties)
            self._w.tables[identifier] = table
            return describe_table(table)

    def register_table(self, identifier: TableIdentifier, metadata_location: str) -> TableInfo:
        with self._w.lock:
            self._w.require_namespace(identifier.namespace)
            if identifier in self._w.tables:
                raise TableExistsError(
                    f"table {identifier} already exists", subject=str(identifier)
                )
            source = self._w.table_at(metadata_location)
            table = attrs.evolve(
                source,
                identifier=identifier,
                properties=dict(source.properties),
                snapshots=list(source.snapshots),
                files=dict(source.files),
            )
            self._w.tables[identifier] = table
            return describe_table(table)

    def load_table(self, identifier: TableIdentifier) -> TableInfo:
        with self._w.lock:
            return describe_table(self._w.require_table(identifier))

    def list_tables(self, namespace: Namespace) -> list[TableIdentifier]:
        with self._w.lock:
            self._w.require_namespace(namespace)
            return sorted(
                (t for t in self._w.tables if t.namespace == namespace), key=lambda t: t.name
            )

    def drop_table(self, identifier: TableIdentifier, *, purge: bool = False) -> None:
        with self._w.lock:
            table = self._w.require_table(identifier)
            del self._w.tables[identifier]
            if purge:
                self._w.purged_locations.append(table.location)
                self._w.storage.purge(table.location)
            else:
                # Without purge the files stay, so the table can be registered again.
                self._w.dropped[table.metadata_location] = table

    def is_connected(self) -> bool:
        return True

    def reconnect(self) -> None:
        return None
