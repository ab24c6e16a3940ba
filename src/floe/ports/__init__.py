"""Abstract ports the application depends on; adapters implement them."""

from floe.ports.catalog import CatalogPort, TableInfo
from floe.ports.table_store import TableStorePort, WriteResult

__all__ = ["CatalogPort", "TableInfo", "TableStorePort", "WriteResult"]
