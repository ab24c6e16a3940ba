"""The port's view of a loaded PyIceberg table, and the way back to it."""

from __future__ import annotations

import copy

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.table import Table

from floe.adapters.iceberg_model import arrow_schema, describe_spec
from floe.domain.identifiers import TableIdentifier
from floe.domain.partitioning import PartitionTransform
from floe.ports.catalog import TableInfo


class TableDescriber:
    """The port's view of loaded PyIceberg tables, converting each schema and spec once.

    Converting an Iceberg schema to Arrow and a spec to floe's transforms
    costs more than the rest of a ``load_table`` outside the request. In
    Iceberg a schema id or spec id, once assigned in a table, always names
    the same schema or spec, so the conversions are kept per (table uuid,
    schema id, spec id); a table whose schema or spec changes gets new ids
    and a new entry. At most ``limit`` entries are kept.

    Args:
        limit: How many conversions to keep before starting afresh.
    """

    def __init__(self, limit: int = 512) -> None:
        self._limit = limit
        self._known: dict[
            tuple[str, int, int], tuple[pa.Schema, tuple[PartitionTransform, ...]]
        ] = {}

    def __call__(self, identifier: TableIdentifier, table: Table) -> TableInfo:
        """Describe ``table`` as ``identifier``."""
        metadata = table.metadata
        key = (str(metadata.table_uuid), metadata.current_schema_id, metadata.default_spec_id)
        known = self._known.get(key)
        if known is None:
            schema = table.schema()
            known = (arrow_schema(schema), describe_spec(table.spec(), schema))
            if len(self._known) >= self._limit:
                self._known.clear()
            self._known[key] = known
        snapshot = table.current_snapshot()
        return TableInfo(
            identifier=identifier,
            schema=known[0],
            partition_spec=known[1],
            properties=dict(metadata.properties),
            location=metadata.location,
            current_snapshot_id=None if snapshot is None else snapshot.snapshot_id,
            metadata_location=table.metadata_location,
            handle=table,
        )


def loaded_table(info: TableInfo | None, catalog: Catalog) -> Table | None:
    """The PyIceberg table behind ``info``, to write from; ``None`` to load it afresh.

    Only a table this catalog session loaded is taken (after a reconnect the
    session is new and the table is loaded again). It is a copy: a commit
    moves the copy's metadata forward, never the one ``info`` describes.
    """
    if info is None or not isinstance(info.handle, Table) or info.handle.catalog is not catalog:
        return None
    return copy.copy(info.handle)
