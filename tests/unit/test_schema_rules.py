"""Schema rules: how incoming data fits a table, may evolve it, or is refused."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from floe import SchemaEvolutionError
from floe.application.conform import conform
from floe.domain.schema import (
    Column,
    ColumnType,
    SchemaChange,
    SchemaDescription,
    plan_schema_change,
)

C = ColumnType
TABLE = "sales.orders"

ORDERS = SchemaDescription(
    (
        Column("id", C.LONG, required=True),
        Column("qty", C.INT),
        Column("ratio", C.FLOAT),
        Column("region", C.STRING),
        Column("ts", C.TIMESTAMP),
        Column("price", C.DECIMAL, detail="decimal128(10, 2)"),
    )
)


def _plan(*incoming: Column, allow_evolution: bool = True) -> SchemaChange:
    return plan_schema_change(
        ORDERS, SchemaDescription(incoming), allow_evolution=allow_evolution, table_name=TABLE
    )


def _refused(*incoming: Column, allow_evolution: bool = True) -> SchemaEvolutionError:
    with pytest.raises(SchemaEvolutionError) as caught:
        _plan(*incoming, allow_evolution=allow_evolution)
    assert type(caught.value) is SchemaEvolutionError
    assert caught.value.subject == TABLE
    return caught.value


# -- plan_schema_change -----------------------------------------------------------------


@pytest.mark.parametrize("allow_evolution", [True, False])
def test_identical_schemas_need_no_change(allow_evolution: bool) -> None:
    change = _plan(*ORDERS.columns, allow_evolution=allow_evolution)

    assert change == SchemaChange()
    assert change.is_empty


def test_missing_optional_columns_need_no_change() -> None:
    change = _plan(Column("id", C.LONG), Column("region", C.STRING), allow_evolution=False)

    assert change.is_empty


def test_new_columns_are_added_as_optional_in_arrival_order() -> None:
    change = _plan(
        Column("id", C.LONG, required=True),
        Column("note", C.STRING, required=True),
        Column("score", C.DOUBLE),
    )

    assert change.added == (Column("note", C.STRING), Column("score", C.DOUBLE))
    assert change.widened == ()
    assert not change.is_empty


def test_new_columns_are_refused_when_evolution_is_off() -> None:
    error = _refused(Column("id", C.LONG), Column("note", C.STRING), allow_evolution=False)

    assert f"data does not fit table {TABLE} without a schema change" in str(error)
    assert "add note string" in str(error)
    assert "schema evolution is off" in str(error)


@pytest.mark.parametrize(
    ("column", "old", "new"), [("qty", C.INT, C.LONG), ("ratio", C.FLOAT, C.DOUBLE)]
)
def test_safe_widening_is_planned_when_evolution_is_on(
    column: str, old: ColumnType, new: ColumnType
) -> None:
    change = _plan(Column("id", C.LONG), Column(column, new))

    assert change.widened == ((column, old, new),)
    assert change.added == ()


@pytest.mark.parametrize(
    ("column", "new", "text"),
    [("qty", C.LONG, "widen qty int->long"), ("ratio", C.DOUBLE, "widen ratio float->double")],
)
def test_safe_widening_is_refused_when_evolution_is_off(
    column: str, new: ColumnType, text: str
) -> None:
    error = _refused(Column("id", C.LONG), Column(column, new), allow_evolution=False)

    assert text in str(error)


@pytest.mark.parametrize("allow_evolution", [True, False])
def test_narrower_data_goes_into_a_wider_column_unchanged(allow_evolution: bool) -> None:
    table = SchemaDescription((Column("n", C.LONG), Column("x", C.DOUBLE)))
    incoming = SchemaDescription((Column("n", C.INT), Column("x", C.FLOAT)))

    change = plan_schema_change(table, incoming, allow_evolution=allow_evolution, table_name=TABLE)

    assert change.is_empty


@pytest.mark.parametrize(
    ("incoming", "fragment"),
    [
        (Column("qty", C.STRING), "column 'qty' is int in the table but string in the data"),
        (Column("region", C.LONG), "column 'region' is string in the table but long in the data"),
        (Column("id", C.DOUBLE), "column 'id' is long in the table but double in the data"),
        (Column("ratio", C.LONG), "column 'ratio' is float in the table but long in the data"),
        (Column("ts", C.TIMESTAMPTZ), "column 'ts' is timestamp in the table but timestamptz"),
        (
            Column("price", C.DECIMAL, detail="decimal128(12, 2)"),
            "column 'price' is decimal128(10, 2) in the table but decimal128(12, 2) in the data",
        ),
    ],
)
def test_incompatible_types_are_refused_even_with_evolution(
    incoming: Column, fragment: str
) -> None:
    columns = [incoming] if incoming.name == "id" else [Column("id", C.LONG), incoming]

    error = _refused(*columns, allow_evolution=True)

    assert f"data does not fit table {TABLE}" in str(error)
    assert fragment in str(error)


@pytest.mark.parametrize("allow_evolution", [True, False])
def test_a_missing_required_column_is_refused(allow_evolution: bool) -> None:
    error = _refused(Column("region", C.STRING), allow_evolution=allow_evolution)

    assert "required column 'id' is missing from the data" in str(error)


def test_every_problem_is_reported_at_once() -> None:
    error = _refused(Column("qty", C.STRING))

    assert "column 'qty' is int in the table but string in the data" in str(error)
    assert "required column 'id' is missing" in str(error)


def test_a_duplicate_incoming_column_is_refused() -> None:
    error = _refused(Column("id", C.LONG), Column("region", C.STRING), Column("region", C.STRING))

    assert f"data for table {TABLE} has column 'region' twice" in str(error)


def test_a_new_column_of_an_unsupported_type_is_refused() -> None:
    error = _refused(Column("id", C.LONG), Column("weird", C.UNSUPPORTED, detail="month_interval"))

    assert "'weird'" in str(error)


# -- conform on Arrow tables ------------------------------------------------------------

ORDERS_ARROW = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("region", pa.string()),
        pa.field("ts", pa.timestamp("us")),
    ]
)


def test_conform_orders_columns_as_the_table_does() -> None:
    data = pa.table(
        {"region": ["eu", "us"], "ts": pa.array([0, 1], pa.timestamp("us")), "id": [2, 1]}
    )

    fitted = conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert fitted.data.schema == ORDERS_ARROW
    assert fitted.data.column_names == ["id", "region", "ts"]
    assert fitted.data.to_pylist() == [
        {"id": 2, "region": "eu", "ts": dt.datetime(1970, 1, 1)},
        {"id": 1, "region": "us", "ts": dt.datetime(1970, 1, 1, 0, 0, 0, 1)},
    ]
    assert fitted.evolved_schema is None
    assert fitted.change_text == ""


def test_conform_fills_missing_optional_columns_with_nulls() -> None:
    data = pa.table({"id": [1, 2, 3]})

    fitted = conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert fitted.data.schema == ORDERS_ARROW
    assert fitted.data.column("region").to_pylist() == [None, None, None]
    assert fitted.data.column("ts").to_pylist() == [None, None, None]
    assert fitted.data.column("ts").type == pa.timestamp("us")


def test_conform_casts_nanosecond_timestamps_to_microseconds() -> None:
    nanos = pa.array([1_000_000_000, 2_000, None], pa.timestamp("ns"))
    data = pa.table({"id": [1, 2, 3], "ts": nanos})

    fitted = conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert fitted.data.column("ts").type == pa.timestamp("us")
    assert fitted.data.column("ts").to_pylist() == [
        dt.datetime(1970, 1, 1, 0, 0, 1),
        dt.datetime(1970, 1, 1, 0, 0, 0, 2),
        None,
    ]


def test_conform_rejects_a_cast_that_loses_data() -> None:
    data = pa.table({"id": [1], "ts": pa.array([1_001], pa.timestamp("ns"))})

    with pytest.raises(SchemaEvolutionError) as caught:
        conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert f"column 'ts' of table {TABLE}: cannot convert" in str(caught.value)
    assert "without loss" in str(caught.value)


def test_conform_rejects_an_unsigned_value_beyond_long() -> None:
    data = pa.table({"id": pa.array([1, 2**64 - 1], pa.uint64())})

    with pytest.raises(SchemaEvolutionError) as caught:
        conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert "column 'id'" in str(caught.value)


def test_conform_rejects_nulls_in_a_required_column() -> None:
    data = pa.table({"id": pa.array([1, None, 3], pa.int64()), "region": ["eu", "us", "eu"]})

    with pytest.raises(SchemaEvolutionError) as caught:
        conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert f"column 'id' of table {TABLE} is required" in str(caught.value)
    assert "1 null(s)" in str(caught.value)


def test_conform_writes_narrower_data_into_the_wider_column() -> None:
    data = pa.table(
        {"id": pa.array([7, 8], pa.int32()), "region": pa.array(["a", "b"], pa.large_string())}
    )

    fitted = conform(data, ORDERS_ARROW, allow_evolution=False, table_name=TABLE)

    assert fitted.data.schema == ORDERS_ARROW
    assert fitted.data.column("id").to_pylist() == [7, 8]
    assert fitted.data.column("region").to_pylist() == ["a", "b"]
    assert fitted.evolved_schema is None


def test_conform_returns_the_evolved_schema() -> None:
    table_schema = pa.schema(
        [pa.field("n", pa.int32()), pa.field("x", pa.float32(), nullable=False)]
    )
    data = pa.table(
        {
            "x": pa.array([1.5, 2.25], pa.float64()),
            "n": pa.array([2**40, -1], pa.int64()),
            "note": ["first", None],
        }
    )

    fitted = conform(data, table_schema, allow_evolution=True, table_name=TABLE)

    evolved = pa.schema(
        [
            pa.field("n", pa.int64()),
            pa.field("x", pa.float64(), nullable=False),
            pa.field("note", pa.string()),
        ]
    )
    assert fitted.evolved_schema == evolved
    assert fitted.data.schema == evolved
    assert fitted.data.to_pylist() == [
        {"n": 2**40, "x": 1.5, "note": "first"},
        {"n": -1, "x": 2.25, "note": None},
    ]
    assert fitted.change.added == (Column("note", C.STRING),)
    assert set(fitted.change.widened) == {("n", C.INT, C.LONG), ("x", C.FLOAT, C.DOUBLE)}
    assert fitted.change_text.startswith("add note string, widen ")
    assert "widen n int->long" in fitted.change_text
    assert "widen x float->double" in fitted.change_text


def test_conform_refuses_to_evolve_when_evolution_is_off() -> None:
    table_schema = pa.schema([pa.field("n", pa.int32())])
    data = pa.table({"n": pa.array([1], pa.int64())})

    with pytest.raises(SchemaEvolutionError) as caught:
        conform(data, table_schema, allow_evolution=False, table_name=TABLE)

    assert "widen n int->long" in str(caught.value)
