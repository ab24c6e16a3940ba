"""Hidden partitioning: transforms, their text form, and their fit to a table schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from floe import InvalidPartitionSpecError, PartitionTransform
from floe.domain.partitioning import PartitionTransformType, validate_partition_spec
from floe.domain.schema import Column, ColumnType, SchemaDescription

T = PartitionTransformType
MAX_PARAM = 2**31 - 1

ORDERS = SchemaDescription(
    (
        Column("id", ColumnType.LONG, required=True),
        Column("qty", ColumnType.INT),
        Column("amount", ColumnType.DOUBLE),
        Column("ratio", ColumnType.FLOAT),
        Column("price", ColumnType.DECIMAL, detail="decimal128(10, 2)"),
        Column("region", ColumnType.STRING),
        Column("paid", ColumnType.BOOLEAN),
        Column("day", ColumnType.DATE),
        Column("ts", ColumnType.TIMESTAMP),
        Column("tstz", ColumnType.TIMESTAMPTZ),
        Column("at", ColumnType.TIME),
        Column("blob", ColumnType.BINARY),
        Column("tags", ColumnType.LIST, detail="list<element: string>"),
    )
)


def _rejected(build: Callable[[], object]) -> InvalidPartitionSpecError:
    """Run ``build`` and return the InvalidPartitionSpecError it must raise (exact class)."""
    with pytest.raises(InvalidPartitionSpecError) as caught:
        build()
    assert type(caught.value) is InvalidPartitionSpecError
    return caught.value


def _validate(*transforms: PartitionTransform | str) -> tuple[PartitionTransform, ...]:
    spec = [
        t if isinstance(t, PartitionTransform) else PartitionTransform.parse(t) for t in transforms
    ]
    return validate_partition_spec(spec, ORDERS, table_name="sales.orders")


# -- building transforms ----------------------------------------------------------------


def test_transform_type_given_as_text_becomes_the_enum() -> None:
    transform = PartitionTransform("id", "bucket", 16)

    assert transform.transform_type is T.BUCKET
    assert transform.param == 16
    assert transform == PartitionTransform("id", T.BUCKET, 16)


@pytest.mark.parametrize("kind", [T.BUCKET, T.TRUNCATE])
@pytest.mark.parametrize("param", [1, 16, MAX_PARAM])
def test_bucket_and_truncate_accept_a_positive_parameter(kind: T, param: int) -> None:
    assert PartitionTransform("id", kind, param).param == param


@pytest.mark.parametrize("kind", ["bucket", "truncate"])
@pytest.mark.parametrize(
    ("param", "shown"),
    [
        (0, "got 0"),
        (-3, "got -3"),
        (MAX_PARAM + 1, f"got {MAX_PARAM + 1}"),
        (True, "got True"),
        (False, "got False"),
        (None, "got None"),
        (16.0, "got 16.0"),
        ("16", "got '16'"),
    ],
)
def test_bucket_and_truncate_reject_a_bad_parameter(kind: str, param: object, shown: str) -> None:
    error = _rejected(lambda: PartitionTransform("id", kind, param))  # type: ignore[arg-type]

    assert f"{kind} on 'id'" in str(error)
    assert shown in str(error)
    assert error.subject == "id"


def test_bucket_without_a_parameter_is_rejected() -> None:
    error = _rejected(lambda: PartitionTransform("id", "bucket"))

    assert "needs a positive integer parameter, got None" in str(error)


@pytest.mark.parametrize("kind", ["identity", "year", "month", "day", "hour"])
def test_transforms_without_a_parameter_reject_one(kind: str) -> None:
    error = _rejected(lambda: PartitionTransform("ts", kind, 4))

    assert f"{kind} on 'ts' takes no parameter, got 4" in str(error)


@pytest.mark.parametrize("kind", ["weekly", "", "bucket16", "void", None, 3])
def test_unknown_transform_names_are_rejected(kind: object) -> None:
    error = _rejected(lambda: PartitionTransform("ts", kind))  # type: ignore[arg-type]

    assert f"unknown partition transform {kind!r}" in str(error)
    assert "identity, year, month, day, hour, bucket, truncate" in str(error)


@pytest.mark.parametrize("column", ["", None, 7])
def test_source_column_must_be_a_non_empty_string(column: object) -> None:
    error = _rejected(lambda: PartitionTransform(column, "identity"))  # type: ignore[arg-type]

    assert f"got {column!r}" in str(error)


# -- text form --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "kind", "param"),
    [
        ("day(ts)", "ts", T.DAY, None),
        ("year(ts)", "ts", T.YEAR, None),
        ("month(ts)", "ts", T.MONTH, None),
        ("hour(ts)", "ts", T.HOUR, None),
        ("bucket[16](id)", "id", T.BUCKET, 16),
        ("truncate[4](s)", "s", T.TRUNCATE, 4),
        ("identity(region)", "region", T.IDENTITY, None),
        ("region", "region", T.IDENTITY, None),
        ("  region ", "region", T.IDENTITY, None),
        ("DAY(ts)", "ts", T.DAY, None),
        (" bucket [ 16 ] ( id ) ", "id", T.BUCKET, 16),
        ("identity(my-col)", "my-col", T.IDENTITY, None),
    ],
)
def test_parse_reads_the_text_forms(text: str, column: str, kind: T, param: int | None) -> None:
    assert PartitionTransform.parse(text) == PartitionTransform(column, kind, param)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "day(",
        "day()",
        "(ts)",
        "bucket[x](id)",
        "bucket[16]",
        "day(ts) extra",
        "a b",
        "day((ts))",
        "my-col",
        "day(ts))",
    ],
)
def test_parse_rejects_garbage(text: str) -> None:
    error = _rejected(lambda: PartitionTransform.parse(text))

    assert f"cannot read partition transform {text!r}" in str(error)
    assert error.subject == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("bucket(id)", "bucket on 'id' needs a positive integer parameter, got None"),
        ("bucket[0](id)", "got 0"),
        ("truncate[-2](s)", "got -2"),
        (f"bucket[{MAX_PARAM + 1}](id)", f"got {MAX_PARAM + 1}"),
        ("day[3](ts)", "day on 'ts' takes no parameter, got 3"),
        ("weekly(ts)", "unknown partition transform 'weekly'"),
    ],
)
def test_parse_applies_the_transform_rules(text: str, fragment: str) -> None:
    error = _rejected(lambda: PartitionTransform.parse(text))

    assert fragment in str(error)


@pytest.mark.parametrize(
    "text", ["day(ts)", "hour(ts)", "bucket[16](id)", "truncate[4](s)", "region"]
)
def test_str_is_the_text_form(text: str) -> None:
    transform = PartitionTransform.parse(text)

    assert str(transform) == text
    assert PartitionTransform.parse(str(transform)) == transform


@pytest.mark.parametrize(
    ("text", "field_name"),
    [
        ("day(ts)", "ts_day"),
        ("year(ts)", "ts_year"),
        ("month(ts)", "ts_month"),
        ("hour(ts)", "ts_hour"),
        ("bucket[16](id)", "id_bucket_16"),
        ("truncate[4](s)", "s_trunc_4"),
        ("region", "region"),
    ],
)
def test_field_name_follows_the_iceberg_convention(text: str, field_name: str) -> None:
    assert PartitionTransform.parse(text).field_name == field_name


def test_an_explicit_field_name_wins() -> None:
    assert PartitionTransform("ts", "day", name="order_day").field_name == "order_day"


def test_takes_param_only_for_bucket_and_truncate() -> None:
    assert {t for t in T if t.takes_param} == {T.BUCKET, T.TRUNCATE}


# -- against the table schema -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "day(day)",
        "day(ts)",
        "day(tstz)",
        "year(day)",
        "month(tstz)",
        "hour(ts)",
        "hour(tstz)",
        "bucket[8](id)",
        "bucket[8](qty)",
        "bucket[8](region)",
        "bucket[4](day)",
        "bucket[4](tstz)",
        "bucket[4](price)",
        "bucket[4](at)",
        "bucket[4](blob)",
        "truncate[10](region)",
        "truncate[100](id)",
        "truncate[2](price)",
        "truncate[3](blob)",
        "identity(paid)",
        "identity(amount)",
        "region",
        "ratio",
    ],
)
def test_a_transform_fits_a_column_of_an_accepted_type(text: str) -> None:
    transform = PartitionTransform.parse(text)

    assert _validate(transform) == (transform,)


@pytest.mark.parametrize(
    ("text", "column", "shown_type"),
    [
        ("day(region)", "region", "string"),
        ("month(id)", "id", "long"),
        ("year(at)", "at", "time"),
        ("hour(day)", "day", "date"),
        ("bucket[16](amount)", "amount", "double"),
        ("bucket[16](ratio)", "ratio", "float"),
        ("bucket[4](paid)", "paid", "boolean"),
        ("truncate[4](amount)", "amount", "double"),
        ("truncate[4](ts)", "ts", "timestamp"),
        ("tags", "tags", "list<element: string>"),
    ],
)
def test_a_transform_rejects_a_column_of_the_wrong_type(
    text: str, column: str, shown_type: str
) -> None:
    transform = PartitionTransform.parse(text)

    error = _rejected(lambda: _validate(transform))

    assert f"partition {text} of table sales.orders" in str(error)
    assert f"does not apply to column {column!r} of type {shown_type}" in str(error)
    assert error.subject == column


def test_a_transform_on_an_unknown_column_is_rejected() -> None:
    error = _rejected(lambda: _validate("day(created_at)"))

    assert "column 'created_at' is not in the schema" in str(error)
    assert "sales.orders" in str(error)
    assert error.subject == "created_at"


@pytest.mark.parametrize(
    "spec",
    [
        ("day(ts)", "day(ts)"),
        ("region", "identity(region)"),
        ("bucket[16](id)", "bucket[16](id)"),
        (
            PartitionTransform("id", "bucket", 4, name="p"),
            PartitionTransform("region", "bucket", 4, name="p"),
        ),
    ],
)
def test_a_partition_field_given_twice_is_rejected(
    spec: tuple[PartitionTransform | str, PartitionTransform | str],
) -> None:
    error = _rejected(lambda: _validate(*spec))

    assert "of table sales.orders is given twice" in str(error)


def test_an_explicit_field_name_must_not_clash_with_a_column() -> None:
    error = _rejected(lambda: _validate(PartitionTransform("ts", "day", name="region")))

    assert "partition field name 'region'" in str(error)
    assert "clashes with a column" in str(error)


def test_identity_may_keep_its_source_column_name() -> None:
    transform = PartitionTransform("region", "identity", name="region")

    assert _validate(transform) == (transform,)


def test_a_spec_of_several_fields_keeps_its_order() -> None:
    spec = _validate("day(ts)", "bucket[16](id)", "region")

    assert [str(t) for t in spec] == ["day(ts)", "bucket[16](id)", "region"]
    assert [t.field_name for t in spec] == ["ts_day", "id_bucket_16", "region"]


def test_an_empty_spec_is_valid() -> None:
    assert _validate() == ()
