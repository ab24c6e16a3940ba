"""Dagster integration: an IO manager storing assets as floe (Iceberg) tables."""

from floe.adapters.dagster.io_manager import IcebergIOManager, create_io_manager

__all__ = ["IcebergIOManager", "create_io_manager"]
