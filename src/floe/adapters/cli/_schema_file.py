"""A new table's definition from a file: columns with Iceberg type names, partition spec.

The format (YAML or JSON)::

    columns:
      - {name: id, type: long, required: true}
      - {name: ts, type: timestamptz}
      - {name: amount, type: "decimal(12, 2)"}
      - {name: tags, type: "list<string>"}
    partition_spec: ["day(ts)", "bucket[8](id)"]
    properties: {write.target-file-size-bytes: "134217728"}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pyarrow as pa

import floe
from floe.adapters.cli._config import read_mapping

_PRIMITIVES: Mapping[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "long": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "date": pa.date32(),
    "time": pa.time64("us"),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "string": pa.string(),
    "binary": pa.binary(),
}
_DECIMAL = re.compile(r"decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_LIST = re.compile(r"list<(.+)>")


@attrs.frozen
class TableDefinition:
    """What ``tables create`` makes: schema, partition spec and properties."""

    schema: pa.Schema
    partition_spec: tuple[str, ...]
    properties: Mapping[str, str]


def arrow_type(text: str, column: str) -> pa.DataType:
    """An Iceberg type name as Arrow: primitives, ``decimal(P, S)``, ``list<T>``.

    Raises:
        InvalidSchemaError: The name is not one of those.
    """
    name = text.strip().lower()
    if name in _PRIMITIVES:
        return _PRIMITIVES[name]
    decimal = _DECIMAL.fullmatch(name)
    if decimal:
        return pa.decimal128(int(decimal[1]), int(decimal[2]))
    element = _LIST.fullmatch(name)
    if element:
        return pa.list_(arrow_type(element[1], column))
    raise floe.InvalidSchemaError(
        f"column {column!r} has type {text!r}; expected one of {', '.join(_PRIMITIVES)}, "
        "decimal(P, S) or list<T>",
        subject=column,
    )


def type_name(kind: pa.DataType) -> str:
    """An Arrow type by its Iceberg name where there is one (the inverse of :func:`arrow_type`)."""
    for name, candidate in _PRIMITIVES.items():
        if kind == candidate:
            return name
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision}, {kind.scale})"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"list<{type_name(kind.value_type)}>"
    if pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_large_binary(kind):
        return "binary"
    return str(kind)


def _field(entry: Any, index: int) -> pa.Field:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise floe.InvalidSchemaError(
            f"column {index + 1} must be a mapping with a 'name' and a 'type'",
            subject=f"columns[{index}]",
        )
    name = entry["name"]
    unknown = sorted(set(entry) - {"name", "type", "required", "doc"})
    if unknown:
        raise floe.InvalidSchemaError(f"column {name!r} has unknown keys {unknown}", subject=name)
    kind = entry.get("type")
    if not isinstance(kind, str):
        raise floe.InvalidSchemaError(f"column {name!r} needs a 'type' text", subject=name)
    required = entry.get("required", False)
    if not isinstance(required, bool):
        raise floe.InvalidSchemaError(
            f"column {name!r}: 'required' must be true or false", subject=name
        )
    return pa.field(name, arrow_type(kind, name), nullable=not required)


def read_definition(path: Path) -> TableDefinition:
    """Read a table definition file.

    Raises:
        InvalidConfigError: The file cannot be read or holds no mapping.
        InvalidSchemaError: Unknown keys, no columns, a malformed column or type.
    """
    data = read_mapping(path, "schema file")
    unknown = sorted(set(data) - {"columns", "partition_spec", "properties"})
    if unknown:
        raise floe.InvalidSchemaError(
            f"schema file {path} has unknown keys {unknown}; expected columns, "
            "partition_spec, properties",
            subject=str(path),
        )
    columns = data.get("columns")
    if not isinstance(columns, list) or not columns:
        raise floe.InvalidSchemaError(
            f"schema file {path} needs a non-empty list 'columns'", subject=str(path)
        )
    spec = data.get("partition_spec", [])
    if not isinstance(spec, list) or not all(isinstance(s, str) for s in spec):
        raise floe.InvalidPartitionSpecError(
            f"schema file {path}: 'partition_spec' must be a list of transforms such as "
            '"day(ts)"',
            subject=str(path),
        )
    properties = data.get("properties", {})
    if not isinstance(properties, Mapping):
        raise floe.InvalidSchemaError(
            f"schema file {path}: 'properties' must be a mapping", subject=str(path)
        )
    return TableDefinition(
        schema=pa.schema([_field(entry, i) for i, entry in enumerate(columns)]),
        partition_spec=tuple(spec),
        properties={str(k): str(v) for k, v in properties.items()},
    )
