"""Between PyIceberg's model (schemas, partition specs, partition values) and floe's.

Shared by the adapters that use PyIceberg's model: the PyIceberg adapter for
real catalogs and the in-memory adapter, which partitions and filters with
PyIceberg's own code so that it behaves like a real catalog.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import (
    BucketTransform,
    DayTransform,
    HourTransform,
    IdentityTransform,
    MonthTransform,
    Transform,
    TruncateTransform,
    YearTransform,
)

from floe.domain.errors import InvalidPartitionSpecError
from floe.domain.partitioning import PartitionTransform, PartitionTransformType
from floe.ports.arrow import canonical_schema

_PARTITION_FIELD_ID_START = 1000


def arrow_schema(schema: Schema) -> pa.Schema:
    """The canonical Arrow schema of an Iceberg schema."""
    return canonical_schema(schema_to_pyarrow(schema, include_field_ids=False))


def iceberg_transform(t: PartitionTransform) -> Transform[Any, Any]:
    """The PyIceberg transform of a floe partition transform."""
    kind = t.transform_type
    simple: dict[PartitionTransformType, Transform[Any, Any]] = {
        PartitionTransformType.IDENTITY: IdentityTransform(),
        PartitionTransformType.YEAR: YearTransform(),
        PartitionTransformType.MONTH: MonthTransform(),
        PartitionTransformType.DAY: DayTransform(),
        PartitionTransformType.HOUR: HourTransform(),
    }
    if kind in simple:
        return simple[kind]
    param = t.param if t.param is not None else 0  # PartitionTransform guarantees a param
    if kind is PartitionTransformType.BUCKET:
        return BucketTransform(num_buckets=param)
    return TruncateTransform(width=param)


def build_partition_spec(
    transforms: tuple[PartitionTransform, ...], schema: Schema
) -> PartitionSpec:
    """An Iceberg partition spec for ``schema`` (whose field ids it references)."""
    fields = []
    for offset, t in enumerate(transforms):
        source = schema.find_field(t.source_column)
        fields.append(
            PartitionField(
                source_id=source.field_id,
                field_id=_PARTITION_FIELD_ID_START + offset,
                transform=iceberg_transform(t),
                name=t.field_name,
            )
        )
    return PartitionSpec(*fields, spec_id=0)


def describe_spec(spec: PartitionSpec, schema: Schema) -> tuple[PartitionTransform, ...]:
    """The partition transforms of an Iceberg partition spec."""
    result = []
    for field in spec.fields:
        transform = field.transform
        source = schema.find_column_name(field.source_id)
        if source is None:  # the source column was dropped outside floe
            raise InvalidPartitionSpecError(
                f"partition field {field.name} refers to a column the schema no longer has",
                subject=field.name,
            )
        param: int | None = None
        if isinstance(transform, BucketTransform):
            kind, param = PartitionTransformType.BUCKET, transform.num_buckets
        elif isinstance(transform, TruncateTransform):
            kind, param = PartitionTransformType.TRUNCATE, transform.width
        else:
            kind = PartitionTransformType(str(transform).lower())
        described = PartitionTransform(source, kind, param)
        if described.field_name != field.name:
            described = PartitionTransform(source, kind, param, name=field.name)
        result.append(described)
    return tuple(result)


def partition_values(spec: PartitionSpec, schema: Schema, record: Any) -> dict[str, str | None]:
    """Human-readable partition values (``{"ts_day": "2024-05-01"}``) of a partition record."""
    values: dict[str, str | None] = {}
    for position, field in enumerate(spec.fields):
        raw = record[position]
        source_type = schema.find_type(field.source_id)
        values[field.name] = (
            None if raw is None else field.transform.to_human_string(source_type, raw)
        )
    return values
