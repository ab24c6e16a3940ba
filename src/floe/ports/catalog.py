"""The catalog port: namespaces and the lifecycle of tables."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

import attrs
import pyarrow as pa

from floe.domain.identifiers import Namespace, TableIdentifier
from floe.domain.models import NamespaceInfo
from floe.domain.partitioning import PartitionTransform


@attrs.frozen
class TableInfo:
    """A table as the catalog describes it.

    Attributes:
        identifier: The table.
        schema: Its current schema as Arrow (the types scans return).
        partition_spec: Its current partition fields.
        properties: Table properties.
        location: Where the table's files live.
        current_snapshot_id: The current snapshot, ``None`` before the first write.
        metadata_location: The current metadata file (what ``register_table`` takes).
        handle: The adapter's own view of the loaded table, opaque to everyone
            else: a write handed this ``TableInfo`` starts from it instead of
            loading the table again. Not part of equality or ``repr``.
    """

    identifier: TableIdentifier
    schema: pa.Schema
    partition_spec: tuple[PartitionTransform, ...]
    properties: Mapping[str, str]
    location: str
    current_snapshot_id: int | None
    metadata_location: str | None = None
    handle: object = attrs.field(default=None, eq=False, repr=False, kw_only=True)


class CatalogPort(abc.ABC):
    """Namespaces and table lifecycle in an Iceberg catalog.

    Every adapter gives the semantics of Apache Polaris, whatever its backend
    tolerates. Arguments are validated domain values. No method raises
    anything but :class:`floe.domain.errors.FloeStorageError` subclasses.
    """

    @abc.abstractmethod
    def create_namespace(
        self, namespace: Namespace, properties: Mapping[str, str] | None = None
    ) -> NamespaceInfo:
        """Create one namespace; its parent must exist.

        Raises:
            NamespaceExistsError: It exists already (not idempotent).
            NamespaceNotFoundError: Its parent does not exist.
        """

    @abc.abstractmethod
    def list_namespaces(self, parent: Namespace = ()) -> list[Namespace]:
        """List the direct children of ``parent`` (top level for ``()``), sorted.

        Raises:
            NamespaceNotFoundError: ``parent`` does not exist.
        """

    @abc.abstractmethod
    def load_namespace(self, namespace: Namespace) -> NamespaceInfo:
        """Return a namespace with its properties.

        Raises:
            NamespaceNotFoundError: It does not exist.
        """

    @abc.abstractmethod
    def drop_namespace(self, namespace: Namespace) -> None:
        """Drop an empty namespace.

        Raises:
            NamespaceNotFoundError: It does not exist.
            NamespaceNotEmptyError: It holds tables or child namespaces.
        """

    @abc.abstractmethod
    def update_namespace_properties(
        self,
        namespace: Namespace,
        updates: Mapping[str, str] | None = None,
        removals: Sequence[str] = (),
    ) -> NamespaceInfo:
        """Set and remove properties; removing an absent key is a no-op.

        Returns:
            The namespace with its properties after the change.

        Raises:
            NamespaceNotFoundError: It does not exist.
        """

    @abc.abstractmethod
    def create_table(
        self,
        identifier: TableIdentifier,
        schema: pa.Schema,
        partition_spec: Sequence[PartitionTransform] = (),
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        """Create an empty table (no snapshot). The spec is already validated.

        Raises:
            TableExistsError: It exists already (not idempotent).
            NamespaceNotFoundError: Its namespace does not exist.
        """

    @abc.abstractmethod
    def register_table(self, identifier: TableIdentifier, metadata_location: str) -> TableInfo:
        """Add an existing table to the catalog from its metadata file.

        Raises:
            TableExistsError: A table of that name exists already.
            NamespaceNotFoundError: Its namespace does not exist.
            TableNotFoundError: No table metadata at ``metadata_location``.
        """

    @abc.abstractmethod
    def load_table(self, identifier: TableIdentifier) -> TableInfo:
        """Describe a table.

        Raises:
            TableNotFoundError: It does not exist.
        """

    @abc.abstractmethod
    def list_tables(self, namespace: Namespace) -> list[TableIdentifier]:
        """List the tables directly in ``namespace``, sorted by name.

        Raises:
            NamespaceNotFoundError: It does not exist.
        """

    @abc.abstractmethod
    def drop_table(self, identifier: TableIdentifier, *, purge: bool = False) -> None:
        """Remove a table from the catalog; with ``purge`` delete its files too.

        Raises:
            TableNotFoundError: It does not exist.
        """

    @abc.abstractmethod
    def is_connected(self) -> bool:
        """Whether the catalog answers now. Never raises."""

    @abc.abstractmethod
    def reconnect(self) -> None:
        """Drop sessions and tokens and authenticate again.

        Raises:
            CatalogConnectionError: The catalog cannot be reached.
            CatalogAuthenticationError: The credentials are rejected.
        """
