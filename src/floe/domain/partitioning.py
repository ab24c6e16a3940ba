"""Hidden partitioning: transforms and their validation against a schema."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

import attrs

from floe.domain.errors import InvalidPartitionSpecError
from floe.domain.schema import NON_STORABLE, ColumnType, SchemaDescription

_T = ColumnType


class PartitionTransformType(enum.StrEnum):
    """The Iceberg partition transforms floe supports."""

    IDENTITY = "identity"
    YEAR = "year"
    MONTH = "month"
    DAY = "day"
    HOUR = "hour"
    BUCKET = "bucket"
    TRUNCATE = "truncate"

    @property
    def takes_param(self) -> bool:
        """Whether the transform needs a positive integer parameter."""
        return self in (PartitionTransformType.BUCKET, PartitionTransformType.TRUNCATE)


#: Source column types each transform accepts (Iceberg spec, "Partition Transforms").
ALLOWED_SOURCE_TYPES: dict[PartitionTransformType, frozenset[ColumnType]] = {
    PartitionTransformType.IDENTITY: frozenset(
        t for t in ColumnType if t.is_primitive and t not in NON_STORABLE
    ),
    PartitionTransformType.YEAR: frozenset({_T.DATE, _T.TIMESTAMP, _T.TIMESTAMPTZ}),
    PartitionTransformType.MONTH: frozenset({_T.DATE, _T.TIMESTAMP, _T.TIMESTAMPTZ}),
    PartitionTransformType.DAY: frozenset({_T.DATE, _T.TIMESTAMP, _T.TIMESTAMPTZ}),
    PartitionTransformType.HOUR: frozenset({_T.TIMESTAMP, _T.TIMESTAMPTZ}),
    PartitionTransformType.BUCKET: frozenset(
        {
            _T.INT,
            _T.LONG,
            _T.DECIMAL,
            _T.DATE,
            _T.TIME,
            _T.TIMESTAMP,
            _T.TIMESTAMPTZ,
            _T.STRING,
            _T.UUID,
            _T.FIXED,
            _T.BINARY,
        }
    ),
    PartitionTransformType.TRUNCATE: frozenset({_T.INT, _T.LONG, _T.DECIMAL, _T.STRING, _T.BINARY}),
}

_MAX_PARAM = 2**31 - 1

_TEXT_FORM = re.compile(
    # kind, [param], (column): the column neither blank nor padded
    r"^\s*(\w+)\s*(?:\[\s*(-?\d+)\s*\])?\s*\(\s*([^()\s](?:[^()]*[^()\s])?)\s*\)\s*$"
)


def _param_validator(
    instance: PartitionTransform, _: attrs.Attribute[int | None], value: int | None
) -> None:
    kind = instance.transform_type
    if kind.takes_param:
        if value is None or isinstance(value, bool) or not isinstance(value, int):
            raise InvalidPartitionSpecError(
                f"{kind.value} on {instance.source_column!r} needs a positive integer "
                f"parameter, got {value!r}",
                subject=instance.source_column,
            )
        if not 0 < value <= _MAX_PARAM:
            raise InvalidPartitionSpecError(
                f"{kind.value} on {instance.source_column!r} needs a parameter between 1 "
                f"and {_MAX_PARAM}, got {value}",
                subject=instance.source_column,
            )
    elif value is not None:
        raise InvalidPartitionSpecError(
            f"{kind.value} on {instance.source_column!r} takes no parameter, got {value!r}",
            subject=instance.source_column,
        )


def _transform_type(value: PartitionTransformType | str) -> PartitionTransformType:
    try:
        return PartitionTransformType(value)
    except ValueError:
        names = ", ".join(t.value for t in PartitionTransformType)
        raise InvalidPartitionSpecError(
            f"unknown partition transform {value!r}; expected one of {names}",
            subject=str(value),
        ) from None


def _source_validator(_: object, __: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidPartitionSpecError(
            f"partition source column must be a non-empty string, got {value!r}",
            subject=repr(value),
        )


def _name_validator(_: object, __: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidPartitionSpecError(
            f"partition field name must be a non-empty string, got {value!r}",
            subject=repr(value),
        )


@attrs.frozen
class PartitionTransform:
    """One partition field: a transform applied to a source column.

    Attributes:
        source_column: The column the partition value is derived from.
        transform_type: The transform.
        param: Bucket count or truncate width; required (positive) for
            ``bucket`` and ``truncate``, absent otherwise.
        name: The partition field name; defaults to Iceberg's convention
            (``ts_day``, ``id_bucket_16``…).
    """

    source_column: str = attrs.field(validator=_source_validator)
    transform_type: PartitionTransformType = attrs.field(converter=_transform_type)
    param: int | None = attrs.field(default=None, validator=_param_validator)
    name: str | None = attrs.field(default=None, validator=_name_validator)

    @classmethod
    def parse(cls, text: str) -> PartitionTransform:
        """Parse ``"day(ts)"``, ``"bucket[16](id)"`` or ``"region"`` (identity).

        Raises:
            InvalidPartitionSpecError: If the text is not in one of those forms.
        """
        if not isinstance(text, str):
            raise InvalidPartitionSpecError(
                f"a partition transform must be text like 'day(ts)' or a PartitionTransform, "
                f"got {text!r}",
                subject=repr(text),
            )
        match = _TEXT_FORM.match(text)
        if match is None:
            if re.fullmatch(r"\s*\w+\s*", text):
                return cls(text.strip(), PartitionTransformType.IDENTITY)
            raise InvalidPartitionSpecError(
                f"cannot read partition transform {text!r}; write e.g. 'day(ts)', "
                "'bucket[16](id)' or 'region'",
                subject=text,
            )
        kind, param, column = match.groups()
        if param is not None and len(param) > 12:
            raise InvalidPartitionSpecError(
                f"partition transform {text[:40]!r}…: parameter out of range", subject=text[:40]
            )
        return cls(column, kind.lower(), int(param) if param is not None else None)

    @property
    def field_name(self) -> str:
        """The partition field name (explicit or by Iceberg's convention)."""
        if self.name:
            return self.name
        kind = self.transform_type
        if kind is PartitionTransformType.IDENTITY:
            return self.source_column
        if kind is PartitionTransformType.TRUNCATE:
            return f"{self.source_column}_trunc_{self.param}"
        if kind is PartitionTransformType.BUCKET:
            return f"{self.source_column}_bucket_{self.param}"
        return f"{self.source_column}_{kind.value}"

    def __str__(self) -> str:
        kind = self.transform_type
        if kind is PartitionTransformType.IDENTITY:
            return self.source_column
        param = f"[{self.param}]" if kind.takes_param else ""
        return f"{kind.value}{param}({self.source_column})"


def validate_partition_spec(
    transforms: Sequence[PartitionTransform], schema: SchemaDescription, *, table_name: str
) -> tuple[PartitionTransform, ...]:
    """Check transforms against the table schema.

    Args:
        transforms: The partition fields, in order.
        schema: The schema of the table they partition.
        table_name: The table, for error messages.

    Returns:
        The transforms as a tuple.

    Raises:
        InvalidPartitionSpecError: If a source column is missing or of a type
            the transform does not accept, or two fields clash.
    """
    seen_names: set[str] = set()
    by_column: dict[str, PartitionTransform] = {}
    seen_fields: set[tuple[str, PartitionTransformType, int | None]] = set()
    for transform in transforms:
        column = schema.get(transform.source_column)
        if column is None:
            raise InvalidPartitionSpecError(
                f"partition {transform} of table {table_name}: column "
                f"{transform.source_column!r} is not in the schema "
                f"(columns: {', '.join(schema.names)})",
                subject=transform.source_column,
            )
        allowed = ALLOWED_SOURCE_TYPES[transform.transform_type]
        if column.type not in allowed:
            raise InvalidPartitionSpecError(
                f"partition {transform} of table {table_name}: "
                f"{transform.transform_type.value} does not apply to column "
                f"{column.name!r} of type {column.detail or column.type.value}",
                subject=transform.source_column,
            )
        key = (transform.source_column, transform.transform_type, transform.param)
        if key in seen_fields or transform.field_name in seen_names:
            raise InvalidPartitionSpecError(
                f"partition {transform} of table {table_name} is given twice",
                subject=transform.source_column,
            )
        clashes = transform.field_name in schema.names and (
            transform.transform_type is not PartitionTransformType.IDENTITY
            or transform.field_name != transform.source_column
        )
        if clashes:
            raise InvalidPartitionSpecError(
                f"partition field name {transform.field_name!r} of table {table_name} "
                "clashes with a column; give the transform another name",
                subject=transform.field_name,
            )
        earlier = by_column.get(transform.source_column)
        if earlier is not None and earlier != transform:
            # Writers (PyIceberg's among them) derive one partition value per
            # source column; a second field on the same column cannot be written.
            raise InvalidPartitionSpecError(
                f"partitions {earlier} and {transform} of table {table_name} are "
                "redundant: use one partition transform per column",
                subject=transform.source_column,
            )
        by_column[transform.source_column] = transform
        seen_fields.add(key)
        seen_names.add(transform.field_name)
    return tuple(transforms)


def partition_fields_to_add(
    current: Sequence[PartitionTransform],
    wanted: Sequence[PartitionTransform],
    schema: SchemaDescription,
    *,
    table_name: str,
) -> tuple[PartitionTransform, ...]:
    """The fields of ``wanted`` a table partitioned by ``current`` lacks.

    Fields the table has and ``wanted`` does not name are kept: a writer
    never strips partition fields someone else manages.

    Returns:
        The fields to add, in ``wanted``'s order (empty when none).

    Raises:
        InvalidPartitionSpecError: A wanted field does not fit the schema, or
            clashes with an existing field (e.g. a second transform of a column).
    """

    def same(a: PartitionTransform, b: PartitionTransform) -> bool:
        return (a.source_column, a.transform_type, a.param) == (
            b.source_column,
            b.transform_type,
            b.param,
        )

    missing = tuple(w for w in wanted if not any(same(w, c) for c in current))
    if missing:
        validate_partition_spec((*current, *missing), schema, table_name=table_name)
    return missing
