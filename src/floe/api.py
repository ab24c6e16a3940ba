"""Entry points: build floe over a catalog from its configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from floe.application import (
    MaintenanceService,
    NamespaceService,
    ReadService,
    RefService,
    SnapshotService,
    TableService,
    WriteService,
)
from floe.container import FloeContainer
from floe.domain.config import CatalogConfig, load_catalog_config
from floe.domain.pyiceberg_config import config_from_pyiceberg
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


def catalog_config_from_pyiceberg(name: str | None = None) -> CatalogConfig:
    """The floe config of a catalog as PyIceberg's own configuration describes it.

    Read with PyIceberg's own ``Config`` class, when called:
    ``.pyiceberg.yaml`` (in ``$PYICEBERG_HOME``, the home or the working
    directory) overlaid by ``PYICEBERG_CATALOG__<NAME>__<KEY>`` variables. A
    ``rest`` catalog becomes a :class:`~floe.PolarisCatalogConfig`
    (``credential: id:secret`` or ``token``, ``scope``, ``oauth2-server-uri``;
    other properties pass through), floe's embedded ``sql`` layout a
    :class:`~floe.LocalCatalogConfig`.

    Args:
        name: The catalog; ``None`` takes PyIceberg's default catalog.

    Raises:
        InvalidConfigError: No such catalog, a catalog type floe cannot open,
            or a missing or invalid setting (named; secrets never shown).
    """
    from floe.adapters.iceberg.pyiceberg_config import pyiceberg_catalog_properties

    chosen, properties = pyiceberg_catalog_properties(name)
    return config_from_pyiceberg(chosen, properties)


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
        refs: Branches and tags, rollback and publish (write-audit-publish).
        maintenance: Snapshot expiry.
    """

    catalog: CatalogPort
    namespaces: NamespaceService
    tables: TableService
    writes: WriteService
    reads: ReadService
    snapshots: SnapshotService
    refs: RefService
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
            refs=container.refs(),
            maintenance=container.maintenance(),
        )

    @classmethod
    def from_config(cls, config: CatalogConfig | Mapping[str, Any]) -> Floe:
        """Build floe over the catalog ``config`` describes.

        Raises:
            InvalidConfigError: The configuration is invalid.
        """
        return cls.from_container(build_container(config))

    @classmethod
    def from_pyiceberg(cls, name: str | None = None) -> Floe:
        """Build floe over a catalog configured for PyIceberg (``.pyiceberg.yaml``, env).

        See :func:`catalog_config_from_pyiceberg`.

        Raises:
            InvalidConfigError: As :func:`catalog_config_from_pyiceberg`.
        """
        return cls.from_config(catalog_config_from_pyiceberg(name))
