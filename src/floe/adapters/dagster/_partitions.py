"""Dagster partitions → the table rows they cover (a :class:`PartitionSelection`).

- Time-window partitions: each key's time window on the partition column
  (adjacent windows merged into one range).
- Static and dynamic partitions: the key itself on the partition column.
- Multi-partitions: one condition per dimension, each on its own column;
  when the keys are a full cross product the conditions are simply AND-ed,
  otherwise each key becomes its own alternative.

The column of a partition dimension is, in this order: the asset's
``floe/partition_column`` (``floe/partition_columns`` for multi-partitions),
the column the asset's ``floe/partition_spec`` makes unambiguous (its one
time transform for time windows, e.g. ``ts`` of ``day(ts)``; its one
identity field for static/dynamic keys), and for time windows the IO
manager's ``partition_column``. A spec that names several candidates is an
error that lists them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import dagster as dg

from floe.adapters.dagster._selection import (
    ColumnCondition,
    PartitionSelection,
    TimeRange,
    merge_ranges,
)
from floe.adapters.dagster._targets import PARTITION_SPEC
from floe.domain.errors import InvalidConfigError
from floe.domain.partitioning import PartitionTransform, PartitionTransformType

_TIME_TRANSFORMS = frozenset(
    {
        PartitionTransformType.YEAR,
        PartitionTransformType.MONTH,
        PartitionTransformType.DAY,
        PartitionTransformType.HOUR,
    }
)

# The column of a single-dimension partitioned asset.
PARTITION_COLUMN = "floe/partition_column"
# ``{dimension name: column}`` for a multi-partitioned asset.
PARTITION_COLUMNS = "floe/partition_columns"


def partition_selection(
    context: dg.OutputContext | dg.InputContext,
    metadata: Mapping[str, object],
    default_column: str | None,
    *,
    asset: str,
) -> PartitionSelection | None:
    """The rows the context's asset partitions cover, ``None`` when not partitioned.

    An empty set of partitions (e.g. a partition mapping that maps to none)
    selects no row.

    Args:
        context: The output context, or the input context of a partitioned upstream.
        metadata: The asset's definition metadata (partition columns).
        default_column: The IO manager's column for time-window partitions.
        asset: The asset, for messages.

    Raises:
        InvalidConfigError: The asset is partitioned but no column is
            configured or inferable, or its spec offers several.
        InvalidPartitionSpecError: Its ``floe/partition_spec`` is malformed.
    """
    if not context.has_asset_partitions:
        return None
    keys = [str(k) for k in context.asset_partition_keys]
    if not keys:
        return PartitionSelection((), "")
    return selection_for(context.asset_partitions_def, keys, metadata, default_column, asset=asset)


def selection_for(
    partitions_def: dg.PartitionsDefinition,
    keys: Sequence[str],
    metadata: Mapping[str, object],
    default_column: str | None,
    *,
    asset: str,
) -> PartitionSelection:
    """The rows partition ``keys`` of ``partitions_def`` cover (see module docs).

    Raises:
        InvalidConfigError: A partition column is not configured or
            inferable, or the spec offers several.
        InvalidPartitionSpecError: The ``floe/partition_spec`` is malformed.
    """
    label = keys[0] if len(keys) == 1 else f"{keys[0]}...{keys[-1]}"
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return _multi(partitions_def, keys, metadata, default_column, asset, label)
    column = _single_column(partitions_def, metadata, default_column, asset)
    condition = _condition(partitions_def, column, keys)
    return PartitionSelection(((condition,),), label)


def _single_column(
    partitions_def: dg.PartitionsDefinition,
    metadata: Mapping[str, object],
    default_column: str | None,
    asset: str,
) -> str:
    timed = isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    column = metadata.get(PARTITION_COLUMN)
    if column is None:
        column = _inferred(partitions_def, metadata, asset, PARTITION_COLUMN)
    if column is None and timed:
        column = default_column
    if not isinstance(column, str) or not column:
        raise InvalidConfigError(
            f"{asset} is partitioned: set its metadata {PARTITION_COLUMN!r} to the "
            f"column that holds the partition, or give it a {PARTITION_SPEC!r} with one "
            + (
                "time transform (or set the IO manager's partition_column)"
                if timed
                else "identity field"
            ),
            subject=asset,
        )
    return column


def _condition(
    partitions_def: dg.PartitionsDefinition, column: str, keys: Sequence[str]
) -> ColumnCondition:
    unique = tuple(dict.fromkeys(keys))
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        windows = [partitions_def.time_window_for_partition_key(k) for k in unique]
        ranges = merge_ranges([TimeRange(w.start, w.end) for w in windows])
        return ColumnCondition(column, unique, ranges)
    return ColumnCondition(column, unique)


def _multi(
    partitions_def: dg.MultiPartitionsDefinition,
    keys: Sequence[str],
    metadata: Mapping[str, object],
    default_column: str | None,
    asset: str,
    label: str,
) -> PartitionSelection:
    columns = _dimension_columns(partitions_def, metadata, default_column, asset)
    by_key = [partitions_def.get_partition_key_from_str(k).keys_by_dimension for k in keys]
    dims = partitions_def.partitions_defs
    values = {d.name: list(dict.fromkeys(k[d.name] for k in by_key)) for d in dims}
    if len(set(keys)) == math.prod(len(v) for v in values.values()):
        conditions = tuple(
            _condition(d.partitions_def, columns[d.name], values[d.name]) for d in dims
        )
        return PartitionSelection((conditions,), label)
    alternatives = tuple(
        tuple(_condition(d.partitions_def, columns[d.name], [k[d.name]]) for d in dims)
        for k in by_key
    )
    return PartitionSelection(alternatives, label)


def _dimension_columns(
    partitions_def: dg.MultiPartitionsDefinition,
    metadata: Mapping[str, object],
    default_column: str | None,
    asset: str,
) -> dict[str, str]:
    given = metadata.get(PARTITION_COLUMNS) or {}
    if not isinstance(given, Mapping):
        raise InvalidConfigError(
            f"metadata {PARTITION_COLUMNS!r} of {asset} must map dimension names to "
            f"columns, got {given!r}",
            subject=asset,
        )
    columns: dict[str, str] = {}
    for dim in partitions_def.partitions_defs:
        column = given.get(dim.name)
        if column is None:
            column = _inferred(dim.partitions_def, metadata, asset, PARTITION_COLUMNS)
        if column is None and isinstance(dim.partitions_def, dg.TimeWindowPartitionsDefinition):
            column = default_column
        if not isinstance(column, str) or not column:
            raise InvalidConfigError(
                f"{asset} is multi-partitioned: metadata {PARTITION_COLUMNS!r} needs "
                f"the column of dimension {dim.name!r}",
                subject=asset,
            )
        columns[dim.name] = column
    return columns


def _inferred(
    partitions_def: dg.PartitionsDefinition,
    metadata: Mapping[str, object],
    asset: str,
    key: str,
) -> str | None:
    """The one column the asset's partition spec offers for this kind of partition.

    A time window takes the source column of the spec's one time transform
    (``year``/``month``/``day``/``hour``), a static or dynamic key the
    spec's one identity field. ``None`` when the spec offers none.

    Raises:
        InvalidConfigError: The spec offers several columns (they are named).
    """
    spec = metadata.get(PARTITION_SPEC)
    if spec is None:
        return None
    texts = [spec] if isinstance(spec, str) else spec
    if not isinstance(texts, Sequence) or not all(
        isinstance(t, str | PartitionTransform) for t in texts
    ):
        return None  # the write reports a malformed spec, with its own message
    fields = [
        t if isinstance(t, PartitionTransform) else PartitionTransform.parse(t) for t in texts
    ]
    timed = isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    wanted = _TIME_TRANSFORMS if timed else frozenset({PartitionTransformType.IDENTITY})
    choices = list(dict.fromkeys(f.source_column for f in fields if f.transform_type in wanted))
    if len(choices) > 1:
        raise InvalidConfigError(
            f"{asset}: its {PARTITION_SPEC!r} offers several columns for its "
            f"{'time-window' if timed else 'key'} partitions ({', '.join(choices)}); "
            f"name one in metadata {key!r}",
            subject=asset,
        )
    return choices[0] if choices else None
