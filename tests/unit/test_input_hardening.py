"""Inputs that once slipped past validation: each must now raise its typed floe error."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

import floe
from floe.adapters.dagster import table_for_asset_key
from floe.domain.config import load_catalog_config, unstructure_config
from floe.domain.partitioning import validate_partition_spec
from floe.domain.schema import Column, ColumnType, SchemaDescription


@pytest.mark.parametrize("namespace", [5, None, 3.5, {"a": 1}])
def test_non_sequence_namespace_is_an_identifier_error(namespace: Any) -> None:
    with pytest.raises(floe.InvalidIdentifierError):
        floe.TableIdentifier(namespace, "t")


def test_string_parts_are_not_split_into_characters() -> None:
    with pytest.raises(floe.InvalidIdentifierError):
        floe.TableIdentifier.from_parts("ab")  # type: ignore[arg-type]
    with pytest.raises(floe.InvalidIdentifierError):
        table_for_asset_key("orders", default_namespace="d")  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", ["", 123])
def test_empty_or_non_text_secrets_are_refused(secret: Any) -> None:
    with pytest.raises(floe.InvalidConfigError):
        floe.PolarisCatalogConfig(
            uri="https://x", warehouse="w", client_id="c", client_secret=secret
        )
    with pytest.raises(floe.InvalidConfigError):
        floe.PolarisCatalogConfig(uri="https://x", warehouse="w", token=secret)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"retry": {"max_attempts": True}}, "max_attempts"),
        ({"retry": {"max_attempts": 2.7}}, "max_attempts"),
        ({"scope": None}, "scope"),
        ({"token_refresh_enabled": "maybe"}, "token_refresh_enabled"),
    ],
)
def test_mapping_values_are_not_coerced(override: dict[str, Any], field: str) -> None:
    data = {"type": "polaris", "uri": "https://x", "warehouse": "w", "token": "tok-123", **override}
    with pytest.raises(floe.InvalidConfigError) as info:
        load_catalog_config(data)
    assert field in str(info.value)
    assert "tok-123" not in str(info.value)


def test_boolean_text_in_a_mapping_is_read_as_a_boolean() -> None:
    data = {
        "type": "polaris",
        "uri": "https://x",
        "warehouse": "w",
        "token": "t",
        "token_refresh_enabled": "false",
    }
    config = load_catalog_config(data)
    assert isinstance(config, floe.PolarisCatalogConfig)
    assert config.token_refresh_enabled is False


def test_secret_properties_are_masked_in_repr_and_unstructured_form() -> None:
    config = floe.PolarisCatalogConfig(
        uri="https://x",
        warehouse="w",
        token="t",
        properties={"s3.secret-access-key": "AKIA-SECRET", "s3.region": "eu"},
    )
    assert "AKIA-SECRET" not in repr(config)
    assert "AKIA-SECRET" not in str(unstructure_config(config))
    assert unstructure_config(config)["properties"]["s3.region"] == "eu"
    assert config.properties["s3.secret-access-key"] == "AKIA-SECRET"


@pytest.mark.parametrize("spec", [[5], [None], ["bucket[" + "1" * 5000 + "](id)"]])
def test_malformed_partition_spec_is_a_partition_error(spec: list[Any]) -> None:
    lake = floe.Floe.from_config({"type": "memory"})
    lake.namespaces.create("ns")
    with pytest.raises(floe.InvalidPartitionSpecError):
        lake.tables.create("ns.t", pa.schema([("id", pa.int64())]), spec)
    assert not lake.tables.exists("ns.t")


def test_default_partition_field_name_clashing_with_a_column_is_refused() -> None:
    schema = SchemaDescription(
        (Column("ts", ColumnType.TIMESTAMP), Column("ts_day", ColumnType.DATE))
    )
    with pytest.raises(floe.InvalidPartitionSpecError) as info:
        validate_partition_spec([floe.PartitionTransform.parse("day(ts)")], schema, table_name="t")
    assert "ts_day" in str(info.value)
    renamed = floe.PartitionTransform("ts", "day", name="ts_partition")
    assert validate_partition_spec([renamed], schema, table_name="t") == (renamed,)


@pytest.mark.parametrize("second", ["bucket[8](id)", "truncate[4](id)", "id"])
def test_a_second_transform_on_one_column_is_redundant(second: str) -> None:
    schema = SchemaDescription((Column("id", ColumnType.LONG),))
    spec = [floe.PartitionTransform.parse("bucket[16](id)"), floe.PartitionTransform.parse(second)]
    with pytest.raises(floe.InvalidPartitionSpecError) as info:
        validate_partition_spec(spec, schema, table_name="t")
    assert "redundant" in str(info.value)


def test_partition_field_name_must_be_text() -> None:
    with pytest.raises(floe.InvalidPartitionSpecError):
        floe.PartitionTransform("a", "day", name=5)  # type: ignore[arg-type]


def test_two_time_transforms_on_one_column_are_redundant() -> None:
    schema = SchemaDescription((Column("ts", ColumnType.TIMESTAMP),))
    spec = [floe.PartitionTransform.parse("year(ts)"), floe.PartitionTransform.parse("hour(ts)")]
    with pytest.raises(floe.InvalidPartitionSpecError) as info:
        validate_partition_spec(spec, schema, table_name="t")
    assert "redundant" in str(info.value)


def test_unknown_io_manager_write_mode_is_a_config_error() -> None:
    with pytest.raises(floe.InvalidConfigError) as info:
        floe.IcebergIOManagerConfig(write_mode="merge")  # type: ignore[arg-type]
    assert "merge" in str(info.value)
    assert floe.IcebergIOManagerConfig(write_mode="upsert").write_mode is floe.WriteMode.UPSERT  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", [2**70, -(2**64)])
def test_an_asset_output_with_an_integer_arrow_cannot_hold_is_a_write_error(cell: int) -> None:
    import pandas as pd

    from floe.adapters.dagster._frames import to_arrow

    frame = pd.DataFrame({"n": pd.Series([1, cell], dtype=object)})
    with pytest.raises(floe.WriteError) as info:
        to_arrow(frame, table="ns.t")
    assert type(info.value) is floe.WriteError
    assert "ns.t" in str(info.value)
    assert "OverflowError" in str(info.value)


def test_a_dagster_asset_key_maps_to_its_table() -> None:
    import dagster as dg

    from floe.adapters.dagster._targets import table_for

    key = dg.AssetKey(["sales", "orders"])
    assert table_for_asset_key(key, "d") == table_for(key.path, {}, "d")
    with pytest.raises(floe.InvalidIdentifierError) as info:
        table_for_asset_key(dg.AssetKey("orders").to_user_string(), "d")  # type: ignore[arg-type]
    assert "str" in str(info.value)
