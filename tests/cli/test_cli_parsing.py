"""What the command line parses itself: ages and the schema file's type names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import pyarrow as pa
import pytest

import floe
from floe.adapters.cli._durations import parse_duration
from floe.adapters.cli._schema_file import arrow_type, read_definition, type_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2w", timedelta(days=14)),
        (" 3D ", timedelta(days=3)),
        ("0s", timedelta(0)),
    ],
)
def test_ages(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "5x", "1.5d", "-1d", "3 days"])
def test_malformed_ages_are_usage_errors(text: str) -> None:
    with pytest.raises(click.BadParameter, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "name",
    [
        "boolean",
        "int",
        "long",
        "float",
        "double",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "string",
        "binary",
        "decimal(38, 0)",
        "list<list<timestamptz>>",
    ],
)
def test_type_names_round_trip(name: str) -> None:
    assert type_name(arrow_type(name, "c")) == name


def test_type_names_map_to_the_arrow_types_floe_stores() -> None:
    assert arrow_type("timestamptz", "c") == pa.timestamp("us", tz="UTC")
    assert arrow_type("Decimal(12,2)", "c") == pa.decimal128(12, 2)
    with pytest.raises(floe.InvalidSchemaError, match="column 'c' has type 'struct<a:int>'"):
        arrow_type("struct<a:int>", "c")


def test_schema_file_mistakes_are_named(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("columns: [{name: id, type: long, nullable: false}]\n")
    with pytest.raises(
        floe.InvalidSchemaError, match=r"column 'id' has unknown keys \['nullable'\]"
    ):
        read_definition(path)
    path.write_text("columns: []\n")
    with pytest.raises(floe.InvalidSchemaError, match="non-empty list 'columns'"):
        read_definition(path)
    path.write_text("columns: [{name: id, type: long}]\npartition_spec: day(ts)\n")
    with pytest.raises(floe.InvalidPartitionSpecError, match="list of transforms"):
        read_definition(path)
    path.write_text("colums: [{name: id, type: long}]\n")
    with pytest.raises(floe.InvalidSchemaError, match=r"unknown keys \['colums'\]"):
        read_definition(path)
    path.write_text("- just\n- a list\n")
    with pytest.raises(floe.InvalidConfigError, match="must hold a mapping, found list"):
        read_definition(path)
