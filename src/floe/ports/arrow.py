"""The Arrow types floe speaks at its ports.

Iceberg has fewer types than Arrow. Every adapter returns, and every writer
receives, data in one canonical Arrow form: the form PyIceberg's ``to_arrow``
returns (small string/binary/list types, microsecond timestamps, UTC for
zoned timestamps, no field metadata). :func:`canonical_schema` maps any
Arrow schema onto it; :func:`describe_schema` maps it onto the domain's
schema description.
"""

from __future__ import annotations

import pyarrow as pa

from floe.domain.schema import NON_STORABLE, Column, ColumnType, SchemaDescription


def canonical_type(arrow_type: pa.DataType) -> pa.DataType:
    """Map an Arrow type onto the canonical type Iceberg round-trips it as."""
    t = pa.types
    if t.is_dictionary(arrow_type):
        return canonical_type(arrow_type.value_type)
    if (
        t.is_int8(arrow_type)
        or t.is_int16(arrow_type)
        or t.is_uint8(arrow_type)
        or t.is_uint16(arrow_type)
    ):
        return pa.int32()
    if t.is_uint32(arrow_type) or t.is_uint64(arrow_type):
        return pa.int64()
    if t.is_float16(arrow_type):
        return pa.float32()
    if t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return pa.string()
    if t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type):
        return pa.binary()
    if t.is_timestamp(arrow_type):
        return pa.timestamp("us", tz="UTC" if arrow_type.tz is not None else None)
    if t.is_date64(arrow_type):
        return pa.date32()
    if t.is_time(arrow_type):
        return pa.time64("us")
    if t.is_list(arrow_type) or t.is_large_list(arrow_type) or t.is_fixed_size_list(arrow_type):
        value = arrow_type.value_field
        return pa.list_(pa.field("element", canonical_type(value.type), nullable=value.nullable))
    if t.is_struct(arrow_type):
        return pa.struct(
            [canonical_field(arrow_type.field(i)) for i in range(arrow_type.num_fields)]
        )
    if t.is_map(arrow_type):
        return pa.map_(
            pa.field("key", canonical_type(arrow_type.key_type), nullable=False),
            pa.field(
                "value",
                canonical_type(arrow_type.item_type),
                nullable=arrow_type.item_field.nullable,
            ),
        )
    return arrow_type


def canonical_field(field: pa.Field) -> pa.Field:
    """A field with its canonical type and no metadata."""
    return pa.field(field.name, canonical_type(field.type), nullable=field.nullable)


def canonical_schema(schema: pa.Schema) -> pa.Schema:
    """A schema with canonical types and no metadata."""
    return pa.schema([canonical_field(f) for f in schema])


def _column_type(arrow_type: pa.DataType) -> ColumnType:
    t = pa.types
    arrow_type = canonical_type(arrow_type)
    simple = {
        pa.bool_(): ColumnType.BOOLEAN,
        pa.int32(): ColumnType.INT,
        pa.int64(): ColumnType.LONG,
        pa.float32(): ColumnType.FLOAT,
        pa.float64(): ColumnType.DOUBLE,
        pa.date32(): ColumnType.DATE,
        pa.time64("us"): ColumnType.TIME,
        pa.string(): ColumnType.STRING,
        pa.binary(): ColumnType.BINARY,
    }
    if arrow_type in simple:
        return simple[arrow_type]
    if t.is_null(arrow_type):
        return ColumnType.NULL
    if t.is_timestamp(arrow_type):
        return ColumnType.TIMESTAMPTZ if arrow_type.tz is not None else ColumnType.TIMESTAMP
    if t.is_decimal(arrow_type):
        # Iceberg decimals stop at precision 38 (decimal128).
        fits = arrow_type.precision <= _MAX_DECIMAL
        return ColumnType.DECIMAL if fits else ColumnType.UNSUPPORTED
    if t.is_fixed_size_binary(arrow_type):
        return ColumnType.FIXED
    if t.is_list(arrow_type):
        return ColumnType.LIST if _storable(arrow_type.value_type) else ColumnType.UNSUPPORTED
    if t.is_struct(arrow_type):
        children = [arrow_type.field(i) for i in range(arrow_type.num_fields)]
        names = [child.name for child in children]
        storable = all(child.name and _storable(child.type) for child in children)
        distinct = len(set(names)) == len(names)
        return ColumnType.STRUCT if storable and distinct and names else ColumnType.UNSUPPORTED
    if t.is_map(arrow_type):
        parts = (arrow_type.key_type, arrow_type.item_type)
        return ColumnType.MAP if all(_storable(p) for p in parts) else ColumnType.UNSUPPORTED
    if isinstance(arrow_type, pa.ExtensionType) and arrow_type.extension_name == "arrow.uuid":
        return ColumnType.UUID
    return ColumnType.UNSUPPORTED


_MAX_DECIMAL = 38


def _storable(arrow_type: pa.DataType) -> bool:
    """Whether a nested field's type is one Iceberg can store."""
    return _column_type(arrow_type) not in NON_STORABLE


def describe_schema(schema: pa.Schema) -> SchemaDescription:
    """Describe an Arrow schema in domain terms (top-level columns)."""
    columns = []
    for field in schema:
        kind = _column_type(field.type)
        detail = "" if kind not in _DETAILED else str(canonical_type(field.type))
        columns.append(Column(field.name, kind, required=not field.nullable, detail=detail))
    return SchemaDescription(tuple(columns))


_DETAILED = frozenset(
    {
        ColumnType.DECIMAL,
        ColumnType.FIXED,
        ColumnType.LIST,
        ColumnType.STRUCT,
        ColumnType.MAP,
        ColumnType.UNSUPPORTED,
    }
)
