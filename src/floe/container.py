"""The composition root: the one place that knows concrete adapter classes.

Each adapter is imported by the provider that builds it, on first use:
``import floe`` imports neither PyIceberg nor the in-memory adapter, and
building floe over one catalog imports only that catalog's adapter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from floe.application import (
    MaintenanceService,
    NamespaceService,
    ReadService,
    RefService,
    SnapshotService,
    TableService,
    WriteService,
)
from floe.domain.config import (
    CatalogConfig,
    LocalCatalogConfig,
    MemoryCatalogConfig,
    PolarisCatalogConfig,
)
from floe.ports.catalog import CatalogPort
from floe.ports.engines import DuckDBPort, RayPort
from floe.ports.policies import PolicyPort
from floe.ports.table_files import TableFilesPort
from floe.ports.table_store import TableStorePort

if TYPE_CHECKING:
    from floe.adapters.iceberg import IcebergBackend
    from floe.adapters.memory import MemoryWarehouse


def _backend(config: CatalogConfig) -> str:
    return type(config).__name__


def _memory_warehouse() -> MemoryWarehouse:
    from floe.adapters.memory import MemoryWarehouse

    return MemoryWarehouse()


def _memory_catalog(warehouse: MemoryWarehouse) -> CatalogPort:
    from floe.adapters.memory import MemoryCatalog

    return MemoryCatalog(warehouse)


def _memory_store(warehouse: MemoryWarehouse) -> TableStorePort:
    from floe.adapters.memory import MemoryTableStore

    return MemoryTableStore(warehouse)


def _local_backend(config: LocalCatalogConfig) -> IcebergBackend:
    from floe.adapters.iceberg import open_local_backend

    return open_local_backend(config)


def _rest_backend(config: PolarisCatalogConfig) -> IcebergBackend:
    from floe.adapters.iceberg import open_rest_backend

    return open_rest_backend(config)


def _iceberg_catalog(backend: IcebergBackend) -> CatalogPort:
    from floe.adapters.iceberg import IcebergCatalog

    return IcebergCatalog(backend)


def _iceberg_store(backend: IcebergBackend) -> TableStorePort:
    from floe.adapters.iceberg import IcebergTableStore

    return IcebergTableStore(backend)


def _memory_table_files(warehouse: MemoryWarehouse) -> TableFilesPort:
    from floe.adapters.memory.table_files import MemoryTableFiles

    return MemoryTableFiles(warehouse)


def _memory_policies() -> PolicyPort:
    from floe.adapters.memory.policies import MemoryPolicies

    return MemoryPolicies()


def _local_policies() -> PolicyPort:
    from floe.adapters.iceberg.policies import NoPolicies

    return NoPolicies()


def _rest_policies(backend: IcebergBackend) -> PolicyPort:
    from floe.adapters.iceberg.policies import RestPolicies

    return RestPolicies(backend)


def _iceberg_table_files(backend: IcebergBackend) -> TableFilesPort:
    from floe.adapters.iceberg.table_files import IcebergTableFiles

    return IcebergTableFiles(backend)


def _memory_duckdb(store: TableStorePort) -> DuckDBPort:
    from floe.adapters.memory.duckdb import MemoryDuckDB

    return MemoryDuckDB(store)


def _iceberg_duckdb(backend: IcebergBackend) -> DuckDBPort:
    from floe.adapters.iceberg.duckdb import IcebergDuckDB

    return IcebergDuckDB(backend)


def _memory_ray(store: TableStorePort) -> RayPort:
    from floe.adapters.memory.ray import MemoryRay

    return MemoryRay(store)


def _iceberg_ray(backend: IcebergBackend) -> RayPort:
    from floe.adapters.iceberg.ray import IcebergRay

    return IcebergRay(backend)


class FloeContainer(containers.DeclarativeContainer):
    """Wires the application services over the adapter the catalog config selects.

    Override ``catalog_config`` to choose the catalog; tests override
    ``catalog``/``store`` providers to inject doubles.
    """

    catalog_config = providers.Object(MemoryCatalogConfig())
    backend = providers.Callable(_backend, catalog_config)

    memory_warehouse = providers.Singleton(_memory_warehouse)
    iceberg_backend = providers.Selector(
        backend,
        LocalCatalogConfig=providers.Singleton(_local_backend, catalog_config),
        PolarisCatalogConfig=providers.Singleton(_rest_backend, catalog_config),
    )

    catalog = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(_memory_catalog, memory_warehouse),
        LocalCatalogConfig=providers.Singleton(_iceberg_catalog, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(_iceberg_catalog, iceberg_backend),
    )
    store = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(_memory_store, memory_warehouse),
        LocalCatalogConfig=providers.Singleton(_iceberg_store, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(_iceberg_store, iceberg_backend),
    )

    table_files = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(_memory_table_files, memory_warehouse),
        LocalCatalogConfig=providers.Singleton(_iceberg_table_files, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(_iceberg_table_files, iceberg_backend),
    )

    policies = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(_memory_policies),
        LocalCatalogConfig=providers.Singleton(_local_policies),
        PolarisCatalogConfig=providers.Singleton(_rest_policies, iceberg_backend),
    )

    duckdb = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(_memory_duckdb, store),
        LocalCatalogConfig=providers.Singleton(_iceberg_duckdb, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(_iceberg_duckdb, iceberg_backend),
    )

    ray = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(_memory_ray, store),
        LocalCatalogConfig=providers.Singleton(_iceberg_ray, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(_iceberg_ray, iceberg_backend),
    )

    namespaces = providers.Singleton(NamespaceService, catalog)
    tables = providers.Singleton(TableService, catalog, store)
    writes = providers.Singleton(WriteService, catalog, store, ray=ray)
    snapshots = providers.Singleton(SnapshotService, catalog, store)
    reads = providers.Singleton(ReadService, store, snapshots, duckdb=duckdb, ray=ray)
    refs = providers.Singleton(RefService, store)
    maintenance = providers.Singleton(
        MaintenanceService, catalog, store, table_files, policies=policies
    )
