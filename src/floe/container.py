"""The composition root: the one place that knows concrete adapter classes."""

from __future__ import annotations

from dependency_injector import containers, providers

from floe.adapters.iceberg import (
    IcebergCatalog,
    IcebergTableStore,
    open_local_backend,
    open_rest_backend,
)
from floe.adapters.memory import MemoryCatalog, MemoryTableStore, MemoryWarehouse
from floe.application import (
    MaintenanceService,
    NamespaceService,
    ReadService,
    SnapshotService,
    TableService,
    WriteService,
)
from floe.domain.config import CatalogConfig, MemoryCatalogConfig


def _backend(config: CatalogConfig) -> str:
    return type(config).__name__


class FloeContainer(containers.DeclarativeContainer):
    """Wires the application services over the adapter the catalog config selects.

    Override ``catalog_config`` to choose the catalog; tests override
    ``catalog``/``store`` providers to inject doubles.
    """

    catalog_config = providers.Object(MemoryCatalogConfig())
    backend = providers.Callable(_backend, catalog_config)

    memory_warehouse = providers.Singleton(MemoryWarehouse)
    iceberg_backend = providers.Selector(
        backend,
        LocalCatalogConfig=providers.Singleton(open_local_backend, catalog_config),
        PolarisCatalogConfig=providers.Singleton(open_rest_backend, catalog_config),
    )

    catalog = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(MemoryCatalog, memory_warehouse),
        LocalCatalogConfig=providers.Singleton(IcebergCatalog, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(IcebergCatalog, iceberg_backend),
    )
    store = providers.Selector(
        backend,
        MemoryCatalogConfig=providers.Singleton(MemoryTableStore, memory_warehouse),
        LocalCatalogConfig=providers.Singleton(IcebergTableStore, iceberg_backend),
        PolarisCatalogConfig=providers.Singleton(IcebergTableStore, iceberg_backend),
    )

    namespaces = providers.Singleton(NamespaceService, catalog)
    tables = providers.Singleton(TableService, catalog, store)
    writes = providers.Singleton(WriteService, catalog, store)
    snapshots = providers.Singleton(SnapshotService, catalog, store)
    reads = providers.Singleton(ReadService, store, snapshots)
    maintenance = providers.Singleton(MaintenanceService, catalog, store)
