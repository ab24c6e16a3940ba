"""Tables floe creates start from floe's default properties; the caller's win."""

from __future__ import annotations

import pyarrow as pa

import floe

SCHEMA = pa.schema([("id", pa.int64()), ("name", pa.string())])
DICT_SIZE = "write.parquet.dict-size-bytes"


def test_created_tables_carry_the_default_properties_unless_overridden(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    plain = lake.tables.create(floe.TableIdentifier(ns, "plain"), SCHEMA, properties={"a": "b"})
    assert plain.properties[DICT_SIZE] == str(2**20)
    assert plain.properties["a"] == "b"
    chosen = lake.tables.create_if_not_exists(
        floe.TableIdentifier(ns, "chosen"), SCHEMA, properties={DICT_SIZE: "4096"}
    )
    assert chosen.properties[DICT_SIZE] == "4096"
    first_write = floe.TableIdentifier(ns, "first_write")
    lake.writes.append(
        first_write,
        pa.table({"id": [1], "name": ["x"]}),
        create_if_missing=floe.NewTable(),
    )
    assert lake.tables.load(first_write).properties[DICT_SIZE] == str(2**20)
