"""A faithful in-memory implementation of the catalog and table store ports."""

from floe.adapters.memory.catalog import MemoryCatalog
from floe.adapters.memory.state import MemoryWarehouse
from floe.adapters.memory.store import MemoryTableStore

__all__ = ["MemoryCatalog", "MemoryTableStore", "MemoryWarehouse"]
