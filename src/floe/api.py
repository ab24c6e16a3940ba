"""Entry points: build floe over a catalog from its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from floe.application import (
    MaintenanceService,
    NamespaceService,
    ReadService,
    SnapshotService,
    TableService,
    WriteService,
)
from floe.container import FloeContainer
from floe.domain.config import CatalogConfig, load_catalog_config
from floe.ports.catalog import CatalogPort


def _as_config(config: CatalogConfig | Mapping[str, Any]) -> CatalogConfig:
    if isinstance(config, Mapping):
        return load_catalog_config(config)
    return config


def build_container(config: CatalogConfig | Mapping[str, Any]) -> FloeContainer:
    """A container wired for ``config`` (a config object or a plain mapping)."""
    container = FloeContainer()
    container.catalog_config.override(_as_config(config))
    return container


def create_catalog(config: CatalogConfig | Mapping[str, Any]) -> CatalogPort:
    """The catalog port for a configuration.

    Args:
        config: A :class:`~floe.domain.config.PolarisCatalogConfig`,
            :class:`~floe.domain.config.LocalCatalogConfig`,
            :class:`~floe.domain.config.MemoryCatalogConfig`, or a mapping
            with a ``type`` key (see :func:`floe.load_catalog_config`).

    Raises:
        InvalidConfigError: The configuration is invalid.
    """
    catalog: CatalogPort = build_container(config).catalog()
    return catalog


@attrs.frozen
class Floe:
    """Every floe use case over one catalog.

    Attributes:
        catalog: The catalog port itself.
        namespaces: Namespace use cases.
        tables: Table lifecycle use cases.
        writes: Append, overwrite, upsert.
        reads: Scans.
        snapshots: Snapshots and time travel.
        maintenance: Snapshot expiry.
    """

    catalog: CatalogPort
    namespaces: NamespaceService
    tables: TableService
    writes: WriteService
    reads: ReadService
    snapshots: SnapshotService
    maintenance: MaintenanceService

    @classmethod
    def from_container(cls, container: FloeContainer) -> Floe:
        """Take every service from a wired container."""
        return cls(
            catalog=container.catalog(),
            namespaces=container.namespaces(),
            tables=container.tables(),
            writes=container.writes(),
            reads=container.reads(),
            snapshots=container.snapshots(),
            maintenance=container.maintenance(),
        )

    @classmethod
    def from_config(cls, config: CatalogConfig | Mapping[str, Any]) -> Floe:
        """Build floe over the catalog ``config`` describes.

        Raises:
            InvalidConfigError: The configuration is invalid.
        """
        return cls.from_container(build_container(config))
