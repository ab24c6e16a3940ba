"""The shared state of the in-memory catalog: namespaces, tables, snapshots."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping

import attrs
import pyarrow as pa
from pyiceberg.schema import Schema

from floe.adapters.filters import iceberg_schema
from floe.domain.errors import NamespaceNotFoundError, TableNotFoundError
from floe.domain.identifiers import Namespace, TableIdentifier, format_namespace
from floe.domain.models import SnapshotInfo
from floe.domain.partitioning import PartitionTransform


@attrs.define
class MemorySnapshot:
    """A snapshot and the full table contents it points at."""

    info: SnapshotInfo
    data: pa.Table


@attrs.define
class MemoryTable:
    """One table: its schema, spec, properties and snapshot history."""

    identifier: TableIdentifier
    schema: pa.Schema
    iceberg_schema: Schema
    partition_spec: tuple[PartitionTransform, ...]
    properties: dict[str, str]
    location: str
    snapshots: list[MemorySnapshot] = attrs.field(factory=list)
    current_snapshot_id: int | None = None
    last_timestamp_ms: int = 0

    def current_data(self) -> pa.Table:
        """The rows of the current snapshot (empty before the first write)."""
        if self.current_snapshot_id is None:
            return self.schema.empty_table()
        return self.snapshot(self.current_snapshot_id).data

    def snapshot(self, snapshot_id: int) -> MemorySnapshot:
        """The snapshot with this id; KeyError if absent."""
        for snapshot in self.snapshots:
            if snapshot.info.snapshot_id == snapshot_id:
                return snapshot
        raise KeyError(snapshot_id)

    def set_schema(self, schema: pa.Schema) -> None:
        """Replace the schema (schema evolution)."""
        self.schema = schema
        self.iceberg_schema = iceberg_schema(schema)

    def add_snapshot(
        self, operation: str, data: pa.Table, summary: Mapping[str, str]
    ) -> SnapshotInfo:
        """Commit a new current snapshot holding ``data``."""
        # Strictly increasing commit times, as a catalog's snapshot log has.
        now = max(time.time_ns() // 1_000_000, self.last_timestamp_ms + 1)
        self.last_timestamp_ms = now
        info = SnapshotInfo(
            snapshot_id=secrets.randbits(63),
            parent_id=self.current_snapshot_id,
            timestamp_ms=now,
            operation=operation,
            summary={"operation": operation, **summary},
        )
        self.snapshots.append(MemorySnapshot(info, data))
        self.current_snapshot_id = info.snapshot_id
        return info


@attrs.define
class MemoryWarehouse:
    """Everything the in-memory catalog holds, guarded by one lock.

    The lock makes each commit atomic and serialises writers, as a catalog's
    compare-and-swap on table metadata does.
    """

    name: str = "memory"
    namespaces: dict[Namespace, dict[str, str]] = attrs.field(factory=dict)
    tables: dict[TableIdentifier, MemoryTable] = attrs.field(factory=dict)
    lock: threading.RLock = attrs.field(factory=threading.RLock)
    purged_locations: list[str] = attrs.field(factory=list)

    def require_namespace(self, namespace: Namespace) -> dict[str, str]:
        """The namespace's properties; NamespaceNotFoundError if absent."""
        try:
            return self.namespaces[namespace]
        except KeyError:
            raise NamespaceNotFoundError(
                f"namespace {format_namespace(namespace)} does not exist",
                subject=format_namespace(namespace),
            ) from None

    def require_table(self, identifier: TableIdentifier) -> MemoryTable:
        """The table; TableNotFoundError if absent."""
        try:
            return self.tables[identifier]
        except KeyError:
            raise TableNotFoundError(
                f"table {identifier} does not exist", subject=str(identifier)
            ) from None
