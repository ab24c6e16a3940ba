"""PyIceberg-backed adapters: Polaris / any Iceberg REST catalog, and the embedded local catalog."""

from floe.adapters.iceberg.catalog import IcebergCatalog
from floe.adapters.iceberg.connect import IcebergBackend, open_local_backend, open_rest_backend
from floe.adapters.iceberg.store import IcebergTableStore

__all__ = [
    "IcebergBackend",
    "IcebergCatalog",
    "IcebergTableStore",
    "open_local_backend",
    "open_rest_backend",
]
