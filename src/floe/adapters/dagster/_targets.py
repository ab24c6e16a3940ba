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

from floe.domain.errors import InvalidConfigError
from floe.domain.identifiers import TableIdentifier
from floe.domain.models import WriteMode

TABLE = "floe/table"
WRITE_MODE = "floe/write_mode"
JOIN_COLUMNS = "floe/join_columns"
PARTITION_SPEC = "floe/partition_spec"
COLUMNS = "columns"
ROW_FILTER = "row_filter"


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
    return TableIdentifier.from_asset_key(key_path, default_namespace)


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
