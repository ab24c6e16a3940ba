"""CatalogPort over a PyIceberg catalog (REST/Polaris or the embedded SQL catalog)."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence

import pyarrow as pa
from pyiceberg import exceptions as ice
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table

from floe.adapters.filters import iceberg_schema
from floe.adapters.iceberg.connect import IcebergBackend
from floe.adapters.iceberg.guard import answered_status
from floe.adapters.iceberg.vended import vends_credentials
from floe.adapters.iceberg_model import arrow_schema, build_partition_spec, describe_spec
from floe.domain.errors import (
    NamespaceExistsError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    PurgeDisabledError,
    TableExistsError,
    TableNotFoundError,
)
from floe.domain.identifiers import Namespace, TableIdentifier, format_namespace
from floe.domain.models import NamespaceInfo
from floe.domain.partitioning import PartitionTransform
from floe.ports.catalog import CatalogPort, TableInfo

#: Properties some catalogs add to every namespace; not the user's.
_INTERNAL_NAMESPACE_PROPERTIES = frozenset({"exists"})


def _is_as_created(
    table: Table, schema: Schema, spec: PartitionSpec, properties: Mapping[str, str]
) -> bool:
    """Whether ``table`` is what a create with these arguments leaves: nothing more.

    After a create request whose answer was lost (a reset, a 5xx), the retry
    finds the table. If it has exactly the requested schema and partitioning,
    carries the requested properties and holds no snapshot, the lost answer
    was this call's success; an identical empty table created by someone
    else in that instant is indistinguishable, and equally what was asked.
    """
    current = table.schema()
    return (
        table.current_snapshot() is None
        and arrow_schema(current) == arrow_schema(schema)
        and describe_spec(table.spec(), current) == describe_spec(spec, schema)
        and properties.items() <= table.properties.items()
    )


def _user_properties(properties: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in properties.items() if k not in _INTERNAL_NAMESPACE_PROPERTIES}


class IcebergCatalog(CatalogPort):
    """Namespaces and tables in a PyIceberg catalog, with Polaris semantics.

    Some catalogs are laxer than Polaris (a duplicate create that succeeds, a
    namespace dropped with children, a nested namespace without its
    parent); the checks here give Polaris' answer whatever the backend.
    Against Polaris itself (:attr:`IcebergBackend.server_checks`) they are
    left to the server, which answers 404/409 on its own: looking first
    would need list and read privileges that a principal granted only
    what it does lacks.

    Args:
        backend: The PyIceberg catalog and the guard every call goes through.
    """

    def __init__(self, backend: IcebergBackend) -> None:
        self._backend = backend
        self._guard = backend.guard
        self._describe = backend.describe

    def _namespace_exists(self, namespace: Namespace) -> bool:
        try:
            self._backend.catalog.load_namespace_properties(namespace)
        except NoSuchNamespaceError:
            return False
        return True

    def create_namespace(
        self, namespace: Namespace, properties: Mapping[str, str] | None = None
    ) -> NamespaceInfo:
        name = format_namespace(namespace)
        wanted = dict(properties or {})
        unsure = False  # an earlier attempt's create request failed: it may have landed

        no_parent = NamespaceNotFoundError(
            f"cannot create namespace {name}: its parent "
            f"{format_namespace(namespace[:-1])} does not exist",
            subject=name,
        )

        def exists_already() -> NamespaceInfo:
            found = self.load_namespace(namespace) if unsure else None
            if found is not None and wanted.items() <= found.properties.items():
                return found  # this call's own create, whose answer was lost
            raise NamespaceExistsError(f"namespace {name} already exists", subject=name)

        def call() -> NamespaceInfo:
            nonlocal unsure
            checked = not self._backend.server_checks
            if checked and len(namespace) > 1 and not self._namespace_exists(namespace[:-1]):
                raise no_parent
            if checked and self._namespace_exists(namespace):
                return exists_already()
            try:
                self._backend.catalog.create_namespace(namespace, wanted)
            except ice.NamespaceAlreadyExistsError:
                return exists_already()
            except ice.RESTError as exc:
                if answered_status(exc) == 404:  # PyIceberg types no 404 here: Polaris' parent
                    raise no_parent from None
                unsure = True
                raise
            except Exception:
                unsure = True
                raise
            return NamespaceInfo(
                namespace,
                _user_properties(self._backend.catalog.load_namespace_properties(namespace)),
            )

        return self._guard.run("create namespace", name, call)

    def list_namespaces(self, parent: Namespace = ()) -> list[Namespace]:
        name = format_namespace(parent) or "<top level>"

        def call() -> list[Namespace]:
            checked = not self._backend.server_checks
            if checked and parent and not self._namespace_exists(parent):
                raise NamespaceNotFoundError(f"namespace {name} does not exist", subject=name)
            found = self._backend.catalog.list_namespaces(parent)
            depth = len(parent) + 1
            return sorted(
                tuple(ns) for ns in found if len(ns) == depth and tuple(ns[: len(parent)]) == parent
            )

        return self._guard.run("list namespaces of", name, call)

    def load_namespace(self, namespace: Namespace) -> NamespaceInfo:
        name = format_namespace(namespace)

        def call() -> NamespaceInfo:
            return NamespaceInfo(
                namespace,
                _user_properties(self._backend.catalog.load_namespace_properties(namespace)),
            )

        return self._guard.run("load namespace", name, call)

    def drop_namespace(self, namespace: Namespace) -> None:
        name = format_namespace(namespace)
        unsure = False  # an earlier attempt's drop request failed: it may have landed

        def call() -> None:
            nonlocal unsure
            if unsure and not self._namespace_exists(namespace):
                return  # this call's own drop, whose answer was lost
            if self._backend.server_checks:
                try:
                    self._backend.catalog.drop_namespace(namespace)
                except ice.NamespaceNotEmptyError:
                    raise NamespaceNotEmptyError(
                        f"namespace {name} is not empty (it holds tables or namespaces)",
                        subject=name,
                    ) from None
                except NoSuchNamespaceError:
                    raise
                except Exception:
                    unsure = True
                    raise
                return
            children = self._backend.catalog.list_namespaces(namespace)
            children = [c for c in children if tuple(c) != namespace]
            tables = self._backend.catalog.list_tables(namespace)
            if children or tables:
                raise NamespaceNotEmptyError(
                    f"namespace {name} is not empty "
                    f"({len(tables)} table(s), {len(children)} namespace(s))",
                    subject=name,
                )
            try:
                self._backend.catalog.drop_namespace(namespace)
            except Exception:
                unsure = True
                raise

        return self._guard.run("drop namespace", name, call)

    def update_namespace_properties(
        self,
        namespace: Namespace,
        updates: Mapping[str, str] | None = None,
        removals: Sequence[str] = (),
    ) -> NamespaceInfo:
        name = format_namespace(namespace)

        def call() -> NamespaceInfo:
            current = self._backend.catalog.load_namespace_properties(namespace)
            present = {k for k in removals if k in current}
            if present or updates:
                self._backend.catalog.update_namespace_properties(
                    namespace, removals=present, updates=dict(updates or {})
                )
            return NamespaceInfo(
                namespace,
                _user_properties(self._backend.catalog.load_namespace_properties(namespace)),
            )

        return self._guard.run("update properties of namespace", name, call)

    def create_table(
        self,
        identifier: TableIdentifier,
        schema: pa.Schema,
        partition_spec: Sequence[PartitionTransform] = (),
        properties: Mapping[str, str] | None = None,
    ) -> TableInfo:
        name = str(identifier)
        wanted = dict(properties or {})
        unsure = False  # an earlier attempt's create request failed: it may have landed

        no_namespace = NamespaceNotFoundError(
            f"cannot create table {name}: namespace "
            f"{format_namespace(identifier.namespace)} does not exist",
            subject=name,
        )

        def call() -> TableInfo:
            nonlocal unsure
            checked = not self._backend.server_checks
            if checked and not self._namespace_exists(identifier.namespace):
                raise no_namespace
            ice_schema = iceberg_schema(schema)
            spec = build_partition_spec(tuple(partition_spec), ice_schema)

            def exists_already() -> TableInfo:
                if unsure:
                    found = self._backend.catalog.load_table(identifier.parts)
                    if _is_as_created(found, ice_schema, spec, wanted):
                        return self._describe(identifier, found)
                raise TableExistsError(f"table {name} already exists", subject=name)

            if checked and self._backend.catalog.table_exists(identifier.parts):
                return exists_already()
            try:
                table = self._backend.catalog.create_table(
                    identifier.parts, schema=ice_schema, partition_spec=spec, properties=wanted
                )
            except ice.TableAlreadyExistsError:
                return exists_already()
            except NoSuchNamespaceError:
                raise no_namespace from None
            except Exception:
                unsure = True
                raise
            return self._describe(identifier, table)

        return self._guard.run("create table", name, call)

    def register_table(self, identifier: TableIdentifier, metadata_location: str) -> TableInfo:
        name = str(identifier)

        def call() -> TableInfo:
            if not self._namespace_exists(identifier.namespace):
                raise NamespaceNotFoundError(
                    f"cannot register table {name}: namespace "
                    f"{format_namespace(identifier.namespace)} does not exist",
                    subject=name,
                )
            if self._backend.catalog.table_exists(identifier.parts):
                raise TableExistsError(f"table {name} already exists", subject=name)
            catalog = self._backend.catalog
            missing = TableNotFoundError(
                f"cannot register table {name}: no table metadata at {metadata_location}",
                subject=name,
            )
            # With vended credentials storage access comes with a table, so
            # there is none to look with before it is registered: the catalog
            # reads the metadata file itself and answers for it.
            if not vends_credentials(catalog):
                io = load_file_io(catalog.properties, metadata_location)
                if not io.new_input(metadata_location).exists():
                    raise missing
            try:
                table = catalog.register_table(identifier.parts, metadata_location)
            except (FileNotFoundError, ice.NoSuchTableError) as exc:
                # Some catalogs record the name before reading the metadata: undo that.
                with contextlib.suppress(Exception):
                    catalog.drop_table(identifier.parts)
                raise missing from exc
            except ice.BadRequestError as exc:
                # The catalog could not read the metadata file (the only thing
                # in the request it has to look up); it registered nothing.
                raise TableNotFoundError(
                    f"{missing} (the catalog says: {exc})", subject=name
                ) from exc
            return self._describe(identifier, table)

        return self._guard.run("register table", name, call)

    def load_table(self, identifier: TableIdentifier) -> TableInfo:
        def call() -> TableInfo:
            return self._describe(identifier, self._backend.catalog.load_table(identifier.parts))

        return self._guard.run("load table", str(identifier), call)

    def list_tables(self, namespace: Namespace) -> list[TableIdentifier]:
        name = format_namespace(namespace)

        def call() -> list[TableIdentifier]:
            if not self._backend.server_checks and not self._namespace_exists(namespace):
                raise NamespaceNotFoundError(f"namespace {name} does not exist", subject=name)
            found = self._backend.catalog.list_tables(namespace)
            return sorted(
                (TableIdentifier.from_parts(tuple(t)) for t in found if tuple(t[:-1]) == namespace),
                key=lambda t: t.name,
            )

        return self._guard.run("list tables of namespace", name, call)

    def drop_table(self, identifier: TableIdentifier, *, purge: bool = False) -> None:
        unsure = False  # an earlier attempt's drop request failed: it may have landed

        def call() -> None:
            nonlocal unsure
            if unsure and not self._backend.catalog.table_exists(identifier.parts):
                return  # this call's own drop, whose answer was lost
            try:
                if purge:
                    self._backend.catalog.purge_table(identifier.parts)
                else:
                    self._backend.catalog.drop_table(identifier.parts)
            except ice.ForbiddenError as exc:
                if purge and "purge" in str(exc).lower():
                    raise PurgeDisabledError(
                        f"cannot drop table {identifier} with purge: purge is disabled on this "
                        "catalog (Polaris: DROP_WITH_PURGE_ENABLED, or the catalog property "
                        "polaris.config.drop-with-purge.enabled); the table is unchanged. "
                        "Drop it without purge, or ask the catalog's administrator to enable it",
                        subject=str(identifier),
                    ) from None
                raise
            except Exception:
                unsure = True
                raise

        return self._guard.run("drop table", str(identifier), call)

    def is_connected(self) -> bool:
        # Asked past the guard, so an open circuit cannot hide a server that is
        # back; its answer closes the circuit, so the next call is not refused unasked.
        try:
            self._backend.catalog.list_namespaces()
        except Exception:  # is_connected answers, it never raises
            return False
        self._guard.breaker.reset()
        return True

    def reconnect(self) -> None:
        # The reset (session, token, circuit) comes before the guard: an open
        # circuit would refuse the very call that checks the server again.
        self._backend.reset()

        def call() -> None:
            self._backend.catalog.list_namespaces()

        return self._guard.run("reconnect to", self._backend.name, call)
