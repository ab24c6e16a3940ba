"""The embedded catalog: PyIceberg's SQL catalog on SQLite, made safe to race and to nest.

PyIceberg 0.12's ``SqlCatalog`` falls short of the catalog port in three
places, each fixed here at the PyIceberg boundary:

* Several processes opening a brand-new warehouse at once race in the
  catalog's table setup (``CREATE TABLE`` after a check): the loser fails
  with ``table iceberg_tables already exists``. Setup is retried, and the
  retry finds the tables the winner made.
* Two processes creating the same namespace race the same way and the loser
  gets SQLAlchemy's raw ``IntegrityError``: it is the
  ``NamespaceAlreadyExistsError`` any other catalog answers.
* Creating a table with data in one commit (``create_table_transaction``)
  accepts only one-level namespaces, although ``create_table`` and every
  other call take nested ones: the staged table is built here the way
  ``create_table`` builds a table, for namespaces of any depth.

``_create_staged_table`` is a private PyIceberg method (pinned by the
``<0.13`` bound); the catalog contract tests create tables with data in
nested namespaces on this catalog, so a change upstream fails them.
"""

from __future__ import annotations

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchNamespaceError
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import StagedTable, TableProperties
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortOrder
from pyiceberg.typedef import EMPTY_DICT, Identifier, Properties
from sqlalchemy.exc import IntegrityError, OperationalError

#: How often the catalog's table setup is tried when another process races it.
SETUP_ATTEMPTS = 5


class EmbeddedSqlCatalog(SqlCatalog):
    """PyIceberg's SQL catalog with race-safe setup, namespaces and nested staged creates."""

    def create_tables(self) -> None:
        """Create the catalog's tables unless they exist; safe when processes race.

        SQLAlchemy checks for each table, then creates it; another process may
        create it in between. The next try sees it and skips it.
        """
        for attempt in range(1, SETUP_ATTEMPTS + 1):
            try:
                super().create_tables()
                return
            except OperationalError as exc:
                if "already exists" not in str(exc) or attempt == SETUP_ATTEMPTS:
                    raise

    def create_namespace(
        self, namespace: str | Identifier, properties: Properties = EMPTY_DICT
    ) -> None:
        """Create ``namespace``; a concurrent create of the same one is "already exists"."""
        try:
            super().create_namespace(namespace, properties)
        except IntegrityError as exc:
            raise NamespaceAlreadyExistsError(f"Namespace {namespace} already exists") from exc

    def _create_staged_table(
        self,
        identifier: str | Identifier,
        schema: Schema | pa.Schema,
        location: str | None = None,
        partition_spec: PartitionSpec = UNPARTITIONED_PARTITION_SPEC,
        sort_order: SortOrder = UNSORTED_SORT_ORDER,
        properties: Properties = EMPTY_DICT,
    ) -> StagedTable:
        """The table ``create_table`` would make, staged for a transaction, at any depth."""
        version = int(
            properties.get(TableProperties.FORMAT_VERSION, TableProperties.DEFAULT_FORMAT_VERSION)
        )
        iceberg: Schema = self._convert_schema_if_needed(
            schema,
            version,  # type: ignore[arg-type]
        )
        parts = Catalog.identifier_to_tuple(identifier)
        namespace = Catalog.namespace_from(parts)
        if not self.namespace_exists(namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {namespace}")
        table_name = Catalog.table_name_from(parts)
        location = self._resolve_table_location(
            location, Catalog.namespace_to_string(namespace), table_name
        )
        provider = load_location_provider(table_location=location, table_properties=properties)
        metadata_location = provider.new_table_metadata_file_location()
        metadata = new_table_metadata(
            location=location,
            schema=iceberg,
            partition_spec=partition_spec,
            sort_order=sort_order,
            properties=properties,
        )
        return StagedTable(
            identifier=parts,
            metadata=metadata,
            metadata_location=metadata_location,
            io=load_file_io(properties=self.properties, location=metadata_location),
            catalog=self,
        )
