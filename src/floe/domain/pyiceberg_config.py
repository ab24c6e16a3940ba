"""PyIceberg's catalog properties as floe's catalog configs.

A PyIceberg user describes a catalog by plain properties (in
``.pyiceberg.yaml`` or ``PYICEBERG_CATALOG__<NAME>__<KEY>`` variables). Here
those properties become the config floe would have been given: a ``rest``
catalog a :class:`PolarisCatalogConfig`, a ``sql`` catalog laid out as floe's
embedded catalog a :class:`LocalCatalogConfig`. Reading the files and the
environment is PyIceberg's own job (the adapter does it); this module only
maps.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import unquote, urlparse

from floe.domain.config import (
    CatalogConfig,
    LocalCatalogConfig,
    MemoryCatalogConfig,
    load_catalog_config,
    mask_uri,
)
from floe.domain.errors import InvalidConfigError

#: PyIceberg's REST properties that are fields of :class:`PolarisCatalogConfig`.
_REST_FIELDS: Final = {
    key: key.replace("-", "_")  # the field is named as the key, with _ for -
    for key in ("uri", "warehouse", "token", "scope", "oauth2-server-uri", "audience", "resource")
}
#: The Polaris realm header as a PyIceberg header property (sent on catalog
#: requests by PyIceberg): floe sends it on token requests too.
_REALM_PROPERTY: Final = "header.polaris-realm"
#: Properties that choose the catalog implementation; floe chooses its own.
_IMPLEMENTATION_KEYS: Final = frozenset({"type", "py-catalog-impl"})
_LOCAL_DATABASE: Final = "catalog.db"


def config_from_pyiceberg(name: str, properties: Mapping[str, Any]) -> CatalogConfig:
    """The floe config for PyIceberg catalog ``name`` described by ``properties``.

    The catalog's ``type`` is taken as PyIceberg takes it: the ``type``
    property, else guessed from the ``uri`` (``http(s)://`` is ``rest``,
    ``sqlite:`` is ``sql``).

    * ``rest``: ``uri``, ``warehouse``, ``credential`` (``client_id:secret``)
      or ``token``, ``scope``, ``oauth2-server-uri``, ``audience``,
      ``resource`` and ``header.Polaris-Realm`` (the ``realm``) become
      fields; every other property is passed through (``s3.*``,
      ``header.*``...).
    * ``sql``: only floe's embedded layout, ``uri`` ``sqlite:///<dir>/catalog.db``
      with ``warehouse`` ``file://<dir>`` (or no warehouse), becomes a
      :class:`LocalCatalogConfig` of ``<dir>``.
    * ``in-memory``: a :class:`MemoryCatalogConfig`.

    Raises:
        InvalidConfigError: Another catalog type, a ``sql`` catalog laid out
            otherwise, a missing or invalid field (named, secrets never shown).
    """
    props = {str(key).lower(): value for key, value in properties.items()}
    for key, value in props.items():
        if not isinstance(value, str):
            raise InvalidConfigError(
                f"PyIceberg catalog {name!r}: property {key!r} must be a string, "
                f"got a value of type {type(value).__name__}",
                subject=key,
            )
    kind = _catalog_type(name, props)
    if kind == "rest":
        return _rest_config(name, props)
    if kind == "sql":
        return _local_config(name, props)
    if kind == "in-memory":
        return MemoryCatalogConfig(name=name)
    raise InvalidConfigError(
        f"PyIceberg catalog {name!r} is of type {kind!r}; floe works with 'rest' catalogs "
        "(Apache Polaris or any Iceberg REST catalog) and its own embedded 'sql' catalog",
        subject="type",
    )


def _catalog_type(name: str, props: Mapping[str, str]) -> str:
    if "type" in props:
        return props["type"].lower()
    uri = props.get("uri", "")
    if uri.startswith(("http://", "https://")):
        return "rest"
    if uri.startswith("sqlite"):
        return "sql"
    raise InvalidConfigError(
        f"PyIceberg catalog {name!r} has no 'type' and its uri does not tell it; "
        "set type: rest (or sql)",
        subject="type",
    )


def _rest_config(name: str, props: Mapping[str, str]) -> CatalogConfig:
    values: dict[str, Any] = {"type": "rest"}
    extra: dict[str, str] = {}
    for key, value in props.items():
        if key in _REST_FIELDS:
            values[_REST_FIELDS[key]] = value
        elif key == _REALM_PROPERTY:
            values["realm"] = value
        elif key == "credential":
            client_id, colon, secret = value.partition(":")
            if not colon or not client_id or not secret:
                raise InvalidConfigError(
                    f"PyIceberg catalog {name!r}: credential must be 'client_id:client_secret'",
                    subject="credential",
                )
            values["client_id"], values["client_secret"] = client_id, secret
        elif key not in _IMPLEMENTATION_KEYS:
            extra[key] = value
    values["properties"] = extra
    try:
        return load_catalog_config(values)
    except InvalidConfigError as exc:
        raise InvalidConfigError(
            f"PyIceberg catalog {name!r}: {exc}", subject=exc.subject
        ) from None


def _local_config(name: str, props: Mapping[str, str]) -> CatalogConfig:
    uri = props.get("uri", "")
    directory = _sqlite_directory(uri)
    warehouse = props.get("warehouse")
    if directory is not None and (warehouse is None or _file_directory(warehouse) == directory):
        return LocalCatalogConfig(warehouse_path=directory, catalog_name=name)
    raise InvalidConfigError(
        f"PyIceberg catalog {name!r} is a sql catalog (uri {mask_uri(uri)!r}, warehouse "
        f"{warehouse!r}) that floe cannot open: floe opens a sql catalog only as its embedded "
        f"catalog, uri 'sqlite:///<dir>/{_LOCAL_DATABASE}' with warehouse 'file://<dir>' "
        "(the same directory); use a rest catalog for anything else",
        subject="uri",
    )


def _sqlite_directory(uri: str) -> str | None:
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    # sqlite:////abs/dir/catalog.db is absolute, sqlite:///dir/catalog.db relative.
    path = PurePosixPath(unquote(uri[len(prefix) :]))
    if path.name != _LOCAL_DATABASE:
        return None
    return os.path.abspath(path.parent)


def _file_directory(warehouse: str) -> str | None:
    if warehouse.startswith("file:"):
        parsed = urlparse(warehouse)
        local = parsed.netloc in ("", "localhost")
        return os.path.abspath(unquote(parsed.path)) if local else None
    if "://" in warehouse:
        return None
    return os.path.abspath(warehouse)
