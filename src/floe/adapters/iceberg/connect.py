"""Opening PyIceberg catalogs from floe configs."""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.rest import RestCatalog
from pyiceberg.catalog.sql import SqlCatalog

from floe.adapters.iceberg.errors import translated
from floe.domain.config import LocalCatalogConfig, PolarisCatalogConfig


def open_local_catalog(config: LocalCatalogConfig) -> Catalog:
    """The embedded catalog: SQLite metadata and data files under one directory."""
    root = Path(config.warehouse_path).expanduser().resolve()
    with translated("open local catalog at", str(root)):
        root.mkdir(parents=True, exist_ok=True)
        return SqlCatalog(
            config.catalog_name,
            uri=f"sqlite:///{root / 'catalog.db'}",
            warehouse=root.as_uri(),
        )


def rest_properties(config: PolarisCatalogConfig) -> dict[str, str]:
    """PyIceberg REST catalog properties for a Polaris config (secrets included)."""
    props = {**config.properties, "uri": config.uri, "warehouse": config.warehouse}
    if config.token is not None:
        props["token"] = config.token.reveal()
    elif config.client_secret is not None:
        props["credential"] = f"{config.client_id}:{config.client_secret.reveal()}"
        props["scope"] = config.scope
    if config.oauth2_server_uri:
        props["oauth2-server-uri"] = config.oauth2_server_uri
    return props


def open_rest_catalog(config: PolarisCatalogConfig) -> Catalog:
    """A PyIceberg REST catalog for Polaris / any Iceberg REST server.

    Raises:
        CatalogAuthenticationError: The credentials are rejected.
        CatalogConnectionError: The server cannot be reached.
    """
    with translated("connect to catalog", config.uri):
        return RestCatalog(config.warehouse, **rest_properties(config))
