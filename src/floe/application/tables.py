"""Table lifecycle use cases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import pyarrow as pa

from floe.application.inputs import NamespaceLike, TableLike, as_identifier, as_namespace
from floe.domain.errors import InvalidSchemaError, TableExistsError, TableNotFoundError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import DataFileInfo, PartitionStats, partition_stats
from floe.domain.partitioning import PartitionTransform, validate_partition_spec
from floe.domain.schema import ColumnType, SchemaDescription
from floe.ports.arrow import canonical_schema, describe_schema
from floe.ports.catalog import CatalogPort, TableInfo
from floe.ports.table_store import TableStorePort

PartitionLike = PartitionTransform | str


@runtime_checkable
class ArrowConvertibleSchema(Protocol):
    """A schema that converts itself to Arrow, as PyIceberg's ``Schema.as_arrow()`` does."""

    def as_arrow(self) -> pa.Schema:
        """The schema as a PyArrow schema."""


#: A new table's schema: a PyArrow schema or an Iceberg ``Schema``.
SchemaLike: TypeAlias = pa.Schema | ArrowConvertibleSchema


def as_partition_spec(spec: Sequence[PartitionLike]) -> tuple[PartitionTransform, ...]:
    """Accept transforms or their text form (``"day(ts)"``, ``"bucket[16](id)"``)."""
    if isinstance(spec, str | PartitionTransform):
        spec = [spec]
    return tuple(
        t if isinstance(t, PartitionTransform) else PartitionTransform.parse(t) for t in spec
    )


#: Properties every table floe creates starts with; the caller's win.
#:
#: * ``commit.retry.*``: Iceberg's defaults (4 retries within about 1.5 s) make
#:   appends fail with CommitConflictError once three or four writers share a
#:   table; these give 10 retries, 50 ms doubling to 5 s, about 20 s in all.
#:   A commit is refused only when another writer's landed meanwhile, so
#:   writers that must never run out on a slow machine allow one retry per
#:   commit the others make (``docs/reliability.md``).
#: * ``write.parquet.dict-size-bytes``: PyIceberg's Parquet writer takes a
#:   2 MiB dictionary page limit by default (Iceberg's default); pyarrow's own
#:   is 1 MiB. On high-cardinality columns the smaller limit falls back to
#:   plain encoding sooner: on the benchmark data a write takes ~40 % less
#:   time and its files are ~5 % smaller.
#: * ``write.metadata.*``: each commit writes a new metadata file; the table's
#:   metadata log keeps the 20 previous ones (Iceberg keeps 100) and the
#:   committing client deletes those that fall out of it (off by default in
#:   Iceberg), so a table holds at most 21 metadata files. PyIceberg does it
#:   for every catalog, the REST catalog trimming the log it answers with.
CREATED_TABLE_DEFAULTS: Mapping[str, str] = {
    "commit.retry.num-retries": "10",
    "commit.retry.min-wait-ms": "50",
    "commit.retry.max-wait-ms": "5000",
    "write.parquet.dict-size-bytes": str(2**20),
    "write.metadata.delete-after-commit.enabled": "true",
    "write.metadata.previous-versions-max": "20",
}


def table_properties(properties: Mapping[str, str] | None) -> dict[str, str]:
    """A new table's properties: floe's defaults overridden by the caller's."""
    return {**CREATED_TABLE_DEFAULTS, **(properties or {})}


def as_arrow_schema(identifier: TableIdentifier, schema: object) -> pa.Schema:
    """A new table's schema as Arrow: a PyArrow schema, or an Iceberg ``Schema``.

    An Iceberg schema is converted with its own ``as_arrow()``: names, types,
    nesting and required fields are kept; its field ids are not, the catalog
    assigns fresh ones to a new table (as PyIceberg's ``create_table`` does).

    Raises:
        InvalidSchemaError: Neither, or the conversion failed.
    """
    if isinstance(schema, pa.Schema):
        return schema
    if isinstance(schema, ArrowConvertibleSchema) and not isinstance(schema, type):
        try:
            converted = schema.as_arrow()
        except Exception as exc:  # the schema's own conversion: any error is the schema's
            raise InvalidSchemaError(
                f"cannot convert the {type(schema).__name__} for table {identifier} to "
                f"Arrow ({type(exc).__name__}: {exc})",
                subject=str(identifier),
            ) from exc
        if isinstance(converted, pa.Schema):
            return converted
    raise InvalidSchemaError(
        f"schema of table {identifier} must be a pyarrow.Schema or an Iceberg Schema, "
        f"got {type(schema).__name__}",
        subject=str(identifier),
    )


def prepare_table(
    identifier: TableIdentifier, schema: SchemaLike, partition_spec: Sequence[PartitionLike]
) -> tuple[pa.Schema, tuple[PartitionTransform, ...]]:
    """Check a new table's schema and partition spec; return them in canonical form.

    Raises:
        InvalidSchemaError: Not an Arrow or Iceberg schema, no columns,
            duplicates, unstorable types.
        InvalidPartitionSpecError: A transform does not fit the schema.
    """
    canonical = canonical_schema(as_arrow_schema(identifier, schema))
    description = describe_schema(canonical)
    _check_columns(identifier, description)
    spec = validate_partition_spec(
        as_partition_spec(partition_spec), description, table_name=str(identifier)
    )
    return canonical, spec


class TableService:
    """Create, load, list and drop tables.

    Args:
        catalog: The catalog port to work on.
        store: The table store port (for file and partition inspection).
    """

    def __init__(self, catalog: CatalogPort, store: TableStorePort) -> None:
        self._catalog = catalog
        self._store = store

    def create(
        self,
        table: TableLike,
        schema: SchemaLike,
        partition_spec: Sequence[PartitionLike] = (),
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        """Create an empty table with hidden partitioning.

        Args:
            table: ``"ns.table"`` or a :class:`TableIdentifier`.
            schema: The Arrow schema (mapped onto Iceberg types), or a PyIceberg
                ``Schema`` (converted with its ``as_arrow()``; its field ids are
                not kept: a new table gets fresh ones, as in PyIceberg).
            partition_spec: Partition transforms, e.g. ``["day(ts)", "bucket[8](id)"]``.
            properties: Table properties, on top of
                :data:`CREATED_TABLE_DEFAULTS`.

        Returns:
            The new table.

        Raises:
            InvalidIdentifierError: The name is malformed.
            InvalidPartitionSpecError: A transform does not fit the schema.
            InvalidSchemaError: The schema has an unsupported or duplicate column.
            TableExistsError: It exists already.
            NamespaceNotFoundError: Its namespace does not exist.
        """
        identifier = as_identifier(table)
        canonical, spec = prepare_table(identifier, schema, partition_spec)
        return self._catalog.create_table(identifier, canonical, spec, table_properties(properties))

    def create_if_not_exists(
        self,
        table: TableLike,
        schema: SchemaLike,
        partition_spec: Sequence[PartitionLike] = (),
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        """Create a table unless it exists (then return it as it is); safe under races.

        Raises:
            As :meth:`create`, except :class:`TableExistsError`.
        """
        identifier = as_identifier(table)
        canonical, spec = prepare_table(identifier, schema, partition_spec)
        try:
            return self._catalog.load_table(identifier)
        except TableNotFoundError:
            pass
        try:
            return self._catalog.create_table(
                identifier, canonical, spec, table_properties(properties)
            )
        except TableExistsError:
            return self._catalog.load_table(identifier)

    def register(self, table: TableLike, metadata_location: str) -> TableInfo:
        """Add an existing Iceberg table to the catalog from its metadata file.

        Args:
            table: The name to register it under.
            metadata_location: Its metadata file, e.g. ``TableInfo.metadata_location``.

        Raises:
            TableExistsError: A table of that name exists already.
            NamespaceNotFoundError: The namespace does not exist.
            TableNotFoundError: No table metadata at ``metadata_location``.
        """
        return self._catalog.register_table(as_identifier(table), metadata_location)

    def files(self, table: TableLike) -> list[DataFileInfo]:
        """The data files of the current snapshot: path, partition values, rows, bytes.

        Raises:
            TableNotFoundError: The table does not exist.
        """
        return self._store.inspect_files(as_identifier(table))

    def partitions(self, table: TableLike) -> list[PartitionStats]:
        """Rows, files and bytes per partition of the current snapshot.

        Raises:
            TableNotFoundError: The table does not exist.
        """
        return partition_stats(self.files(table))

    def load(self, table: TableLike) -> TableInfo:
        """Describe a table.

        Raises:
            TableNotFoundError: It does not exist.
        """
        return self._catalog.load_table(as_identifier(table))

    def exists(self, table: TableLike) -> bool:
        """Whether the table exists."""
        try:
            self._catalog.load_table(as_identifier(table))
        except TableNotFoundError:
            return False
        return True

    def list(self, namespace: NamespaceLike) -> list[TableIdentifier]:
        """List tables in a namespace, sorted by name.

        Raises:
            NamespaceNotFoundError: It does not exist.
        """
        return self._catalog.list_tables(as_namespace(namespace))

    def drop(self, table: TableLike, *, purge: bool = False) -> None:
        """Drop a table; with ``purge`` its data and metadata files are deleted too.

        Raises:
            TableNotFoundError: It does not exist.
        """
        self._catalog.drop_table(as_identifier(table), purge=purge)


def _check_columns(identifier: TableIdentifier, description: SchemaDescription) -> None:
    names = description.names
    if not names:
        raise InvalidSchemaError(
            f"table {identifier} needs at least one column", subject=str(identifier)
        )
    if len(set(names)) != len(names):
        raise InvalidSchemaError(
            f"schema of table {identifier} has duplicate column names", subject=str(identifier)
        )
    for column in description.columns:
        if not column.name:
            raise InvalidSchemaError(
                f"schema of table {identifier} has a column without a name", subject=str(identifier)
            )
        if column.type is ColumnType.NULL:
            raise InvalidSchemaError(
                f"column {column.name!r} of table {identifier} holds only nulls, "
                "so its type is unknown: give the schema a type for it",
                subject=str(identifier),
            )
        if column.type is ColumnType.UNSUPPORTED:
            raise InvalidSchemaError(
                f"column {column.name!r} of table {identifier} has a type Iceberg cannot "
                f"store: {column.detail} (decimals stop at precision 38; struct fields "
                "need distinct, non-empty names)",
                subject=str(identifier),
            )
