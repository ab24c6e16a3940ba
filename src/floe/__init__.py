"""floe: Iceberg tables catalogued by Polaris, for Dagster and any orchestrator.

Start here::

    import floe

    lake = floe.Floe.from_config({"type": "local", "warehouse_path": ".floe/warehouse"})
    lake.namespaces.create("analytics")
    lake.writes.append("analytics.events", arrow_table,
                       create_if_missing=floe.NewTable(["day(ts)"]))
    lake.reads.scan("analytics.events", row_filter="ts >= '2024-05-01T00:00:00'")

The services, attributes of :class:`Floe`:

- ``lake.namespaces``: create, list, load, drop namespaces, set properties.
- ``lake.tables``: create (from a PyArrow schema), load (a :class:`TableInfo`),
  list, drop, register; ``files`` and ``partitions`` to inspect a table.
- ``lake.writes``: ``append``, ``overwrite`` (all rows or a ``row_filter``),
  ``upsert``, ``delete`` (the rows a ``row_filter`` selects); PyArrow, pandas
  or polars data, each write one commit.
- ``lake.reads``: ``scan``, ``to_pandas``, ``batches`` with ``columns``,
  ``row_filter``, ``snapshot_id``, ``as_of``, ``limit``.
- ``lake.refs``: branches and tags (``create_branch``, ``create_tag``,
  ``list``, ``drop_branch``, ``rollback``) and ``publish`` of a branch onto
  ``main``: write with ``branch=``, read with ``ref=``, then publish
  (write-audit-publish, see ``docs/branches.md``).
- ``lake.snapshots`` (history and time travel) and ``lake.maintenance``
  (``expire_snapshots`` deleting the files no snapshot needs,
  ``remove_orphan_files``, ``health``).

Configs: :class:`PolarisCatalogConfig` (any Iceberg REST catalog),
:class:`LocalCatalogConfig` (embedded SQLite + a directory),
:class:`MemoryCatalogConfig`; or a mapping with a ``type`` key
(:func:`load_catalog_config`), the environment
(:func:`catalog_config_from_env`), or PyIceberg's own ``.pyiceberg.yaml`` /
``PYICEBERG_CATALOG__*`` settings (``Floe.from_pyiceberg("name")``).
Secrets are :class:`Secret` values that never show themselves.

Errors: every failure is a :class:`FloeStorageError`; bad input is a
:class:`FloeValidationError` (raised before anything is sent), catalog
answers are :class:`CatalogError` subclasses (``TableNotFoundError``...),
and a commit whose outcome is unknown is a :class:`CommitStateUnknownError`.

Dagster: ``floe.IcebergIOManager`` / ``floe.create_io_manager`` /
``floe.IcebergIOManagerConfig`` (from ``floe.adapters.dagster``, imported on
first use). The wiring (``floe.container``, ``floe.api``), the ports
(``floe.ports``) and the services' classes (``floe.application``) are
importable from their modules for embedding and tests.
"""

from typing import TYPE_CHECKING, Any

from floe.api import Floe, catalog_config_from_pyiceberg
from floe.application import NewTable
from floe.application.policy_runs import MaintenanceRun
from floe.domain.compaction import CompactResult, ManifestRewriteResult, PartitionCompaction
from floe.domain.config import (
    LocalCatalogConfig,
    MemoryCatalogConfig,
    PolarisCatalogConfig,
    RetryConfig,
    Secret,
    catalog_config_from_env,
    load_catalog_config,
)
from floe.domain.errors import (
    BranchDivergedError,
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
    InvalidPolicyError,
    InvalidRefError,
    InvalidScanError,
    InvalidSchemaError,
    MissingExtraError,
    NamespaceExistsError,
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    PurgeDisabledError,
    RefExistsError,
    RefNotFoundError,
    ResponseTooLargeError,
    ScanError,
    SchemaEvolutionError,
    SnapshotNotFoundError,
    TableExistsError,
    TableNotFoundError,
    UnknownPropertyWarning,
    WriteError,
)
from floe.domain.health import TableHealth
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import (
    DataFileInfo,
    ExpireResult,
    NamespaceInfo,
    PartitionStats,
    SnapshotInfo,
    WriteMode,
)
from floe.domain.partitioning import PartitionTransform
from floe.domain.policies import TablePolicies
from floe.domain.refs import PublishKind, PublishResult, Ref, RefKind, RefRetention
from floe.domain.table_files import FileKind, FilesDeleted, OrphanFilesResult
from floe.ports import TableInfo, WriteResult

if TYPE_CHECKING:
    from floe.adapters.dagster import IcebergIOManager, IcebergIOManagerConfig, create_io_manager

# The Dagster integration is imported on first use: ``import floe`` must not import Dagster.
_DAGSTER_NAMES = frozenset({"IcebergIOManager", "IcebergIOManagerConfig", "create_io_manager"})

# Names the package once exported, and where they live now.
_MOVED = {
    "FloeContainer": "floe.container",
    "build_container": "floe.api",
    "create_catalog": "floe.api",
    "CatalogPort": "floe.ports",
    "TableStorePort": "floe.ports",
    "NamespaceService": "floe.application",
    "TableService": "floe.application",
    "WriteService": "floe.application",
    "ReadService": "floe.application",
    "SnapshotService": "floe.application",
    "MaintenanceService": "floe.application",
    "Namespace": "floe.domain.identifiers",
    "MaterializationMetadata": "floe.adapters.dagster._materialization",
    "RetentionPolicy": "floe.domain.models",
    "ScanOptions": "floe.domain.models",
    "PartitionTransformType": "floe.domain.partitioning",
    "snapshot_as_of": "floe.domain.retention",
    "snapshots_to_expire": "floe.domain.retention",
}


def __getattr__(name: str) -> Any:
    if name in _DAGSTER_NAMES:
        from floe.adapters import dagster

        return getattr(dagster, name)
    if name in _MOVED:
        raise AttributeError(
            f"module 'floe' has no attribute {name!r}: it is not part of the public API; "
            f"import it from {_MOVED[name]}"
        )
    raise AttributeError(f"module 'floe' has no attribute {name!r}")


__all__ = [
    "BranchDivergedError",
    "CatalogAuthenticationError",
    "CatalogConnectionError",
    "CatalogError",
    "CommitConflictError",
    "CommitStateUnknownError",
    "CompactResult",
    "DataFileInfo",
    "ExpireResult",
    "FileKind",
    "FilesDeleted",
    "Floe",
    "FloeStorageError",
    "FloeValidationError",
    "IcebergIOManager",
    "IcebergIOManagerConfig",
    "InvalidConfigError",
    "InvalidFilterError",
    "InvalidIdentifierError",
    "InvalidPartitionSpecError",
    "InvalidPolicyError",
    "InvalidRefError",
    "InvalidScanError",
    "InvalidSchemaError",
    "LocalCatalogConfig",
    "MaintenanceRun",
    "ManifestRewriteResult",
    "MemoryCatalogConfig",
    "MissingExtraError",
    "NamespaceExistsError",
    "NamespaceInfo",
    "NamespaceNotEmptyError",
    "NamespaceNotFoundError",
    "NewTable",
    "OrphanFilesResult",
    "PartitionCompaction",
    "PartitionStats",
    "PartitionTransform",
    "PolarisCatalogConfig",
    "PublishKind",
    "PublishResult",
    "PurgeDisabledError",
    "Ref",
    "RefExistsError",
    "RefKind",
    "RefNotFoundError",
    "RefRetention",
    "ResponseTooLargeError",
    "RetryConfig",
    "ScanError",
    "SchemaEvolutionError",
    "Secret",
    "SnapshotInfo",
    "SnapshotNotFoundError",
    "TableExistsError",
    "TableHealth",
    "TableIdentifier",
    "TableInfo",
    "TableNotFoundError",
    "TablePolicies",
    "UnknownPropertyWarning",
    "WriteError",
    "WriteMode",
    "WriteResult",
    "catalog_config_from_env",
    "catalog_config_from_pyiceberg",
    "create_io_manager",
    "load_catalog_config",
]
