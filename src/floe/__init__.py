"""floe: Iceberg tables catalogued by Polaris, for Dagster and any orchestrator."""

from typing import TYPE_CHECKING, Any

from floe.api import Floe, build_container, create_catalog
from floe.application import (
    MaintenanceService,
    NamespaceService,
    NewTable,
    ReadService,
    SnapshotService,
    TableService,
    WriteService,
)
from floe.container import FloeContainer
from floe.domain.config import (
    IcebergIOManagerConfig,
    LocalCatalogConfig,
    MemoryCatalogConfig,
    PolarisCatalogConfig,
    RetryConfig,
    Secret,
    catalog_config_from_env,
    load_catalog_config,
)
from floe.domain.errors import (
    CatalogAuthenticationError,
    CatalogConnectionError,
    CatalogError,
    CommitConflictError,
    CommitStateUnknownError,
    FloeStorageError,
    FloeValidationError,
    InvalidConfigError,
    InvalidFilterError,
    InvalidIdentifierError,
    InvalidPartitionSpecError,
    InvalidScanError,
    InvalidSchemaError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    ResponseTooLargeError,
    ScanError,
    SchemaEvolutionError,
    SnapshotNotFoundError,
    TableExistsError,
    TableNotFoundError,
    WriteError,
)
from floe.domain.identifiers import Namespace, TableIdentifier
from floe.domain.models import (
    DataFileInfo,
    ExpireResult,
    MaterializationMetadata,
    NamespaceInfo,
    PartitionStats,
    RetentionPolicy,
    ScanOptions,
    SnapshotInfo,
    WriteMode,
    WriteResult,
)
from floe.domain.partitioning import PartitionTransform, PartitionTransformType
from floe.domain.retention import snapshot_as_of, snapshots_to_expire
from floe.ports import CatalogPort, TableInfo, TableStorePort

if TYPE_CHECKING:
    from floe.adapters.dagster import IcebergIOManager, create_io_manager

# The Dagster integration is imported on first use: ``import floe`` must not import Dagster.
_DAGSTER_NAMES = frozenset({"IcebergIOManager", "create_io_manager"})


def __getattr__(name: str) -> Any:
    if name in _DAGSTER_NAMES:
        from floe.adapters import dagster

        return getattr(dagster, name)
    raise AttributeError(f"module 'floe' has no attribute {name!r}")


__all__ = [
    "CatalogAuthenticationError",
    "CatalogConnectionError",
    "CatalogError",
    "CatalogPort",
    "CommitConflictError",
    "CommitStateUnknownError",
    "DataFileInfo",
    "ExpireResult",
    "Floe",
    "FloeContainer",
    "FloeStorageError",
    "FloeValidationError",
    "IcebergIOManager",
    "IcebergIOManagerConfig",
    "InvalidConfigError",
    "InvalidFilterError",
    "InvalidIdentifierError",
    "InvalidPartitionSpecError",
    "InvalidScanError",
    "InvalidSchemaError",
    "LocalCatalogConfig",
    "MaintenanceService",
    "MaterializationMetadata",
    "MemoryCatalogConfig",
    "Namespace",
    "NamespaceExistsError",
    "NamespaceInfo",
    "NamespaceNotEmptyError",
    "NamespaceNotFoundError",
    "NamespaceService",
    "NewTable",
    "PartitionStats",
    "PartitionTransform",
    "PartitionTransformType",
    "PolarisCatalogConfig",
    "ReadService",
    "ResponseTooLargeError",
    "RetentionPolicy",
    "RetryConfig",
    "ScanError",
    "ScanOptions",
    "SchemaEvolutionError",
    "Secret",
    "SnapshotInfo",
    "SnapshotNotFoundError",
    "SnapshotService",
    "TableExistsError",
    "TableIdentifier",
    "TableInfo",
    "TableNotFoundError",
    "TableService",
    "TableStorePort",
    "WriteError",
    "WriteMode",
    "WriteResult",
    "WriteService",
    "build_container",
    "catalog_config_from_env",
    "create_catalog",
    "create_io_manager",
    "load_catalog_config",
    "snapshot_as_of",
    "snapshots_to_expire",
]
