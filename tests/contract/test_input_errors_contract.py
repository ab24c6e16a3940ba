"""Bad input is refused with the same typed error by every adapter, and changes nothing.

The checks live in the application and the domain, before any adapter is
called: these tests prove that memory, local and rest agree, and that names
at the storage limits are really stored.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import floe
from floe.domain.identifiers import MAX_NAMESPACE_BYTES, MAX_PART_BYTES

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("big", pa.int64())])


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "t")
    lake.tables.create(ident, SCHEMA)
    lake.writes.append(ident, pa.table({"id": [1, 2], "big": [10, None]}, schema=SCHEMA))
    return ident


def _snapshot_and_rows(lake: floe.Floe, table: floe.TableIdentifier) -> tuple[Any, ...]:
    return lake.tables.load(table).current_snapshot_id, lake.reads.scan(table).to_pylist()


NOT_TEXT = [5, 1.5, b"id = 1", ["id = 1"], {"id": 1}, True]


@pytest.mark.parametrize("row_filter", NOT_TEXT, ids=lambda v: type(v).__name__)
def test_a_row_filter_that_is_not_text_is_an_invalid_filter_error(
    lake: floe.Floe, table: floe.TableIdentifier, row_filter: Any
) -> None:
    before = _snapshot_and_rows(lake, table)
    new = pa.table({"id": [7], "big": [7]}, schema=SCHEMA)

    with pytest.raises(floe.InvalidFilterError) as written:
        lake.writes.overwrite(table, new, row_filter=row_filter)
    with pytest.raises(floe.InvalidFilterError) as scanned:
        lake.reads.scan(table, row_filter=row_filter)
    with pytest.raises(floe.InvalidFilterError):
        lake.reads.batches(table, row_filter=row_filter)

    for error in (written.value, scanned.value):
        assert type(row_filter).__name__ in str(error)
        assert str(table) in str(error)
    assert _snapshot_and_rows(lake, table) == before


@pytest.mark.parametrize("cell", [2**70, -(2**64), 2**63])
def test_a_dataframe_cell_too_big_for_any_integer_is_a_write_error(
    lake: floe.Floe, table: floe.TableIdentifier, cell: int
) -> None:
    before = _snapshot_and_rows(lake, table)
    frame = pd.DataFrame({"id": [3], "big": pd.Series([cell], dtype=object)})

    for mode in ("append", "overwrite", "upsert"):
        with pytest.raises(floe.WriteError) as info:
            lake.writes.write(
                table, frame, mode=mode, join_columns=["id"] if mode == "upsert" else ()
            )
        assert type(info.value) is floe.WriteError
        assert "OverflowError" in str(info.value)
        assert str(table) in str(info.value)

    assert _snapshot_and_rows(lake, table) == before


def _unique(prefix: str, size: int) -> str:
    """A name of exactly ``size`` UTF-8 bytes, unique on the shared REST server."""
    head = prefix + uuid.uuid4().hex[:8]
    return head + "x" * (size - len(head.encode()))


def test_names_at_the_storage_limits_are_stored(lake: floe.Floe) -> None:
    # Two parts whose dotted form is exactly MAX_NAMESPACE_BYTES: one
    # directory name in the embedded catalog.
    first = _unique("n", (MAX_NAMESPACE_BYTES - 1) // 2)
    second = _unique("m", MAX_NAMESPACE_BYTES - 1 - len(first))
    namespace = (first, second)
    table = floe.TableIdentifier(namespace, _unique("t", MAX_PART_BYTES))
    assert len(".".join(namespace).encode()) == MAX_NAMESPACE_BYTES
    assert len(table.name.encode()) == MAX_PART_BYTES

    lake.namespaces.create(namespace, create_parents=True)
    lake.tables.create(table, SCHEMA)
    lake.writes.append(table, pa.table({"id": [1], "big": [2]}, schema=SCHEMA))

    assert lake.reads.scan(table).to_pylist() == [{"id": 1, "big": 2}]
    assert table in lake.tables.list(namespace)


def test_a_single_part_namespace_at_the_limit_is_stored(lake: floe.Floe) -> None:
    namespace = (_unique("n", MAX_PART_BYTES),)
    table = floe.TableIdentifier(namespace, "t")

    lake.namespaces.create(namespace)
    lake.writes.append(
        table,
        pa.table({"id": [1], "big": [2]}, schema=SCHEMA),
        create_if_missing=floe.NewTable(),
    )

    assert lake.reads.scan(table).num_rows == 1


@pytest.mark.parametrize(
    "name", ["名" * 85 + "x", "x" * (MAX_PART_BYTES + 1)], ids=["86-cjk", "256-ascii"]
)
def test_a_table_name_over_the_storage_limit_is_refused_before_any_call(
    lake: floe.Floe, ns: tuple[str, ...], name: str
) -> None:
    text = ".".join((*ns, name))  # 256 bytes or more in UTF-8

    with pytest.raises(floe.InvalidIdentifierError) as info:
        lake.tables.create(text, SCHEMA)
    with pytest.raises(floe.InvalidIdentifierError):
        lake.writes.append(
            text, pa.table({"id": [1], "big": [2]}), create_if_missing=floe.NewTable()
        )

    assert f"the limit is {MAX_PART_BYTES} bytes" in str(info.value)
    assert lake.tables.list(ns) == []


@pytest.mark.parametrize(
    "namespace",
    [
        ("名" * 86,),  # 258 bytes
        ("a" * 127, "b" * 128),  # 256 bytes with the dot
        tuple("n" * 201 for _ in range(16)),
    ],
    ids=["part-of-86-cjk", "dotted-256-bytes", "16-parts-of-201"],
)
def test_a_namespace_over_the_storage_limit_is_refused_before_any_call(
    lake: floe.Floe, namespace: tuple[str, ...]
) -> None:
    with pytest.raises(floe.InvalidIdentifierError) as info:
        lake.namespaces.create(namespace, create_parents=True)
    with pytest.raises(floe.InvalidIdentifierError):
        lake.tables.create(floe.TableIdentifier.from_parts([*namespace, "t"]), SCHEMA)

    assert "bytes" in str(info.value)
    assert namespace[:1] not in lake.namespaces.list()
