"""PyIceberg-backed adapters: Polaris / any Iceberg REST catalog, and the embedded local catalog."""

from floe.adapters.iceberg.catalog import IcebergCatalog
from floe.adapters.iceberg.connect import open_local_catalog, open_rest_catalog
from floe.adapters.iceberg.store import IcebergTableStore

__all__ = ["IcebergCatalog", "IcebergTableStore", "open_local_catalog", "open_rest_catalog"]
