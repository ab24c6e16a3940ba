"""What PyIceberg and polars users already hold is accepted by every adapter.

A PyIceberg ``BooleanExpression`` as a row filter, a PyIceberg ``Schema`` at
table creation, a polars DataFrame or LazyFrame as the rows of a write.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyiceberg.expressions import And, EqualTo, GreaterThan, GreaterThanOrEqual, In, Not, Or
from pyiceberg.schema import Schema
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestampType

import floe
from floe.adapters.filters import MAX_FILTER_NESTING, MAX_FILTER_PREDICATES

pl = pytest.importorskip("polars")

SCHEMA = pa.schema([pa.field("id", pa.int64(), nullable=False), ("region", pa.string())])
ROWS = pa.table({"id": [1, 2, 3, 4], "region": ["eu", "us", "eu", "ap"]}, schema=SCHEMA)


@pytest.fixture
def table(lake: floe.Floe, ns: tuple[str, ...]) -> floe.TableIdentifier:
    ident = floe.TableIdentifier(ns, "t")
    lake.tables.create(ident, SCHEMA)
    lake.writes.append(ident, ROWS)
    return ident


def _ids(lake: floe.Floe, table: floe.TableIdentifier, row_filter: object = None) -> list[int]:
    rows = lake.reads.scan(table, row_filter=row_filter).column("id").to_pylist()
    return sorted(rows)


@pytest.mark.parametrize(
    ("expression", "text"),
    [
        (EqualTo("region", "eu"), "region = 'eu'"),
        (And(GreaterThan("id", 1), EqualTo("region", "eu")), "id > 1 and region = 'eu'"),
        (Or(EqualTo("id", 1), In("region", {"ap"})), "id = 1 or region in ('ap')"),
        (Not(EqualTo("region", "eu")), "not (region = 'eu')"),
    ],
    ids=["eq", "and", "or-in", "not"],
)
def test_a_pyiceberg_expression_filters_as_its_text_does(
    lake: floe.Floe, table: floe.TableIdentifier, expression: object, text: str
) -> None:
    assert _ids(lake, table, expression) == _ids(lake, table, text)
    assert len(lake.reads.to_pandas(table, row_filter=expression)) == len(_ids(lake, table, text))
    batches = list(lake.reads.batches(table, row_filter=expression))
    assert sum(b.num_rows for b in batches) == len(_ids(lake, table, text))


def test_an_overwrite_takes_a_pyiceberg_expression(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    new = pa.table({"id": [10], "region": ["eu"]}, schema=SCHEMA)

    lake.writes.overwrite(table, new, row_filter=EqualTo("region", "eu"))

    assert _ids(lake, table) == [2, 4, 10]


def test_an_expression_on_an_unknown_column_changes_nothing(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    before = lake.tables.load(table).current_snapshot_id
    new = pa.table({"id": [10], "region": ["eu"]}, schema=SCHEMA)

    with pytest.raises(floe.InvalidFilterError, match="nope"):
        lake.writes.overwrite(table, new, row_filter=EqualTo("nope", 1))
    with pytest.raises(floe.InvalidFilterError, match="nope"):
        lake.reads.scan(table, row_filter=GreaterThanOrEqual("nope", 1))

    assert lake.tables.load(table).current_snapshot_id == before


def test_an_expression_beyond_the_size_limits_is_refused(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    wide: object = EqualTo("id", 0)
    for i in range(1, MAX_FILTER_PREDICATES + 1):
        wide = Or(wide, EqualTo("id", i))
    # Not(Not(x)) simplifies to x: each level is a Not over an Or, two levels
    # deep and one predicate more, so depth runs out before predicates do.
    deep: object = EqualTo("id", 0)
    for i in range((MAX_FILTER_PREDICATES + MAX_FILTER_NESTING) // 2 + 1):
        deep = Not(Or(deep, EqualTo("id", i)))

    with pytest.raises(floe.InvalidFilterError, match="predicates"):
        lake.reads.scan(table, row_filter=wide)
    with pytest.raises(floe.InvalidFilterError, match="levels deep"):
        lake.reads.scan(table, row_filter=deep)


def test_a_table_is_created_from_a_pyiceberg_schema(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "from_iceberg")
    schema = Schema(
        NestedField(7, "id", LongType(), required=True),
        NestedField(3, "name", StringType(), required=False),
        NestedField(9, "ts", TimestampType(), required=False),
        NestedField(1, "amount", DoubleType(), required=False),
    )

    info = lake.tables.create(ident, schema, ["day(ts)"])

    assert info.schema.names == ["id", "name", "ts", "amount"]
    assert [f.type for f in info.schema] == [
        pa.int64(),
        pa.string(),
        pa.timestamp("us"),
        pa.float64(),
    ]
    assert not info.schema.field("id").nullable
    assert info.schema.field("name").nullable
    lake.writes.append(ident, pa.table({"id": [1], "name": ["a"], "ts": [None], "amount": [1.5]}))
    assert lake.reads.scan(ident).num_rows == 1


def test_something_that_is_not_a_schema_is_an_invalid_schema_error(
    lake: floe.Floe, ns: tuple[str, ...]
) -> None:
    ident = floe.TableIdentifier(ns, "bad")

    with pytest.raises(floe.InvalidSchemaError, match="Iceberg Schema"):
        lake.tables.create(ident, {"id": "long"})  # type: ignore[arg-type]
    assert not lake.tables.exists(ident)


@pytest.mark.parametrize("lazy", [False, True], ids=["DataFrame", "LazyFrame"])
@pytest.mark.parametrize("mode", ["append", "overwrite", "upsert"])
def test_a_polars_frame_is_written_by_every_mode(
    lake: floe.Floe, table: floe.TableIdentifier, lazy: bool, mode: str
) -> None:
    frame = pl.DataFrame({"id": [4, 5], "region": ["xx", "yy"]})

    result = lake.writes.write(
        table, frame.lazy() if lazy else frame, mode=mode, join_columns=["id"]
    )

    expected = {"append": [1, 2, 3, 4, 4, 5], "overwrite": [4, 5], "upsert": [1, 2, 3, 4, 5]}
    assert _ids(lake, table) == expected[mode]
    assert result.snapshot_id == lake.tables.load(table).current_snapshot_id


def test_a_polars_frame_creates_its_missing_table(lake: floe.Floe, ns: tuple[str, ...]) -> None:
    ident = floe.TableIdentifier(ns, "from_polars")

    lake.writes.append(
        ident, pl.DataFrame({"id": [1, 2], "s": ["a", None]}), create_if_missing=floe.NewTable()
    )

    assert lake.reads.scan(ident).to_pylist() == [{"id": 1, "s": "a"}, {"id": 2, "s": None}]


def test_a_failing_lazy_query_is_a_write_error_and_changes_nothing(
    lake: floe.Floe, table: floe.TableIdentifier
) -> None:
    before = lake.tables.load(table).current_snapshot_id
    broken = pl.LazyFrame({"id": [1]}).select(pl.col("missing"))

    with pytest.raises(floe.WriteError, match="LazyFrame"):
        lake.writes.append(table, broken)

    assert lake.tables.load(table).current_snapshot_id == before


def test_an_appended_lazy_frame_streams_and_is_never_collected_whole(
    lake: floe.Floe, table: floe.TableIdentifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def collected(*_: object, **__: object) -> None:
        raise AssertionError("the LazyFrame was collected whole")

    monkeypatch.setattr(pl.LazyFrame, "collect", collected)
    frame = pl.concat([pl.LazyFrame({"id": [4, 5], "region": ["xx", "yy"]})] * 3)

    result = lake.writes.append(table, frame, chunk_bytes=64)

    assert _ids(lake, table) == [1, 2, 3, 4, 4, 4, 4, 5, 5, 5]
    assert result.rows_written == 6
    assert result.snapshot_id == lake.tables.load(table).current_snapshot_id
