"""Asset keys and definition metadata → table, write mode, partition spec, read options.

Metadata keys read from an asset's definition metadata:

- ``floe/table``: ``"ns.table"`` instead of the asset key mapping.
- ``floe/write_mode``: ``overwrite`` (the default), ``append`` or ``upsert``.
- ``floe/join_columns``: the upsert keys, e.g. ``["id"]``.
- ``floe/partition_spec``: partition transforms for a new table, e.g.
  ``["day(ts)"]``; it also implies the partition column when unambiguous.
- ``floe/partition_column`` / ``floe/partition_columns``: see
  :mod:`floe.adapters.dagster._partitions`.

And from an input's metadata (``AssetIn(metadata=...)``): ``columns`` (the
projection) and ``row_filter`` (floe filter text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from floe.domain.errors import InvalidConfigError, InvalidIdentifierError
from floe.domain.identifiers import TableIdentifier, parse_namespace
from floe.domain.models import WriteMode

TABLE = "floe/table"
WRITE_MODE = "floe/write_mode"
JOIN_COLUMNS = "floe/join_columns"
PARTITION_SPEC = "floe/partition_spec"
COLUMNS = "columns"
ROW_FILTER = "row_filter"


class AssetKeyLike(Protocol):
    """An asset key: its parts in ``path``, as Dagster's ``AssetKey`` holds them."""

    @property
    def path(self) -> Sequence[str]:
        """The key's parts, outermost first."""


def _key_parts(key: object) -> object:
    """The parts of an asset key: its ``path`` if it has one, else the key itself."""
    try:
        return getattr(key, "path", key)
    except Exception:  # a failing 'path' is no key: the caller says so, typed
        return None


def table_for_asset_key(
    key: Sequence[str] | AssetKeyLike, default_namespace: str | Sequence[str]
) -> TableIdentifier:
    """The table an asset key maps to, as the IO manager maps it.

    The last part is the table; earlier parts are the namespace; a key of
    one part lands in ``default_namespace``. An asset's ``floe/table``
    metadata, which overrides this mapping, is not consulted.

    Args:
        key: The asset key: a Dagster ``AssetKey`` (or any object holding the
            parts in ``.path``), or its parts, e.g. ``["sales", "orders"]``.
        default_namespace: Namespace for single-part keys, dotted text or
            parts.

    Returns:
        The table's identifier.

    Raises:
        InvalidIdentifierError: If the key is neither, is empty or a part
            is invalid.
    """
    path = _key_parts(key)
    if not isinstance(path, list | tuple):
        raise InvalidIdentifierError(
            "an asset key must be a list or tuple of names, or hold one in '.path' "
            f"(a Dagster AssetKey), got {type(key).__name__} {key!r:.60}",
            subject=repr(key),
        )
    parts = tuple(path)
    if not parts:
        raise InvalidIdentifierError("asset key has no parts", subject="")
    if len(parts) == 1:
        return TableIdentifier(namespace=parse_namespace(default_namespace), name=parts[0])
    return TableIdentifier(namespace=parts[:-1], name=parts[-1])


def table_for(
    key_path: Sequence[str] | None,
    metadata: Mapping[str, object],
    default_namespace: str | Sequence[str],
) -> TableIdentifier:
    """The table of an asset: ``floe/table`` metadata, else the asset key.

    The last key part is the table, the earlier ones its namespace; a
    single-part key lands in ``default_namespace``.

    Raises:
        InvalidConfigError: Neither an asset key nor ``floe/table`` is given.
        InvalidIdentifierError: The name is malformed.
    """
    override = metadata.get(TABLE)
    if override is not None:
        if not isinstance(override, str):
            raise InvalidConfigError(
                f"metadata {TABLE!r} must be 'namespace.table' text, got {override!r}",
                subject=TABLE,
            )
        return TableIdentifier.from_string(override)
    if not key_path:
        raise InvalidConfigError(
            f"an output without an asset key needs the metadata {TABLE!r}", subject=TABLE
        )
    return table_for_asset_key(key_path, default_namespace)


def write_mode_for(metadata: Mapping[str, object], default: str, *, asset: str) -> WriteMode:
    """The write mode: ``floe/write_mode`` metadata, else the IO manager's.

    Raises:
        InvalidConfigError: Not ``append``, ``overwrite`` or ``upsert``.
    """
    value = metadata.get(WRITE_MODE, default)
    try:
        return WriteMode(str(value).lower())
    except ValueError:
        raise InvalidConfigError(
            f"write mode of {asset} must be one of "
            f"{', '.join(m.value for m in WriteMode)}, got {value!r}",
            subject=asset,
        ) from None


def names(metadata: Mapping[str, object], key: str, *, asset: str) -> tuple[str, ...] | None:
    """A list of names (columns, transforms) from metadata; ``None`` when absent.

    Raises:
        InvalidConfigError: The value is not a list of strings.
    """
    value = metadata.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(str(v) for v in value)
    raise InvalidConfigError(
        f"metadata {key!r} of {asset} must be a list of strings, got {value!r}", subject=asset
    )


def row_filter_for(metadata: Mapping[str, object], *, asset: str) -> str | None:
    """The ``row_filter`` of an input, ``None`` when absent.

    Raises:
        InvalidConfigError: The filter is not text.
    """
    value = metadata.get(ROW_FILTER)
    if value is None or isinstance(value, str):
        return value
    raise InvalidConfigError(
        f"metadata {ROW_FILTER!r} of {asset} must be filter text, got {value!r}", subject=asset
    )
